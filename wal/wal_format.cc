#include "wal/wal_format.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "common/crc32c.h"

namespace strata::wal_format {
namespace {

// Little-endian regardless of host (x86 and ARM are; the memcpy compiles to a
// plain load/store there).
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "WAL encoding assumes little-endian");

template <typename T>
void Put(char* dst, T v) {
  std::memcpy(dst, &v, sizeof(T));
}
template <typename T>
T Get(const char* src) {
  T v;
  std::memcpy(&v, src, sizeof(T));
  return v;
}

constexpr char kSegmentMagic[4] = {'S', 'W', 'A', 'L'};
constexpr char kCheckpointMagic[4] = {'S', 'W', 'C', 'K'};

}  // namespace

void EncodeSegmentHeader(char* dst) {
  std::memcpy(dst, kSegmentMagic, 4);
  Put<uint32_t>(dst + 4, kVersion);
}

std::string CheckSegmentHeader(std::string_view data) {
  if (data.size() < kSegmentHeaderSize) return "short segment header";
  if (std::memcmp(data.data(), kSegmentMagic, 4) != 0) return "bad segment magic";
  uint32_t version = Get<uint32_t>(data.data() + 4);
  if (version != kVersion) return "unknown segment version " + std::to_string(version);
  return "";
}

void EncodeRecordNoCrc(char* dst, uint64_t seq, const WalRecord& r) {
  size_t body = kRecordFixedBody + r.key.size() + r.value.size();
  Put<uint32_t>(dst, static_cast<uint32_t>(body));
  Put<uint32_t>(dst + 4, 0);
  Put<uint64_t>(dst + 8, seq);
  dst[16] = static_cast<char>(r.op);
  Put<int64_t>(dst + 17, r.expire_at_ms);
  Put<uint32_t>(dst + 25, static_cast<uint32_t>(r.key.size()));
  Put<uint32_t>(dst + 29, static_cast<uint32_t>(r.value.size()));
  if (!r.key.empty()) std::memcpy(dst + kRecordHeaderSize, r.key.data(), r.key.size());
  if (!r.value.empty()) {
    std::memcpy(dst + kRecordHeaderSize + r.key.size(), r.value.data(), r.value.size());
  }
}

void FillCrc(char* record) {
  uint32_t body = Get<uint32_t>(record);
  Put<uint32_t>(record + 4, Crc32cMask(Crc32c(record + kRecordPrefixSize, body)));
}

size_t RecordSizeAt(const char* p) { return kRecordPrefixSize + Get<uint32_t>(p); }
uint64_t RecordSeqAt(const char* p) { return Get<uint64_t>(p + 8); }

bool AllZero(std::string_view data) {
  // Word at a time; the tail byte-wise.
  size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    if (Get<uint64_t>(data.data() + i) != 0) return false;
  }
  for (; i < data.size(); ++i) {
    if (data[i] != 0) return false;
  }
  return true;
}

DecodeResult DecodeRecord(std::string_view data, size_t* pos, WalRecord* out, std::string* why) {
  size_t left = data.size() - *pos;
  if (left == 0) return DecodeResult::kEnd;
  const char* p = data.data() + *pos;
  // A zero length cannot start a record: the rest is either never-written
  // preallocated space (all zeros) or damage.
  if (p[0] == 0 && AllZero(data.substr(*pos))) {
    return DecodeResult::kEnd;
  }
  if (left < kRecordPrefixSize) {
    *why = "short record prefix (" + std::to_string(left) + " bytes)";
    return DecodeResult::kCorrupt;
  }
  uint64_t body = Get<uint32_t>(p);
  if (body < kRecordFixedBody || body > kMaxRecordBody) {
    *why = "bad record length " + std::to_string(body);
    return DecodeResult::kCorrupt;
  }
  if (body > left - kRecordPrefixSize) {
    *why = "short record (length " + std::to_string(body) + ", " +
           std::to_string(left - kRecordPrefixSize) + " bytes left)";
    return DecodeResult::kCorrupt;
  }
  uint32_t stored = Crc32cUnmask(Get<uint32_t>(p + 4));
  if (Crc32c(p + kRecordPrefixSize, body) != stored) {
    *why = "crc mismatch";
    return DecodeResult::kCorrupt;
  }
  uint8_t op = static_cast<uint8_t>(p[16]);
  uint64_t key_len = Get<uint32_t>(p + 25);
  uint64_t value_len = Get<uint32_t>(p + 29);
  if (kRecordFixedBody + key_len + value_len != body) {
    *why = "record lengths disagree";
    return DecodeResult::kCorrupt;
  }
  if (op < static_cast<uint8_t>(WalOp::kSet) || op > static_cast<uint8_t>(WalOp::kExpire)) {
    *why = "unknown op " + std::to_string(op);
    return DecodeResult::kCorrupt;
  }
  out->seq = Get<uint64_t>(p + 8);
  out->op = static_cast<WalOp>(op);
  out->expire_at_ms = Get<int64_t>(p + 17);
  out->key = std::string_view(p + kRecordHeaderSize, key_len);
  out->value = std::string_view(p + kRecordHeaderSize + key_len, value_len);
  *pos += kRecordPrefixSize + body;
  return DecodeResult::kOk;
}

std::string SegmentName(uint64_t first_seq) {
  char buf[64];
  snprintf(buf, sizeof(buf), "wal-%020" PRIu64 ".log", first_seq);
  return buf;
}

bool ParseSegmentName(std::string_view name, uint64_t* first_seq) {
  if (name.size() != 28 || name.substr(0, 4) != "wal-" || name.substr(24) != ".log") return false;
  uint64_t v = 0;
  for (char c : name.substr(4, 20)) {
    if (c < '0' || c > '9') return false;
    if (__builtin_mul_overflow(v, 10u, &v)) return false;
    if (__builtin_add_overflow(v, static_cast<uint64_t>(c - '0'), &v)) return false;
  }
  *first_seq = v;
  return true;
}

std::string EncodeCheckpoint(uint64_t seq) {
  std::string out(kCheckpointSize, '\0');
  std::memcpy(out.data(), kCheckpointMagic, 4);
  Put<uint64_t>(out.data() + 4, seq);
  Put<uint32_t>(out.data() + 12, Crc32cMask(Crc32c(out.data(), 12)));
  return out;
}

bool DecodeCheckpoint(std::string_view data, uint64_t* seq) {
  if (data.size() != kCheckpointSize) return false;
  if (std::memcmp(data.data(), kCheckpointMagic, 4) != 0) return false;
  if (Crc32cUnmask(Get<uint32_t>(data.data() + 12)) != Crc32c(data.data(), 12)) return false;
  *seq = Get<uint64_t>(data.data() + 4);
  return true;
}

}  // namespace strata::wal_format
