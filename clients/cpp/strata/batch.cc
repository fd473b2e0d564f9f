#include "strata/batch.h"

#include <limits>

#include "strata/wire.h"

namespace strata::client {
namespace {

std::string_view WriteModeName(WriteMode m) {
  switch (m) {
    case WriteMode::kBehind: return "behind";
    case WriteMode::kThrough: return "through";
    case WriteMode::kAround: return "around";
    case WriteMode::kDefault: break;
  }
  return "";
}

// Starts [0, msgid, method, params...]: the msgid is a uint32 placeholder
// (0xce + 4 bytes) that Client::Execute fills in. Returns its offset.
size_t BeginRequest(std::string* buf, std::string_view method, uint32_t nparams) {
  Packer p(buf);
  p.ArrayHeader(4);
  p.Uint(0);
  buf->push_back(static_cast<char>(0xce));
  size_t offset = buf->size();
  buf->append(4, '\0');
  p.Str(method);
  p.ArrayHeader(nparams);
  return offset;
}

void PackKeys(std::string* buf, const std::vector<std::string>& keys) {
  Packer p(buf);
  for (const auto& k : keys) p.Bin(k);
}

// --- result conversion ---------------------------------------------------

Status Shape(std::string_view want) {
  return Status::Internal("server result is not " + std::string(want));
}

template <typename T>
StatusOr<T> Convert(const Value& v);

template <>
StatusOr<OptionalBytes> Convert<OptionalBytes>(const Value& v) {
  if (v.is_nil()) return OptionalBytes();
  if (v.type() != Value::Type::kBytes) return Shape("a value or nil");
  return OptionalBytes(v.as_bytes());
}

template <>
StatusOr<bool> Convert<bool>(const Value& v) {
  if (v.type() != Value::Type::kBool) return Shape("a bool");
  return v.as_bool();
}

template <>
StatusOr<int64_t> Convert<int64_t>(const Value& v) {
  if (v.type() != Value::Type::kInt) return Shape("an integer");
  return v.as_int();
}

template <>
StatusOr<std::string> Convert<std::string>(const Value& v) {
  if (v.type() != Value::Type::kBytes) return Shape("a string");
  return v.as_bytes();
}

template <>
StatusOr<std::vector<OptionalBytes>> Convert<std::vector<OptionalBytes>>(const Value& v) {
  if (v.type() != Value::Type::kArray) return Shape("an array");
  std::vector<OptionalBytes> out;
  out.reserve(v.as_array().size());
  for (const Value& e : v.as_array()) {
    StatusOr<OptionalBytes> one = Convert<OptionalBytes>(e);
    if (!one.ok()) return one.status();
    out.push_back(std::move(*one));
  }
  return out;
}

template <>
StatusOr<StatsMap> Convert<StatsMap>(const Value& v) {
  if (v.type() != Value::Type::kMap) return Shape("a map");
  StatsMap out;
  for (const auto& [k, val] : v.as_map()) {
    if (k.type() != Value::Type::kBytes) return Shape("a map with string keys");
    double d = 0;
    switch (val.type()) {
      case Value::Type::kInt: d = static_cast<double>(val.as_int()); break;
      case Value::Type::kDouble: d = val.as_double(); break;
      case Value::Type::kBool: d = val.as_bool() ? 1 : 0; break;
      default: return Shape("a map of numbers");
    }
    out[k.as_bytes()] = d;
  }
  return out;
}

}  // namespace

size_t Batch::Add(size_t offset) {
  Entry e;
  e.offset = offset;
  entries_.push_back(std::move(e));
  return entries_.size() - 1;
}

void Batch::Clear() {
  buf_.clear();
  entries_.clear();
}

Ref<OptionalBytes> Batch::Get(std::string_view key) {
  size_t off = BeginRequest(&buf_, "get", 1);
  Packer(&buf_).Bin(key);
  return {Add(off)};
}

Ref<bool> Batch::Set(std::string_view key, std::string_view value, const SetOptions& opts) {
  uint32_t nopts = (opts.ttl_ms != 0) + opts.nx + opts.xx + (opts.write != WriteMode::kDefault);
  size_t off = BeginRequest(&buf_, "set", nopts ? 3 : 2);
  Packer p(&buf_);
  p.Bin(key);
  p.Bin(value);
  if (nopts) {
    p.MapHeader(nopts);
    // A negative ttl is sent as is, so the server rejects it (BAD_ARGS)
    // rather than the client silently turning it into something else.
    if (opts.ttl_ms != 0) { p.Str("ttl_ms"); p.Int(opts.ttl_ms); }
    if (opts.nx) { p.Str("nx"); p.Bool(true); }
    if (opts.xx) { p.Str("xx"); p.Bool(true); }
    if (opts.write != WriteMode::kDefault) { p.Str("write"); p.Str(WriteModeName(opts.write)); }
  }
  return {Add(off)};
}

Ref<bool> Batch::Del(const std::vector<std::string>& keys) {
  size_t off = BeginRequest(&buf_, "del", static_cast<uint32_t>(keys.size()));
  PackKeys(&buf_, keys);
  return {Add(off)};
}

Ref<std::vector<OptionalBytes>> Batch::MGet(const std::vector<std::string>& keys) {
  size_t off = BeginRequest(&buf_, "mget", 1);
  Packer(&buf_).ArrayHeader(static_cast<uint32_t>(keys.size()));
  PackKeys(&buf_, keys);
  return {Add(off)};
}

Ref<bool> Batch::MSet(const std::vector<std::pair<std::string, std::string>>& pairs,
                      const MSetOptions& opts) {
  uint32_t nopts = (opts.ttl_ms != 0) + (opts.write != WriteMode::kDefault);
  // The server takes opts as a second parameter: [[k, v, ...], opts].
  size_t off = BeginRequest(&buf_, "mset", nopts ? 2 : 1);
  Packer p(&buf_);
  p.ArrayHeader(static_cast<uint32_t>(pairs.size() * 2));
  for (const auto& [k, v] : pairs) {
    p.Bin(k);
    p.Bin(v);
  }
  if (nopts) {
    p.MapHeader(nopts);
    if (opts.ttl_ms != 0) { p.Str("ttl_ms"); p.Int(opts.ttl_ms); }
    if (opts.write != WriteMode::kDefault) { p.Str("write"); p.Str(WriteModeName(opts.write)); }
  }
  return {Add(off)};
}

Ref<int64_t> Batch::Ttl(std::string_view key) {
  size_t off = BeginRequest(&buf_, "ttl", 1);
  Packer(&buf_).Bin(key);
  return {Add(off)};
}

Ref<bool> Batch::Expire(std::string_view key, int64_t ttl_ms) {
  size_t off = BeginRequest(&buf_, "expire", 2);
  Packer p(&buf_);
  p.Bin(key);
  p.Int(ttl_ms);
  return {Add(off)};
}

Ref<int64_t> Batch::Exists(const std::vector<std::string>& keys) {
  size_t off = BeginRequest(&buf_, "exists", static_cast<uint32_t>(keys.size()));
  PackKeys(&buf_, keys);
  return {Add(off)};
}

Ref<std::string> Batch::Ping() { return {Add(BeginRequest(&buf_, "ping", 0))}; }

Ref<StatsMap> Batch::Stats() { return {Add(BeginRequest(&buf_, "stats", 0))}; }

template <typename T>
StatusOr<T> Batch::Result(Ref<T> ref) const {
  if (ref.index >= entries_.size()) return Status::BadArgs("no such batch entry");
  const Entry& e = entries_[ref.index];
  if (!e.status.ok()) return e.status;
  return Convert<T>(e.result);
}

template StatusOr<OptionalBytes> Batch::Result(Ref<OptionalBytes>) const;
template StatusOr<bool> Batch::Result(Ref<bool>) const;
template StatusOr<int64_t> Batch::Result(Ref<int64_t>) const;
template StatusOr<std::string> Batch::Result(Ref<std::string>) const;
template StatusOr<std::vector<OptionalBytes>> Batch::Result(Ref<std::vector<OptionalBytes>>) const;
template StatusOr<StatsMap> Batch::Result(Ref<StatsMap>) const;

}  // namespace strata::client
