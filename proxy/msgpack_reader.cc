#include "proxy/msgpack_reader.h"

#include <cstring>

namespace strata {
namespace {

inline uint64_t LoadBE(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

// What one header byte says about the item it starts.
struct Head {
  uint8_t header_bytes;   // bytes of the header itself (type byte included)
  uint8_t length_bytes;   // of those, how many hold a big-endian length (0 = fixed)
  uint8_t fixed_payload;  // payload size when length_bytes == 0
  uint8_t extra;          // bytes between the length and the payload (ext type)
  uint8_t children;       // 0 none, 1 array (n items), 2 map (2n items)
  bool valid;
};

constexpr Head DescribeByte(uint8_t b) {
  // {header_bytes, length_bytes, fixed_payload, extra, children, valid}
  if (b <= 0x7f || b >= 0xe0) return {1, 0, 0, 0, 0, true};  // fixint
  if (b <= 0x8f) return {1, 0, 0, 0, 2, true};                // fixmap
  if (b <= 0x9f) return {1, 0, 0, 0, 1, true};                // fixarray
  if (b <= 0xbf) return {1, 0, uint8_t(b & 0x1f), 0, 0, true};  // fixstr
  switch (b) {
    case 0xc0: case 0xc2: case 0xc3: return {1, 0, 0, 0, 0, true};
    case 0xc4: return {2, 1, 0, 0, 0, true};
    case 0xc5: return {3, 2, 0, 0, 0, true};
    case 0xc6: return {5, 4, 0, 0, 0, true};
    case 0xc7: return {3, 1, 0, 0, 0, true};  // header holds the ext type byte
    case 0xc8: return {4, 2, 0, 0, 0, true};
    case 0xc9: return {6, 4, 0, 0, 0, true};
    case 0xca: return {1, 0, 4, 0, 0, true};
    case 0xcb: return {1, 0, 8, 0, 0, true};
    case 0xcc: case 0xd0: return {1, 0, 1, 0, 0, true};
    case 0xcd: case 0xd1: return {1, 0, 2, 0, 0, true};
    case 0xce: case 0xd2: return {1, 0, 4, 0, 0, true};
    case 0xcf: case 0xd3: return {1, 0, 8, 0, 0, true};
    case 0xd4: return {2, 0, 1, 0, 0, true};
    case 0xd5: return {2, 0, 2, 0, 0, true};
    case 0xd6: return {2, 0, 4, 0, 0, true};
    case 0xd7: return {2, 0, 8, 0, 0, true};
    case 0xd8: return {2, 0, 16, 0, 0, true};
    case 0xd9: return {2, 1, 0, 0, 0, true};
    case 0xda: return {3, 2, 0, 0, 0, true};
    case 0xdb: return {5, 4, 0, 0, 0, true};
    case 0xdc: return {3, 2, 0, 0, 1, true};
    case 0xdd: return {5, 4, 0, 0, 1, true};
    case 0xde: return {3, 2, 0, 0, 2, true};
    case 0xdf: return {5, 4, 0, 0, 2, true};
    default: return {0, 0, 0, 0, 0, false};  // 0xc1: never used
  }
}

// One table lookup per item instead of a chain of branches: the scan runs
// over every request, so this is on the hot path.
struct HeadTable {
  Head heads[256];
  constexpr HeadTable() : heads() {
    for (int b = 0; b < 256; ++b) heads[b] = DescribeByte(uint8_t(b));
  }
};
constexpr HeadTable kHeads;

}  // namespace

ScanStatus ObjectScanner::Scan(const char* data, size_t len, uint64_t max_bytes,
                               size_t* length, int max_depth) {
  ScanStatus st = Walk(data, len, max_bytes, length, max_depth);
  if (st != ScanStatus::kIncomplete) Reset();  // the next call starts a new object
  return st;
}

ScanStatus ObjectScanner::Walk(const char* data, size_t len, uint64_t max_bytes,
                               size_t* length, int max_depth) {
  const auto* p = reinterpret_cast<const uint8_t*>(data);
  if (max_depth > kMaxNesting) max_depth = kMaxNesting;
  // pos_, depth_ and remaining_ persist between calls: an incomplete object
  // is not rescanned from its start when more bytes arrive (a message of
  // many small items arriving in small reads would otherwise cost O(n^2)).
  for (;;) {
    if (remaining_[depth_] == 0) {
      if (depth_ == 0) {
        *length = pos_;
        return ScanStatus::kComplete;
      }
      --depth_;
      continue;
    }
    if (pos_ >= len) {
      *length = pos_ + 1;
      return ScanStatus::kIncomplete;
    }
    uint8_t b = p[pos_];
    const Head& h = kHeads.heads[b];
    if (!h.valid) return ScanStatus::kMalformed;
    if (pos_ + h.header_bytes > len) {
      *length = pos_ + h.header_bytes;
      return ScanStatus::kIncomplete;
    }
    uint64_t n = h.fixed_payload;
    if (h.length_bytes > 0) n = LoadBE(p + pos_ + 1, h.length_bytes);
    uint64_t children = 0;
    uint64_t payload = n;
    if (h.children != 0) {
      // Levels count containers: the outermost is level 1; a container at
      // a level past max_depth is refused as soon as its header is seen.
      if (depth_ + 1 > max_depth) return ScanStatus::kTooDeep;
      if (h.length_bytes == 0) n = b & 0x0f;
      children = h.children == 2 ? 2 * n : n;
      payload = 0;
    } else {
      payload = n + h.extra;
    }
    uint64_t end = pos_ + h.header_bytes + payload;
    // Every child needs at least one byte: refuse claims that cannot fit.
    if (end + children > max_bytes) return ScanStatus::kTooLarge;
    if (end > len) {
      *length = end;
      return ScanStatus::kIncomplete;
    }
    pos_ = end;
    --remaining_[depth_];
    if (children > 0) {
      ++depth_;
      remaining_[depth_] = children;
    }
  }
}

ScanStatus ScanObject(const char* data, size_t len, uint64_t max_bytes, size_t* length,
                      int max_depth) {
  ObjectScanner scanner;
  return scanner.Scan(data, len, max_bytes, length, max_depth);
}

MsgType MsgpackCursor::PeekType() const {
  if (p_ >= end_) return MsgType::kEnd;
  uint8_t b = static_cast<uint8_t>(*p_);
  if (b <= 0x7f || b >= 0xe0) return MsgType::kInt;
  if (b <= 0x8f) return MsgType::kMap;
  if (b <= 0x9f) return MsgType::kArray;
  if (b <= 0xbf) return MsgType::kStr;
  switch (b) {
    case 0xc0: return MsgType::kNil;
    case 0xc2: case 0xc3: return MsgType::kBool;
    case 0xc4: case 0xc5: case 0xc6: return MsgType::kBin;
    case 0xca: case 0xcb: return MsgType::kFloat;
    case 0xd9: case 0xda: case 0xdb: return MsgType::kStr;
    case 0xdc: case 0xdd: return MsgType::kArray;
    case 0xde: case 0xdf: return MsgType::kMap;
    default: break;
  }
  if ((b >= 0xcc && b <= 0xd3)) return MsgType::kInt;
  return MsgType::kExt;
}

bool MsgpackCursor::ReadNil() {
  if (PeekType() != MsgType::kNil) return false;
  ++p_;
  return true;
}

bool MsgpackCursor::ReadBool(bool* v) {
  if (PeekType() != MsgType::kBool) return false;
  *v = static_cast<uint8_t>(*p_) == 0xc3;
  ++p_;
  return true;
}

bool MsgpackCursor::ReadInt(int64_t* v) {
  if (PeekType() != MsgType::kInt) return false;
  const auto* u = reinterpret_cast<const uint8_t*>(p_);
  uint8_t b = u[0];
  if (b <= 0x7f) { *v = b; p_ += 1; return true; }
  if (b >= 0xe0) { *v = static_cast<int8_t>(b); p_ += 1; return true; }
  switch (b) {
    case 0xcc: *v = u[1]; p_ += 2; return true;
    case 0xcd: *v = int64_t(LoadBE(u + 1, 2)); p_ += 3; return true;
    case 0xce: *v = int64_t(LoadBE(u + 1, 4)); p_ += 5; return true;
    case 0xcf: {
      uint64_t x = LoadBE(u + 1, 8);
      if (x > uint64_t(INT64_MAX)) return false;
      *v = int64_t(x); p_ += 9; return true;
    }
    case 0xd0: *v = static_cast<int8_t>(u[1]); p_ += 2; return true;
    case 0xd1: *v = static_cast<int16_t>(LoadBE(u + 1, 2)); p_ += 3; return true;
    case 0xd2: *v = static_cast<int32_t>(LoadBE(u + 1, 4)); p_ += 5; return true;
    case 0xd3: *v = static_cast<int64_t>(LoadBE(u + 1, 8)); p_ += 9; return true;
    default: return false;
  }
}

bool MsgpackCursor::ReadUint(uint64_t* v) {
  if (PeekType() != MsgType::kInt) return false;
  const auto* u = reinterpret_cast<const uint8_t*>(p_);
  if (u[0] == 0xcf) {
    *v = LoadBE(u + 1, 8);
    p_ += 9;
    return true;
  }
  const char* save = p_;
  int64_t x;
  if (!ReadInt(&x)) return false;
  if (x < 0) {
    p_ = save;
    return false;
  }
  *v = uint64_t(x);
  return true;
}

bool MsgpackCursor::ReadBytes(std::string_view* v) {
  MsgType t = PeekType();
  if (t == MsgType::kStr) return ReadStr(v);
  if (t != MsgType::kBin) return false;
  const auto* u = reinterpret_cast<const uint8_t*>(p_);
  int lb = u[0] == 0xc4 ? 1 : u[0] == 0xc5 ? 2 : 4;
  uint64_t n = LoadBE(u + 1, lb);
  *v = std::string_view(p_ + 1 + lb, n);
  p_ += 1 + lb + n;
  return true;
}

bool MsgpackCursor::ReadStr(std::string_view* v) {
  if (PeekType() != MsgType::kStr) return false;
  const auto* u = reinterpret_cast<const uint8_t*>(p_);
  uint64_t n;
  int hb;
  if (u[0] <= 0xbf) { n = u[0] & 0x1f; hb = 1; }
  else if (u[0] == 0xd9) { n = u[1]; hb = 2; }
  else if (u[0] == 0xda) { n = LoadBE(u + 1, 2); hb = 3; }
  else { n = LoadBE(u + 1, 4); hb = 5; }
  *v = std::string_view(p_ + hb, n);
  p_ += hb + n;
  return true;
}

bool MsgpackCursor::ReadArrayHeader(uint32_t* n) {
  if (PeekType() != MsgType::kArray) return false;
  const auto* u = reinterpret_cast<const uint8_t*>(p_);
  if (u[0] <= 0x9f) { *n = u[0] & 0x0f; p_ += 1; }
  else if (u[0] == 0xdc) { *n = uint32_t(LoadBE(u + 1, 2)); p_ += 3; }
  else { *n = uint32_t(LoadBE(u + 1, 4)); p_ += 5; }
  return true;
}

bool MsgpackCursor::ReadMapHeader(uint32_t* n) {
  if (PeekType() != MsgType::kMap) return false;
  const auto* u = reinterpret_cast<const uint8_t*>(p_);
  if (u[0] <= 0x8f) { *n = u[0] & 0x0f; p_ += 1; }
  else if (u[0] == 0xde) { *n = uint32_t(LoadBE(u + 1, 2)); p_ += 3; }
  else { *n = uint32_t(LoadBE(u + 1, 4)); p_ += 5; }
  return true;
}

bool MsgpackCursor::Skip() {
  if (p_ >= end_) return false;
  size_t len = 0;
  if (ScanObject(p_, end_ - p_, UINT64_MAX, &len) != ScanStatus::kComplete) return false;
  p_ += len;
  return true;
}

}  // namespace strata
