// msgpack-RPC requests and replies, encoded by hand: a request is
// [0, msgid, "get"|"set", [key(, value)]] with key and value as bin; a reply
// is [1, msgid, error, result]. See the wire contract (PROTOCOL.md).
#include <cstdint>
#include <cstring>

#include "bench/codec.h"

namespace strata::bench {
namespace {

using u8 = uint8_t;

inline char* PutBe16(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 8);
  p[1] = static_cast<char>(v);
  return p + 2;
}
inline char* PutBe32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
  return p + 4;
}
inline uint64_t Be(const u8* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

// Smallest encoding, as msgpack-c's packer would choose.
inline char* PutUint(char* p, uint32_t v) {
  if (v < 128) {
    *p++ = static_cast<char>(v);
  } else if (v < 256) {
    *p++ = static_cast<char>(0xcc);
    *p++ = static_cast<char>(v);
  } else if (v < 65536) {
    *p++ = static_cast<char>(0xcd);
    p = PutBe16(p, v);
  } else {
    *p++ = static_cast<char>(0xce);
    p = PutBe32(p, v);
  }
  return p;
}

inline char* PutBin(char* p, std::string_view b) {
  const size_t n = b.size();
  if (n < 256) {
    *p++ = static_cast<char>(0xc4);
    *p++ = static_cast<char>(n);
  } else if (n < 65536) {
    *p++ = static_cast<char>(0xc5);
    p = PutBe16(p, static_cast<uint32_t>(n));
  } else {
    *p++ = static_cast<char>(0xc6);
    p = PutBe32(p, static_cast<uint32_t>(n));
  }
  memcpy(p, b.data(), n);
  return p + n;
}

// Header of a request up to and including the params array header.
inline char* PutHead(char* p, uint32_t msgid, const char method[3], int nparams) {
  *p++ = static_cast<char>(0x94);
  *p++ = 0x00;
  p = PutUint(p, msgid);
  *p++ = static_cast<char>(0xa3);
  memcpy(p, method, 3);
  p += 3;
  *p++ = static_cast<char>(0x90 | nparams);
  return p;
}

// Returns the end of the object at p, or nullptr if it is incomplete; sets
// *bad for a byte that no msgpack object starts with.
const u8* Skip(const u8* p, const u8* end, bool* bad) {
  uint64_t pending = 1;
  while (pending > 0) {
    if (p >= end) return nullptr;
    const u8 t = *p++;
    --pending;
    uint64_t skip = 0;
    if (t <= 0x7f || t >= 0xe0) continue;  // fixint
    if (t <= 0x8f) {
      pending += 2 * uint64_t{t & 0x0fu};
      continue;
    }  // fixmap
    if (t <= 0x9f) {
      pending += t & 0x0fu;
      continue;
    }                 // fixarray
    if (t <= 0xbf) {  // fixstr
      skip = t & 0x1fu;
    } else {
      int len_bytes = 0;   // a length prefix follows
      uint64_t extra = 0;  // fixed bytes after the prefix (ext type byte)
      switch (t) {
        case 0xc0:
        case 0xc2:
        case 0xc3: continue;  // nil, false, true
        case 0xc4:
        case 0xd9: len_bytes = 1; break;  // bin8, str8
        case 0xc5:
        case 0xda: len_bytes = 2; break;
        case 0xc6:
        case 0xdb: len_bytes = 4; break;
        case 0xc7:  // ext8/16/32: length, type byte, data
          len_bytes = 1;
          extra = 1;
          break;
        case 0xc8:
          len_bytes = 2;
          extra = 1;
          break;
        case 0xc9:
          len_bytes = 4;
          extra = 1;
          break;
        case 0xca: skip = 4; break;  // float32
        case 0xcb: skip = 8; break;
        case 0xcc:
        case 0xd0: skip = 1; break;
        case 0xcd:
        case 0xd1: skip = 2; break;
        case 0xce:
        case 0xd2: skip = 4; break;
        case 0xcf:
        case 0xd3: skip = 8; break;
        case 0xd4: skip = 2; break;  // fixext 1..16 (+ type byte)
        case 0xd5: skip = 3; break;
        case 0xd6: skip = 5; break;
        case 0xd7: skip = 9; break;
        case 0xd8: skip = 17; break;
        case 0xdc:
        case 0xdd:
        case 0xde:
        case 0xdf: {
          const int n = (t == 0xdc || t == 0xde) ? 2 : 4;
          if (end - p < n) return nullptr;
          const uint64_t count = Be(p, n);
          p += n;
          pending += (t >= 0xde) ? 2 * count : count;
          continue;
        }
        default:  // 0xc1 is never used
          *bad = true;
          return nullptr;
      }
      if (len_bytes > 0) {
        if (end - p < len_bytes) return nullptr;
        skip = Be(p, len_bytes) + extra;
        p += len_bytes;
      }
    }
    if (static_cast<uint64_t>(end - p) < skip) return nullptr;
    p += skip;
  }
  return p;
}

// Reads an unsigned integer; false if the type is not one (sets *bad) or the
// bytes are incomplete.
bool ReadUint(const u8*& p, const u8* end, uint64_t* v, bool* bad) {
  if (p >= end) return false;
  const u8 t = *p;
  int n = 0;
  if (t <= 0x7f) {
    *v = t;
    ++p;
    return true;
  }
  switch (t) {
    case 0xcc: n = 1; break;
    case 0xcd: n = 2; break;
    case 0xce: n = 4; break;
    case 0xcf: n = 8; break;
    default: *bad = true; return false;
  }
  if (end - p < 1 + n) return false;
  *v = Be(p + 1, n);
  p += 1 + n;
  return true;
}

}  // namespace

