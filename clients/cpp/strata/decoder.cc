// A careful msgpack decoder for server messages; see wire.h for why it is
// not msgpack_unpacker.
#include <cstring>
#include <limits>

#include "strata/wire.h"

namespace strata::client {
namespace {

// Deeper than any response the protocol defines (stats is depth 2).
constexpr int kMaxDepth = 32;

enum class Parse { kOk, kNeedMore, kBad };

// Parses one object from [p, end). With build=false it only finds the end
// (so incomplete messages are never materialised); with build=true it fills
// *out (the bytes are known to be complete and valid then).
class Reader {
 public:
  Reader(const uint8_t* p, const uint8_t* end) : p_(p), end_(end) {}
  const uint8_t* pos() const { return p_; }

  template <bool build>
  Parse Object(Value* out, int depth) {
    if (depth > kMaxDepth) return Parse::kBad;
    if (p_ >= end_) return Parse::kNeedMore;
    uint8_t b = *p_++;
    if (b <= 0x7f) return Int<build>(out, b);
    if (b >= 0xe0) return Int<build>(out, static_cast<int8_t>(b));
    if (b >= 0x80 && b <= 0x8f) return Map<build>(out, b & 0x0f, depth);
    if (b >= 0x90 && b <= 0x9f) return Array<build>(out, b & 0x0f, depth);
    if (b >= 0xa0 && b <= 0xbf) return Bytes<build>(out, b & 0x1f);
    uint64_t n = 0;
    switch (b) {
      case 0xc0: if (build) *out = Value(); return Parse::kOk;
      case 0xc2: if (build) *out = Value::Bool(false); return Parse::kOk;
      case 0xc3: if (build) *out = Value::Bool(true); return Parse::kOk;
      case 0xc4: case 0xd9: return Len(1, &n) ? Bytes<build>(out, n) : Parse::kNeedMore;
      case 0xc5: case 0xda: return Len(2, &n) ? Bytes<build>(out, n) : Parse::kNeedMore;
      case 0xc6: case 0xdb: return Len(4, &n) ? Bytes<build>(out, n) : Parse::kNeedMore;
      // ext: skipped and read as nil (the protocol uses none).
      case 0xc7: return Len(1, &n) ? Skip<build>(out, n + 1) : Parse::kNeedMore;
      case 0xc8: return Len(2, &n) ? Skip<build>(out, n + 1) : Parse::kNeedMore;
      case 0xc9: return Len(4, &n) ? Skip<build>(out, n + 1) : Parse::kNeedMore;
      case 0xd4: return Skip<build>(out, 2);
      case 0xd5: return Skip<build>(out, 3);
      case 0xd6: return Skip<build>(out, 5);
      case 0xd7: return Skip<build>(out, 9);
      case 0xd8: return Skip<build>(out, 17);
      case 0xca: {
        if (!Len(4, &n)) return Parse::kNeedMore;
        float f;
        uint32_t u = static_cast<uint32_t>(n);
        std::memcpy(&f, &u, 4);
        if (build) *out = Value::Double(f);
        return Parse::kOk;
      }
      case 0xcb: {
        if (!Len(8, &n)) return Parse::kNeedMore;
        double d;
        std::memcpy(&d, &n, 8);
        if (build) *out = Value::Double(d);
        return Parse::kOk;
      }
      case 0xcc: return Len(1, &n) ? Uint<build>(out, n) : Parse::kNeedMore;
      case 0xcd: return Len(2, &n) ? Uint<build>(out, n) : Parse::kNeedMore;
      case 0xce: return Len(4, &n) ? Uint<build>(out, n) : Parse::kNeedMore;
      case 0xcf: return Len(8, &n) ? Uint<build>(out, n) : Parse::kNeedMore;
      case 0xd0: return Len(1, &n) ? Int<build>(out, static_cast<int8_t>(n)) : Parse::kNeedMore;
      case 0xd1: return Len(2, &n) ? Int<build>(out, static_cast<int16_t>(n)) : Parse::kNeedMore;
      case 0xd2: return Len(4, &n) ? Int<build>(out, static_cast<int32_t>(n)) : Parse::kNeedMore;
      case 0xd3: return Len(8, &n) ? Int<build>(out, static_cast<int64_t>(n)) : Parse::kNeedMore;
      case 0xdc: return Len(2, &n) ? Array<build>(out, n, depth) : Parse::kNeedMore;
      case 0xdd: return Len(4, &n) ? Array<build>(out, n, depth) : Parse::kNeedMore;
      case 0xde: return Len(2, &n) ? Map<build>(out, n, depth) : Parse::kNeedMore;
      case 0xdf: return Len(4, &n) ? Map<build>(out, n, depth) : Parse::kNeedMore;
      default: return Parse::kBad;  // 0xc1, never used
    }
  }

 private:
  // Big-endian unsigned of `bytes` bytes; false if not all have arrived.
  bool Len(int bytes, uint64_t* n) {
    if (end_ - p_ < bytes) return false;
    *n = 0;
    for (int i = 0; i < bytes; ++i) *n = (*n << 8) | *p_++;
    return true;
  }

  template <bool build>
  Parse Int(Value* out, int64_t v) {
    if (build) *out = Value::Int(v);
    return Parse::kOk;
  }

  template <bool build>
  Parse Uint(Value* out, uint64_t v) {
    if (build) {
      *out = v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                 ? Value::Double(static_cast<double>(v))
                 : Value::Int(static_cast<int64_t>(v));
    }
    return Parse::kOk;
  }

