// RESP2 GET/SET requests and replies, for driving redis-server with the same
// loop. Replies arrive in request order, so msgid is unused.
#include <cstdint>
#include <cstring>

#include "bench/codec.h"

namespace strata::bench {
namespace {

inline char* PutDecimal(char* p, size_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) *p++ = tmp[--n];
  return p;
}

inline char* PutBulk(char* p, std::string_view s) {
  *p++ = '$';
  p = PutDecimal(p, s.size());
  *p++ = '\r';
  *p++ = '\n';
  memcpy(p, s.data(), s.size());
  p += s.size();
  *p++ = '\r';
  *p++ = '\n';
  return p;
}

// Finds the "\r\n" that ends the line starting at p; nullptr if not there yet.
inline const char* LineEnd(const char* p, const char* end) {
  while (p < end) {
    const char* cr = static_cast<const char*>(memchr(p, '\r', static_cast<size_t>(end - p)));
    if (!cr || cr + 1 >= end) return nullptr;
    if (cr[1] == '\n') return cr;
    p = cr + 1;
  }
  return nullptr;
}

// Parses the integer in [p, e); false if it is not one.
inline bool ParseInt(const char* p, const char* e, int64_t* v) {
  bool neg = false;
  if (p < e && *p == '-') {
    neg = true;
    ++p;
  }
  if (p == e || e - p > 18) return false;
  int64_t r = 0;
  for (; p < e; ++p) {
    if (*p < '0' || *p > '9') return false;
    r = r * 10 + (*p - '0');
  }
  *v = neg ? -r : r;
  return true;
}

}  // namespace

void RespCodec::EncodeGet(ByteBuffer& out, uint32_t, std::string_view key) {
  char* const start = out.Reserve(32 + key.size());
  char* p = start;
  memcpy(p, "*2\r\n$3\r\nGET\r\n", 13);
  p = PutBulk(p + 13, key);
  out.Commit(static_cast<size_t>(p - start));
}

void RespCodec::EncodeSet(ByteBuffer& out, uint32_t, std::string_view key, std::string_view value) {
  char* const start = out.Reserve(56 + key.size() + value.size());
  char* p = start;
  memcpy(p, "*3\r\n$3\r\nSET\r\n", 13);
  p = PutBulk(p + 13, key);
  p = PutBulk(p, value);
  out.Commit(static_cast<size_t>(p - start));
}

DecodeStatus RespCodec::Decode(const char* data, size_t len, Reply* reply, size_t* used) {
  const char* p = data;
  const char* const end = data + len;
  *reply = Reply{};
  bool top = true;
  int64_t pending = 1;  // values still to read (arrays add their elements)
  while (pending > 0) {
    if (p >= end) return DecodeStatus::kNeedMore;
    const char type = *p;
    const char* eol = LineEnd(p + 1, end);
    if (!eol) return DecodeStatus::kNeedMore;
    --pending;
    int64_t n = 0;
    switch (type) {
      case '+':
      case ':': break;
      case '-':
        if (top) reply->error = true;
        break;
      case '$':
        if (!ParseInt(p + 1, eol, &n) || n < -1) return DecodeStatus::kMalformed;
        if (n == -1) {
          if (top) reply->nil = true;
          break;
        }
        if (end - (eol + 2) < n + 2) return DecodeStatus::kNeedMore;
        if (eol[2 + n] != '\r' || eol[3 + n] != '\n') return DecodeStatus::kMalformed;
        eol += n + 2;  // the payload and its CRLF; the header's CRLF is added below
        break;
      case '*':
        if (!ParseInt(p + 1, eol, &n) || n < -1) return DecodeStatus::kMalformed;
        if (n == -1) {
          if (top) reply->nil = true;
        } else {
          pending += n;
        }
        break;
      default: return DecodeStatus::kMalformed;
    }
    top = false;
    p = eol + 2;
  }
  *used = static_cast<size_t>(p - data);
  return DecodeStatus::kOk;
}

}  // namespace strata::bench