void MsgpackCodec::EncodeGet(ByteBuffer& out, uint32_t msgid, std::string_view key) {
  char* const start = out.Reserve(16 + key.size());
  char* p = PutHead(start, msgid, "get", 1);
  p = PutBin(p, key);
  out.Commit(static_cast<size_t>(p - start));
}

void MsgpackCodec::EncodeSet(ByteBuffer& out, uint32_t msgid, std::string_view key,
                             std::string_view value) {
  char* const start = out.Reserve(24 + key.size() + value.size());
  char* p = PutHead(start, msgid, "set", 2);
  p = PutBin(p, key);
  p = PutBin(p, value);
  out.Commit(static_cast<size_t>(p - start));
}

DecodeStatus MsgpackCodec::Decode(const char* data, size_t len, Reply* reply, size_t* used) {
  const u8* const begin = reinterpret_cast<const u8*>(data);
  const u8* const end = begin + len;
  const u8* p = begin;
  bool bad = false;
  if (p >= end) return DecodeStatus::kNeedMore;
  uint64_t n = 0;
  const u8 t = *p;
  if ((t & 0xf0) == 0x90) {
    n = t & 0x0f;
    p += 1;
  } else if (t == 0xdc || t == 0xdd) {
    const int w = t == 0xdc ? 2 : 4;
    if (end - p < 1 + w) return DecodeStatus::kNeedMore;
    n = Be(p + 1, w);
    p += 1 + w;
  } else {
    return DecodeStatus::kMalformed;
  }
  uint64_t type = 0;
  if (!ReadUint(p, end, &type, &bad)) {
    return bad ? DecodeStatus::kMalformed : DecodeStatus::kNeedMore;
  }
  *reply = Reply{};
  if (type == 2 && n == 3) {  // notification: [2, method, params]
    const u8* q = p;
    for (int i = 0; i < 2 && q; ++i) q = Skip(q, end, &bad);
    if (bad) return DecodeStatus::kMalformed;
    if (!q) return DecodeStatus::kNeedMore;
    reply->notification = true;
    *used = static_cast<size_t>(q - begin);
    return DecodeStatus::kOk;
  }
  if (type != 1 || n != 4) return DecodeStatus::kMalformed;
  uint64_t msgid = 0;
  if (!ReadUint(p, end, &msgid, &bad)) {
    return bad ? DecodeStatus::kMalformed : DecodeStatus::kNeedMore;
  }
  if (msgid > UINT32_MAX) return DecodeStatus::kMalformed;
  if (p >= end) return DecodeStatus::kNeedMore;
  const bool error = *p != 0xc0;
  p = Skip(p, end, &bad);
  if (bad) return DecodeStatus::kMalformed;
  if (!p) return DecodeStatus::kNeedMore;
  if (p >= end) return DecodeStatus::kNeedMore;
  const bool nil = *p == 0xc0;
  p = Skip(p, end, &bad);
  if (bad) return DecodeStatus::kMalformed;
  if (!p) return DecodeStatus::kNeedMore;
  reply->msgid = static_cast<uint32_t>(msgid);
  reply->error = error;
  reply->nil = nil;
  *used = static_cast<size_t>(p - begin);
  return DecodeStatus::kOk;
}

}  // namespace strata::bench