  template <bool build>
  Parse Bytes(Value* out, uint64_t n) {
    if (static_cast<uint64_t>(end_ - p_) < n) return Parse::kNeedMore;
    if (build) *out = Value::Bytes(std::string(reinterpret_cast<const char*>(p_), n));
    p_ += n;
    return Parse::kOk;
  }

  template <bool build>
  Parse Skip(Value* out, uint64_t n) {
    if (static_cast<uint64_t>(end_ - p_) < n) return Parse::kNeedMore;
    p_ += n;
    if (build) *out = Value();
    return Parse::kOk;
  }

  // Every element takes at least one byte, so a count larger than the bytes
  // left cannot be complete yet; waiting costs nothing, allocating would.
  template <bool build>
  Parse Array(Value* out, uint64_t n, int depth) {
    if (static_cast<uint64_t>(end_ - p_) < n) return Parse::kNeedMore;
    Value::Array a;
    if (build) a.resize(n);
    for (uint64_t i = 0; i < n; ++i) {
      Parse r = Object<build>(build ? &a[i] : nullptr, depth + 1);
      if (r != Parse::kOk) return r;
    }
    if (build) *out = Value::MakeArray(std::move(a));
    return Parse::kOk;
  }

  template <bool build>
  Parse Map(Value* out, uint64_t n, int depth) {
    if (static_cast<uint64_t>(end_ - p_) / 2 < n) return Parse::kNeedMore;
    Value::Map m;
    if (build) m.resize(n);
    for (uint64_t i = 0; i < n; ++i) {
      Parse r = Object<build>(build ? &m[i].first : nullptr, depth + 1);
      if (r == Parse::kOk) r = Object<build>(build ? &m[i].second : nullptr, depth + 1);
      if (r != Parse::kOk) return r;
    }
    if (build) *out = Value::MakeMap(std::move(m));
    return Parse::kOk;
  }

  const uint8_t* p_;
  const uint8_t* end_;
};

bool IsUint32(const Value& v) {
  return v.type() == Value::Type::kInt && v.as_int() >= 0 && v.as_int() <= 0xffffffffLL;
}

// `error` of a response: nil, or [code, message]. False if malformed.
bool ToError(const Value& e, Status* out) {
  if (e.is_nil()) {
    *out = Status::Ok();
    return true;
  }
  if (e.type() != Value::Type::kArray || e.as_array().size() < 2 ||
      e.as_array()[0].type() != Value::Type::kInt ||
      e.as_array()[1].type() != Value::Type::kBytes) {
    return false;
  }
  int64_t code = e.as_array()[0].as_int();
  const std::string& message = e.as_array()[1].as_bytes();
  // Unknown codes (a newer server) are reported as Internal, keeping the text.
  if (code < 1 || code > static_cast<int64_t>(Code::kInternal)) {
    *out = Status::Internal("server error code " + std::to_string(code) + ": " + message);
  } else {
    *out = Status(static_cast<Code>(code), message);
  }
  return true;
}

Status ToMessage(Value v, Message* m) {
  if (v.type() != Value::Type::kArray || v.as_array().size() < 3 ||
      v.as_array()[0].type() != Value::Type::kInt) {
    return Status::Internal("server sent a message that is not msgpack-RPC");
  }
  Value::Array& a = v.as_array();
  if (a[0].as_int() == 1 && a.size() == 4 && IsUint32(a[1])) {
    if (!ToError(a[2], &m->error)) return Status::Internal("malformed error in response");
    m->kind = Message::Kind::kResponse;
    m->msgid = static_cast<uint32_t>(a[1].as_int());
    m->result = std::move(a[3]);
    return Status::Ok();
  }
  if (a[0].as_int() == 2 && a.size() == 3 && a[1].type() == Value::Type::kBytes) {
    m->kind = Message::Kind::kNotification;
    m->method = a[1].as_bytes();
    m->result = std::move(a[2]);
    return Status::Ok();
  }
  return Status::Internal("server sent a message that is not a response or notification");
}

}  // namespace

char* Decoder::Reserve(size_t n) {
  // Drop decoded bytes once they are most of the buffer.
  if (start_ > 0 && start_ >= buf_.size() / 2) {
    buf_.erase(0, start_);
    start_ = 0;
  }
  size_t used = buf_.size();
  buf_.resize(used + n);
  reserved_ = n;
  return buf_.data() + used;
}

void Decoder::Commit(size_t n) {
  buf_.resize(buf_.size() - reserved_ + std::min(n, reserved_));
  reserved_ = 0;
}

StatusOr<bool> Decoder::Next(Message* out) {
  const auto* begin = reinterpret_cast<const uint8_t*>(buf_.data()) + start_;
  const auto* end = reinterpret_cast<const uint8_t*>(buf_.data()) + buf_.size();
  Reader scan(begin, end);
  Parse r = scan.Object<false>(nullptr, 0);
  if (r == Parse::kNeedMore) return false;
  if (r == Parse::kBad) return Status::Internal("server sent bytes that are not msgpack");
  Value v;
  Reader(begin, scan.pos()).Object<true>(&v, 0);
  start_ += static_cast<size_t>(scan.pos() - begin);
  if (start_ == buf_.size()) {
    buf_.clear();
    start_ = 0;
  }
  Message m;
  if (Status s = ToMessage(std::move(v), &m); !s.ok()) return s;
  *out = std::move(m);
  return true;
}

}  // namespace strata::client
