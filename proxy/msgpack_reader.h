// Reading MessagePack from untrusted bytes without trusting its headers.
//
// Two steps. ScanObject() walks one object's structure over the bytes that
// have arrived so far and says whether it is complete, how long it is, and
// otherwise how many bytes must be buffered before scanning again is worth it.
// It never allocates and never believes a length it has not seen the bytes
// for: a bin header claiming 4 GiB on a 6-byte message is "incomplete" (or
// "too large" once the claim passes max_message_bytes), not an allocation.
// Nesting is bounded (PROTOCOL.md: deeper than 8 levels is an error; levels
// count containers, so a scalar inside 8 arrays is fine and a 9th array is
// not), so the walk uses a fixed stack.
//
// Then MsgpackCursor reads typed items out of an object that ScanObject has
// already validated, returning views into the buffer (zero copy).
//
// Why not msgpack-c's unpacker: it allocates `n * sizeof(msgpack_object)`
// when it reads an array or map header, i.e. what the header merely claims,
// and it has no depth limit below its compile-time stack. msgpack-c is used
// for encoding responses (rpc_writer.h), where the input is ours.
//
// Thread affinity: none (pure functions and a value type).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strata {

enum class ScanStatus : uint8_t {
  kComplete,    // *length is the object's encoded size
  kIncomplete,  // *length is the total buffered size needed before rescanning
  kMalformed,   // bytes that are not MessagePack (e.g. 0xc1)
  kTooLarge,    // the object is provably longer than max_bytes
  kTooDeep,     // nesting deeper than max_depth
};

inline constexpr int kMaxNesting = 8;

// Scans one object from its first byte.
ScanStatus ScanObject(const char* data, size_t len, uint64_t max_bytes, size_t* length,
                      int max_depth = kMaxNesting);

// The same scan, resumable: when an object is incomplete, the next Scan()
// continues where this one stopped instead of starting over. REQUIRES: each
// call passes the same object start with the same or more bytes after it,
// until a call returns anything but kIncomplete (the scanner then resets).
class ObjectScanner {
 public:
  ScanStatus Scan(const char* data, size_t len, uint64_t max_bytes, size_t* length,
                  int max_depth = kMaxNesting);
  void Reset() {
    pos_ = 0;
    depth_ = 0;
    remaining_[0] = 1;
  }

 private:
  ScanStatus Walk(const char* data, size_t len, uint64_t max_bytes, size_t* length,
                  int max_depth);
  uint64_t pos_ = 0;
  int depth_ = 0;
  uint64_t remaining_[kMaxNesting + 1] = {1};
};

enum class MsgType : uint8_t { kNil, kBool, kInt, kFloat, kStr, kBin, kArray, kMap, kExt, kEnd };

// Reads items of an object that ScanObject reported complete. Every Read*
// returns false (and consumes nothing) if the next item has another type.
class MsgpackCursor {
 public:
  MsgpackCursor() = default;
  MsgpackCursor(const char* begin, const char* end) : p_(begin), end_(end) {}

  MsgType PeekType() const;
  bool ReadNil();
  bool ReadBool(bool* v);
  // Any integer encoding whose value fits.
  bool ReadUint(uint64_t* v);
  bool ReadInt(int64_t* v);
  // A str or a bin (the protocol treats both as bytes).
  bool ReadBytes(std::string_view* v);
  bool ReadStr(std::string_view* v);
  bool ReadArrayHeader(uint32_t* n);
  bool ReadMapHeader(uint32_t* n);
  // Skips one whole item (with its children).
  bool Skip();

  const char* position() const { return p_; }
  bool at_end() const { return p_ >= end_; }

 private:
  const char* p_ = nullptr;
  const char* end_ = nullptr;
};

}  // namespace strata
