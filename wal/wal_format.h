// The bytes of the WAL (docs/wal_format.md is the prose version): segment
// names and headers, records, and the CHECKPOINT file. Pure functions over
// buffers; no I/O, no threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "wal/wal.h"

namespace strata::wal_format {

// Segment header: "SWAL" then u32 version, little-endian.
inline constexpr size_t kSegmentHeaderSize = 8;
inline constexpr uint32_t kVersion = 1;
void EncodeSegmentHeader(char* dst);
// Empty string if `data` starts with a valid header, else why not.
// (All-zero data, an unwritten preallocated segment, is not checked here:
// see AllZero.)
std::string CheckSegmentHeader(std::string_view data);
bool AllZero(std::string_view data);

// Record: u32 length | u32 masked crc32c | u64 seq | u8 op | i64 expire_at_ms
//         | u32 key_len | u32 value_len | key | value
// `length` counts the bytes after the crc field; the crc covers exactly them.
inline constexpr size_t kRecordPrefixSize = 8;   // length + crc
inline constexpr size_t kRecordFixedBody = 25;   // seq + op + expiry + two lengths
inline constexpr size_t kRecordHeaderSize = kRecordPrefixSize + kRecordFixedBody;
// Largest body a record may claim; anything bigger is corruption.
inline constexpr uint64_t kMaxRecordBody = 1ull << 31;

inline size_t EncodedSize(size_t key_len, size_t value_len) {
  return kRecordHeaderSize + key_len + value_len;
}
// Writes the record at dst (EncodedSize bytes) with a zero crc field;
// FillCrc computes it. Split so the appender's critical section is a memcpy
// and the writer thread pays for the checksum.
void EncodeRecordNoCrc(char* dst, uint64_t seq, const WalRecord& record);
void FillCrc(char* record);
// Size of the encoded record at `p` (reads its length field).
size_t RecordSizeAt(const char* p);
uint64_t RecordSeqAt(const char* p);

enum class DecodeResult { kOk, kEnd, kCorrupt };
// Decodes the record at data[*pos]. kOk: *out views into data, *pos advances.
// kEnd: *pos == data.size(), or every byte from *pos on is zero (the
// unwritten rest of a preallocated segment; *pos stays). kCorrupt: *why says
// what (torn or damaged).
DecodeResult DecodeRecord(std::string_view data, size_t* pos, WalRecord* out, std::string* why);

// Segment file names: wal-<first seq, 20 digits>.log, so names sort by seq.
std::string SegmentName(uint64_t first_seq);
bool ParseSegmentName(std::string_view name, uint64_t* first_seq);

// The preallocated next segment (wal.h), renamed to a segment name when used.
inline constexpr char kSpareName[] = "spare-segment.tmp";

// CHECKPOINT: "SWCK" | u64 seq | u32 masked crc32c of the first 12 bytes.
inline constexpr char kCheckpointName[] = "CHECKPOINT";
inline constexpr size_t kCheckpointSize = 16;
std::string EncodeCheckpoint(uint64_t seq);
bool DecodeCheckpoint(std::string_view data, uint64_t* seq);

}  // namespace strata::wal_format
