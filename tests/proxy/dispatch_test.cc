// Dispatcher over a Chain of one L1Cache with a ManualClock. Requests are
// built with msgpack-c's packer and go through ScanObject and ParseRequest as
// a connection's would; responses are decoded with msgpack-c's unpacker, so
// neither side of the test depends on our own codec.
#include "proxy/dispatch.h"

#include <msgpack.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "proxy/config.h"
#include "proxy/server.h"
#include "tiers/l1_cache.h"

namespace strata {
namespace {

constexpr int64_t kTenYearsMs = 315'360'000'000;

// --- Building requests ------------------------------------------------------

struct Arg {
  enum Kind { kNil, kBool, kUint, kInt, kDouble, kStr, kBin, kArray, kMap } kind = kNil;
  bool b = false;
  uint64_t u = 0;
  int64_t i = 0;
  double d = 0;
  std::string s;
  std::vector<Arg> items;  // kArray; kMap: key, value, key, value, ...
};

Arg Nil() { return {}; }
Arg Bool(bool v) { Arg a; a.kind = Arg::kBool; a.b = v; return a; }
Arg U(uint64_t v) { Arg a; a.kind = Arg::kUint; a.u = v; return a; }
Arg I(int64_t v) { Arg a; a.kind = Arg::kInt; a.i = v; return a; }
Arg F(double v) { Arg a; a.kind = Arg::kDouble; a.d = v; return a; }
Arg S(std::string v) { Arg a; a.kind = Arg::kStr; a.s = std::move(v); return a; }
Arg B(std::string v) { Arg a; a.kind = Arg::kBin; a.s = std::move(v); return a; }
Arg A(std::vector<Arg> v) { Arg a; a.kind = Arg::kArray; a.items = std::move(v); return a; }
// A map from str option names.
Arg M(std::vector<std::pair<std::string, Arg>> kv) {
  Arg a;
  a.kind = Arg::kMap;
  for (auto& [k, v] : kv) {
    a.items.push_back(S(k));
    a.items.push_back(std::move(v));
  }
  return a;
}

void PackArg(msgpack_packer* pk, const Arg& a) {
  switch (a.kind) {
    case Arg::kNil: msgpack_pack_nil(pk); break;
    case Arg::kBool: if (a.b) msgpack_pack_true(pk); else msgpack_pack_false(pk); break;
    case Arg::kUint: msgpack_pack_uint64(pk, a.u); break;
    case Arg::kInt: msgpack_pack_int64(pk, a.i); break;
    case Arg::kDouble: msgpack_pack_double(pk, a.d); break;
    case Arg::kStr: msgpack_pack_str_with_body(pk, a.s.data(), a.s.size()); break;
    case Arg::kBin: msgpack_pack_bin_with_body(pk, a.s.data(), a.s.size()); break;
    case Arg::kArray:
      msgpack_pack_array(pk, a.items.size());
      for (const Arg& x : a.items) PackArg(pk, x);
      break;
    case Arg::kMap:
      msgpack_pack_map(pk, a.items.size() / 2);
      for (const Arg& x : a.items) PackArg(pk, x);
      break;
  }
}

std::string RequestBytes(uint32_t msgid, const std::string& method, const std::vector<Arg>& params) {
  msgpack_sbuffer buf;
  msgpack_sbuffer_init(&buf);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 4);
  msgpack_pack_uint8(&pk, 0);
  msgpack_pack_uint32(&pk, msgid);
  msgpack_pack_str_with_body(&pk, method.data(), method.size());
  PackArg(&pk, A(params));
  std::string out(buf.data, buf.size);
  msgpack_sbuffer_destroy(&buf);
  return out;
}

// --- Decoding responses -----------------------------------------------------

struct Value {
  enum Kind { kNil, kBool, kUint, kInt, kDouble, kStr, kBin, kArray, kMap, kOther } kind = kNil;
  bool b = false;
  uint64_t u = 0;
  int64_t i = 0;
  double d = 0;
  std::string s;
  std::vector<Value> items;  // kMap: key, value, ...
};

Value FromObject(const msgpack_object& o) {
  Value v;
  switch (o.type) {
    case MSGPACK_OBJECT_NIL: v.kind = Value::kNil; break;
    case MSGPACK_OBJECT_BOOLEAN: v.kind = Value::kBool; v.b = o.via.boolean; break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
      v.kind = Value::kUint;
      v.u = o.via.u64;
      v.i = static_cast<int64_t>(o.via.u64);
      break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: v.kind = Value::kInt; v.i = o.via.i64; break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: v.kind = Value::kDouble; v.d = o.via.f64; break;
    case MSGPACK_OBJECT_STR: v.kind = Value::kStr; v.s.assign(o.via.str.ptr, o.via.str.size); break;
    case MSGPACK_OBJECT_BIN: v.kind = Value::kBin; v.s.assign(o.via.bin.ptr, o.via.bin.size); break;
    case MSGPACK_OBJECT_ARRAY:
      v.kind = Value::kArray;
      for (uint32_t k = 0; k < o.via.array.size; ++k) v.items.push_back(FromObject(o.via.array.ptr[k]));
      break;
    case MSGPACK_OBJECT_MAP:
      v.kind = Value::kMap;
      for (uint32_t k = 0; k < o.via.map.size; ++k) {
        v.items.push_back(FromObject(o.via.map.ptr[k].key));
        v.items.push_back(FromObject(o.via.map.ptr[k].val));
      }
      break;
    default: v.kind = Value::kOther; break;
  }
  return v;
}

struct Response {
  uint32_t msgid = 0;
  int code = 0;  // 0: success
  std::string message;
  Value result;
};

// Decodes every response in `bytes`, which must hold whole responses only.
std::vector<Response> DecodeAll(const std::string& bytes) {
  std::vector<Response> out;
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  while (off < bytes.size()) {
    REQUIRE(msgpack_unpack_next(&u, bytes.data(), bytes.size(), &off) == MSGPACK_UNPACK_SUCCESS);
    Value v = FromObject(u.data);
    REQUIRE(v.kind == Value::kArray);
    REQUIRE(v.items.size() == 4);
    REQUIRE(v.items[0].kind == Value::kUint);
    REQUIRE(v.items[0].u == 1);
    REQUIRE(v.items[1].kind == Value::kUint);
    REQUIRE(v.items[1].u <= UINT32_MAX);
    Response r;
    r.msgid = static_cast<uint32_t>(v.items[1].u);
    if (v.items[2].kind != Value::kNil) {
      const Value& e = v.items[2];
      REQUIRE(e.kind == Value::kArray);
      REQUIRE(e.items.size() == 2);
      REQUIRE(e.items[0].kind == Value::kUint);
      REQUIRE(e.items[1].kind == Value::kStr);
      r.code = static_cast<int>(e.items[0].u);
      REQUIRE(r.code != 0);
      r.message = e.items[1].s;
      REQUIRE(v.items[3].kind == Value::kNil);  // no result with an error
    }
    r.result = v.items[3];
    out.push_back(std::move(r));
  }
  msgpack_unpacked_destroy(&u);
  return out;
}

// --- The harness ------------------------------------------------------------

class FakeSink final : public ResponseSink {
 public:
  std::string* output() override {
    CHECK(alive_);
    return &out;
  }
  bool alive() const override { return alive_; }
  void Hold() override { ++holds; }
  void Release() override { ++releases; }

  std::string out;
  bool alive_ = true;
  int holds = 0;
  int releases = 0;
};

RequestLimits DefaultLimits() {
  RequestLimits l;
  l.max_key_bytes = 64;
  l.max_value_bytes = 1024;
  l.max_batch_keys = 16;
  return l;
}

class Harness {
 public:
  explicit Harness(RequestLimits limits = DefaultLimits(), StatsProvider stats = nullptr)
      : l1_(L1Options{.max_bytes = 4 << 20, .shards = 4, .clock = &clock}),
        chain_({&l1_}, ChainOptions{.l1_max_ttl_ms = 0, .clock = &clock}),
        dispatcher_(&chain_, limits,
                    stats ? std::move(stats) : StatsProvider([this] { return OwnStats(); }),
                    &clock) {}

  // Sends one request through scan, parse and dispatch; returns its one response.
  Response Call(const std::string& method, const std::vector<Arg>& params) {
    uint32_t msgid = next_msgid_++;
    Response r = CallWithId(msgid, method, params);
    CHECK(r.msgid == msgid);
    return r;
  }

  Response CallWithId(uint32_t msgid, const std::string& method, const std::vector<Arg>& params) {
    std::string bytes = RequestBytes(msgid, method, params);
    size_t len = 0;
    REQUIRE(ScanObject(bytes.data(), bytes.size(), 64 << 20, &len) == ScanStatus::kComplete);
    REQUIRE(len == bytes.size());
    RpcRequest req;
    uint32_t err_msgid = 0;
    REQUIRE(ParseRequest(bytes.data(), len, &req, &err_msgid).ok());
    sink.out.clear();
    dispatcher_.Handle(req, &sink);
    CHECK(sink.holds == sink.releases);  // L1 answers inline: nothing outstanding
    std::vector<Response> rs = DecodeAll(sink.out);
    REQUIRE(rs.size() == 1);
    return rs[0];
  }

  std::vector<std::pair<std::string, double>> OwnStats() {
    L1Stats s = l1_.GetStats();
    return {{"requests_total", double(dispatcher_.counters().requests.load())},
            {"errors_total", double(dispatcher_.counters().errors.load())},
            {"l1_items", double(s.items)},
            {"ratio", 0.25}};
  }

  Dispatcher& dispatcher() { return dispatcher_; }
  L1Cache& l1() { return l1_; }

  ManualClock clock;
  FakeSink sink;

 private:
  L1Cache l1_;
  Chain chain_;
  Dispatcher dispatcher_;
  uint32_t next_msgid_ = 1;
};

void ExpectError(const Response& r, int code, const std::string& contains = "") {
  INFO("message: " << r.message);
  CHECK(r.code == code);
  CHECK_FALSE(r.message.empty());
  if (!contains.empty()) CHECK(r.message.find(contains) != std::string::npos);
}

void ExpectBool(const Response& r, bool v) {
  INFO("error " << r.code << ": " << r.message);
  REQUIRE(r.code == 0);
  REQUIRE(r.result.kind == Value::kBool);
  CHECK(r.result.b == v);
}

void ExpectInt(const Response& r, int64_t v) {
  INFO("error " << r.code << ": " << r.message);
  REQUIRE(r.code == 0);
  REQUIRE((r.result.kind == Value::kUint || r.result.kind == Value::kInt));
  CHECK(r.result.i == v);
}

void ExpectBin(const Response& r, const std::string& v) {
  INFO("error " << r.code << ": " << r.message);
  REQUIRE(r.code == 0);
  REQUIRE(r.result.kind == Value::kBin);  // values are always bin
  CHECK(r.result.s == v);
}

void ExpectNil(const Response& r) {
  INFO("error " << r.code << ": " << r.message);
  REQUIRE(r.code == 0);
  CHECK(r.result.kind == Value::kNil);
}

constexpr int kBadArgs = 3;
constexpr int kTooLarge = 4;

// --- Tests ------------------------------------------------------------------

TEST_CASE("dispatch: ping") {
  Harness h;
  Response r = h.Call("ping", {});
  REQUIRE(r.code == 0);
  REQUIRE(r.result.kind == Value::kStr);
  CHECK(r.result.s == "pong");
  ExpectError(h.Call("ping", {B("x")}), kBadArgs);
}

TEST_CASE("dispatch: msgids are echoed") {
  Harness h;
  for (uint32_t id : {1u, 2u, 65536u, UINT32_MAX}) {
    CHECK(h.CallWithId(id, "ping", {}).msgid == id);
    CHECK(h.CallWithId(id, "nope", {}).msgid == id);
    CHECK(h.CallWithId(id, "get", {}).msgid == id);
  }
}

TEST_CASE("dispatch: set and get; str and bin keys are the same bytes; values come back as bin") {
  Harness h;
  ExpectBool(h.Call("set", {B("k"), B("v")}), true);
  ExpectBin(h.Call("get", {B("k")}), "v");
  ExpectBin(h.Call("get", {S("k")}), "v");
  ExpectBool(h.Call("set", {S("k"), S("str value")}), true);
  ExpectBin(h.Call("get", {B("k")}), "str value");
  ExpectNil(h.Call("get", {B("missing")}));
  // The empty key, binary bytes and non-UTF-8 str are valid.
  ExpectBool(h.Call("set", {B(""), B("empty")}), true);
  ExpectBin(h.Call("get", {S("")}), "empty");
  std::string binary("\0\xff\xfe\0", 4);
  ExpectBool(h.Call("set", {S(binary), B(binary)}), true);
  ExpectBin(h.Call("get", {B(binary)}), binary);
  ExpectBool(h.Call("set", {B("e"), B("")}), true);
  ExpectBin(h.Call("get", {B("e")}), "");
}

// Found by request_decoder_fuzz (ASan heap-buffer-overflow in
// L1Shard::Insert): an overwrite whose value is a little longer but rounds to
// the same malloc-chunk charge was copied in place past the old allocation.
// Only a sanitizer build sees the overflow; every build checks the values.
TEST_CASE("dispatch: overwriting a value with a slightly longer one") {
  Harness h;
  for (size_t from = 0; from < 40; ++from) {
    for (size_t to = from + 1; to < from + 16; ++to) {
      std::string key = "k" + std::to_string(from) + "_" + std::to_string(to);
      ExpectBool(h.Call("set", {B(key), B(std::string(from, 'a'))}), true);
      ExpectBool(h.Call("set", {B(key), B(std::string(to, 'b'))}), true);
      ExpectBin(h.Call("get", {B(key)}), std::string(to, 'b'));
    }
  }
}

TEST_CASE("dispatch: get arity and types") {
  Harness h;
  ExpectError(h.Call("get", {}), kBadArgs);
  ExpectError(h.Call("get", {B("a"), B("b")}), kBadArgs);
  ExpectError(h.Call("get", {U(1)}), kBadArgs);
  ExpectError(h.Call("get", {Nil()}), kBadArgs);
  ExpectError(h.Call("get", {A({B("a")})}), kBadArgs);
}

TEST_CASE("dispatch: set arity and types; a refused set writes nothing") {
  Harness h;
  ExpectError(h.Call("set", {}), kBadArgs);
  ExpectError(h.Call("set", {B("k")}), kBadArgs);
  ExpectError(h.Call("set", {B("k"), B("v"), M({}), Nil()}), kBadArgs);
  ExpectError(h.Call("set", {U(1), B("v")}), kBadArgs);
  ExpectError(h.Call("set", {B("k"), U(1)}), kBadArgs);
  ExpectError(h.Call("set", {B("k"), Nil()}), kBadArgs);
  ExpectError(h.Call("set", {B("k"), B("v"), S("ttl_ms")}), kBadArgs);
  ExpectError(h.Call("set", {B("k"), B("v"), A({})}), kBadArgs);
  ExpectNil(h.Call("get", {B("k")}));
}

TEST_CASE("dispatch: set options") {
  Harness h;
  SECTION("opts nil is an empty map") {
    ExpectBool(h.Call("set", {B("k"), B("v"), Nil()}), true);
    ExpectInt(h.Call("ttl", {B("k")}), -1);
    ExpectBool(h.Call("set", {B("k"), B("w"), M({})}), true);
    ExpectBin(h.Call("get", {B("k")}), "w");
  }
  SECTION("unknown options are named; option names are str") {
    ExpectError(h.Call("set", {B("k"), B("v"), M({{"ttl", U(5)}})}), kBadArgs, "\"ttl\"");
    ExpectError(h.Call("set", {B("k"), B("v"), M({{"TTL_MS", U(5)}})}), kBadArgs, "TTL_MS");
    Arg int_key;
    int_key.kind = Arg::kMap;
    int_key.items = {U(1), U(5)};
    ExpectError(h.Call("set", {B("k"), B("v"), int_key}), kBadArgs);
    Arg bin_key;
    bin_key.kind = Arg::kMap;
    bin_key.items = {B("ttl_ms"), U(5)};
    ExpectError(h.Call("set", {B("k"), B("v"), bin_key}), kBadArgs);
    ExpectNil(h.Call("get", {B("k")}));
  }
  SECTION("ttl_ms must be 1 .. 315360000000") {
    for (const Arg& bad : {U(0), U(kTenYearsMs + 1), I(-1), I(INT64_MIN), U(UINT64_MAX),
                           S("5"), F(5.0), Nil(), Bool(true)}) {
      ExpectError(h.Call("set", {B("k"), B("v"), M({{"ttl_ms", bad}})}), kBadArgs, "ttl_ms");
    }
    ExpectNil(h.Call("get", {B("k")}));
    ExpectBool(h.Call("set", {B("k"), B("v"), M({{"ttl_ms", U(1)}})}), true);
    ExpectInt(h.Call("ttl", {B("k")}), 1);
    ExpectBool(h.Call("set", {B("k"), B("v"), M({{"ttl_ms", U(kTenYearsMs)}})}), true);
    ExpectInt(h.Call("ttl", {B("k")}), kTenYearsMs);
  }
  SECTION("a set without ttl_ms clears an earlier expiry") {
    ExpectBool(h.Call("set", {B("k"), B("v"), M({{"ttl_ms", U(100)}})}), true);
    ExpectBool(h.Call("set", {B("k"), B("v")}), true);
    ExpectInt(h.Call("ttl", {B("k")}), -1);
  }
  SECTION("nx and xx") {
    ExpectBool(h.Call("set", {B("k"), B("1"), M({{"xx", Bool(true)}})}), false);
    ExpectNil(h.Call("get", {B("k")}));
    ExpectBool(h.Call("set", {B("k"), B("1"), M({{"nx", Bool(true)}})}), true);
    ExpectBool(h.Call("set", {B("k"), B("2"), M({{"nx", Bool(true)}})}), false);
    ExpectBin(h.Call("get", {B("k")}), "1");
    ExpectBool(h.Call("set", {B("k"), B("3"), M({{"xx", Bool(true)}})}), true);
    ExpectBin(h.Call("get", {B("k")}), "3");
    // false means "no condition".
    ExpectBool(h.Call("set", {B("k"), B("4"), M({{"nx", Bool(false)}, {"xx", Bool(false)}})}),
               true);
    ExpectBool(h.Call("set", {B("k"), B("5"), M({{"nx", Bool(false)}, {"xx", Bool(true)}})}),
               true);
    ExpectBin(h.Call("get", {B("k")}), "5");
  }
  SECTION("nx with xx is code 3 and writes nothing") {
    ExpectError(h.Call("set", {B("k"), B("v"), M({{"nx", Bool(true)}, {"xx", Bool(true)}})}),
                kBadArgs);
    ExpectError(h.Call("set", {B("k"), B("v"), M({{"xx", Bool(true)}, {"nx", Bool(true)}})}),
                kBadArgs);
    ExpectNil(h.Call("get", {B("k")}));
    ExpectError(h.Call("set", {B("k"), B("v"), M({{"nx", U(1)}})}), kBadArgs, "nx");
    ExpectError(h.Call("set", {B("k"), B("v"), M({{"xx", S("true")}})}), kBadArgs, "xx");
  }
  SECTION("write modes") {
    ExpectBool(h.Call("set", {B("k"), B("v"), M({{"write", S("through")}})}), true);
    ExpectBool(h.Call("set", {B("k"), B("v"), M({{"write", S("behind")}})}), true);
    ExpectError(h.Call("set", {B("k"), B("v"), M({{"write", S("sideways")}})}), kBadArgs,
                "write");
    ExpectError(h.Call("set", {B("k"), B("v"), M({{"write", U(1)}})}), kBadArgs, "write");
    ExpectError(h.Call("set", {B("k"), B("v"), M({{"write", B("through")}})}), kBadArgs);
    // "around" skips L1, and this chain has nothing below it: UNAVAILABLE.
    ExpectError(h.Call("set", {B("a"), B("v"), M({{"write", S("around")}})}), 5);
    ExpectNil(h.Call("get", {B("a")}));
  }
  SECTION("all options together") {
    ExpectBool(h.Call("set", {B("k"), B("v"),
                              M({{"ttl_ms", U(5000)}, {"nx", Bool(true)},
                                 {"write", S("through")}})}),
               true);
    ExpectInt(h.Call("ttl", {B("k")}), 5000);
  }
}

TEST_CASE("dispatch: del") {
  Harness h;
  ExpectBool(h.Call("set", {B("a"), B("1")}), true);
  ExpectBool(h.Call("set", {B("b"), B("2")}), true);
  ExpectBool(h.Call("del", {B("a"), S("b"), B("missing")}), true);
  ExpectNil(h.Call("get", {B("a")}));
  ExpectNil(h.Call("get", {B("b")}));
  ExpectBool(h.Call("del", {B("a")}), true);  // idempotent
  ExpectBool(h.Call("del", {B("x"), B("x")}), true);
  ExpectError(h.Call("del", {}), kBadArgs);
  ExpectError(h.Call("del", {B("a"), U(1)}), kBadArgs);
  ExpectError(h.Call("del", {A({B("a")})}), kBadArgs);
}

TEST_CASE("dispatch: mget") {
  Harness h;
  ExpectBool(h.Call("set", {B("a"), B("1")}), true);
  ExpectBool(h.Call("set", {B("b"), B("2")}), true);
  Response r = h.Call("mget", {A({B("a"), B("missing"), S("b"), B("a")})});
  REQUIRE(r.code == 0);
  REQUIRE(r.result.kind == Value::kArray);
  REQUIRE(r.result.items.size() == 4);
  CHECK(r.result.items[0].kind == Value::kBin);
  CHECK(r.result.items[0].s == "1");
  CHECK(r.result.items[1].kind == Value::kNil);
  CHECK(r.result.items[2].kind == Value::kBin);
  CHECK(r.result.items[2].s == "2");
  CHECK(r.result.items[3].s == "1");

  ExpectError(h.Call("mget", {}), kBadArgs);
  ExpectError(h.Call("mget", {B("a")}), kBadArgs);
  ExpectError(h.Call("mget", {A({})}), kBadArgs);
  ExpectError(h.Call("mget", {A({B("a")}), B("b")}), kBadArgs);
  ExpectError(h.Call("mget", {A({B("a"), U(1)})}), kBadArgs);
  ExpectError(h.Call("mget", {B("a"), B("b")}), kBadArgs);
}

TEST_CASE("dispatch: mset") {
  Harness h;
  SECTION("pairs, and opts with ttl_ms and write") {
    ExpectBool(h.Call("mset", {A({B("a"), B("1"), S("b"), S("2")})}), true);
    ExpectBin(h.Call("get", {B("a")}), "1");
    ExpectBin(h.Call("get", {B("b")}), "2");
    ExpectInt(h.Call("ttl", {B("a")}), -1);
    ExpectBool(h.Call("mset", {A({B("a"), B("3"), B("c"), B("4")}),
                               M({{"ttl_ms", U(2000)}, {"write", S("through")}})}),
               true);
    ExpectBin(h.Call("get", {B("a")}), "3");
    ExpectInt(h.Call("ttl", {B("a")}), 2000);
    ExpectInt(h.Call("ttl", {B("c")}), 2000);
    ExpectBool(h.Call("mset", {A({B("d"), B("5")}), Nil()}), true);
    ExpectBin(h.Call("get", {B("d")}), "5");
  }
  SECTION("nx and xx are not mset options") {
    ExpectError(h.Call("mset", {A({B("a"), B("1")}), M({{"nx", Bool(true)}})}), kBadArgs, "nx");
    ExpectError(h.Call("mset", {A({B("a"), B("1")}), M({{"xx", Bool(true)}})}), kBadArgs, "xx");
    ExpectError(h.Call("mset", {A({B("a"), B("1")}), M({{"nx", Bool(false)}})}), kBadArgs);
    ExpectError(h.Call("mset", {A({B("a"), B("1")}), M({{"ttl_ms", U(0)}})}), kBadArgs);
    ExpectError(h.Call("mset", {A({B("a"), B("1")}), M({{"bogus", U(0)}})}), kBadArgs, "bogus");
    ExpectNil(h.Call("get", {B("a")}));
  }
  SECTION("arity and types; a refused mset writes nothing") {
    ExpectError(h.Call("mset", {}), kBadArgs);
    ExpectError(h.Call("mset", {A({})}), kBadArgs);
    ExpectError(h.Call("mset", {A({B("a")})}), kBadArgs);
    ExpectError(h.Call("mset", {A({B("a"), B("1"), B("b")})}), kBadArgs);
    ExpectError(h.Call("mset", {B("a"), B("1")}), kBadArgs);
    ExpectError(h.Call("mset", {A({B("a"), B("1")}), M({}), Nil()}), kBadArgs);
    ExpectError(h.Call("mset", {A({B("a"), B("1")}), S("opts")}), kBadArgs);
    ExpectError(h.Call("mset", {A({B("a"), B("1"), U(1), B("2")})}), kBadArgs);
    ExpectError(h.Call("mset", {A({B("a"), B("1"), B("b"), U(2)})}), kBadArgs);
    ExpectNil(h.Call("get", {B("a")}));
  }
}

TEST_CASE("dispatch: ttl") {
  Harness h;
  ExpectInt(h.Call("ttl", {B("k")}), -2);
  ExpectBool(h.Call("set", {B("k"), B("v")}), true);
  ExpectInt(h.Call("ttl", {B("k")}), -1);
  ExpectBool(h.Call("set", {B("t"), B("v"), M({{"ttl_ms", U(1000)}})}), true);
  ExpectInt(h.Call("ttl", {B("t")}), 1000);
  h.clock.Advance(400);
  ExpectInt(h.Call("ttl", {B("t")}), 600);
  h.clock.Advance(600);
  ExpectInt(h.Call("ttl", {B("t")}), -2);
  ExpectNil(h.Call("get", {B("t")}));
  ExpectError(h.Call("ttl", {}), kBadArgs);
  ExpectError(h.Call("ttl", {B("a"), B("b")}), kBadArgs);
  ExpectError(h.Call("ttl", {U(1)}), kBadArgs);
}

TEST_CASE("dispatch: expire") {
  Harness h;
  ExpectBool(h.Call("set", {B("k"), B("v")}), true);
  SECTION("sets a ttl on a key that exists") {
    ExpectBool(h.Call("expire", {B("k"), U(5000)}), true);
    ExpectInt(h.Call("ttl", {B("k")}), 5000);
    h.clock.Advance(5000);
    ExpectNil(h.Call("get", {B("k")}));
    ExpectBool(h.Call("expire", {B("k"), U(5000)}), false);
  }
  SECTION("a missing key is false") {
    ExpectBool(h.Call("expire", {B("missing"), U(5000)}), false);
    ExpectInt(h.Call("ttl", {B("missing")}), -2);
    ExpectBool(h.Call("expire", {B("missing"), U(0)}), false);
  }
  SECTION("ttl_ms 0 deletes") {
    ExpectBool(h.Call("expire", {B("k"), U(0)}), true);
    ExpectNil(h.Call("get", {B("k")}));
    ExpectInt(h.Call("ttl", {B("k")}), -2);
    ExpectInt(h.Call("exists", {B("k")}), 0);
  }
  SECTION("a negative ttl_ms deletes") {
    ExpectBool(h.Call("expire", {B("k"), I(-5)}), true);
    ExpectNil(h.Call("get", {B("k")}));
    ExpectBool(h.Call("set", {B("k"), B("v")}), true);
    ExpectBool(h.Call("expire", {B("k"), I(INT64_MIN)}), true);
    ExpectNil(h.Call("get", {B("k")}));
  }
  SECTION("the upper bound") {
    ExpectBool(h.Call("expire", {B("k"), U(kTenYearsMs)}), true);
    ExpectInt(h.Call("ttl", {B("k")}), kTenYearsMs);
    ExpectError(h.Call("expire", {B("k"), U(kTenYearsMs + 1)}), kBadArgs, "ttl_ms");
    ExpectError(h.Call("expire", {B("k"), U(UINT64_MAX)}), kBadArgs);
    ExpectInt(h.Call("ttl", {B("k")}), kTenYearsMs);  // unchanged by the refusals
  }
  SECTION("arity and types") {
    ExpectError(h.Call("expire", {B("k")}), kBadArgs);
    ExpectError(h.Call("expire", {B("k"), U(1), U(1)}), kBadArgs);
    ExpectError(h.Call("expire", {B("k"), S("10")}), kBadArgs);
    ExpectError(h.Call("expire", {B("k"), F(1.5)}), kBadArgs);
    ExpectError(h.Call("expire", {B("k"), Nil()}), kBadArgs);
    ExpectError(h.Call("expire", {U(1), U(10)}), kBadArgs);
    ExpectInt(h.Call("ttl", {B("k")}), -1);
  }
}

TEST_CASE("dispatch: exists counts a repeated key each time") {
  Harness h;
  ExpectBool(h.Call("set", {B("a"), B("1")}), true);
  ExpectBool(h.Call("set", {B("b"), B("2"), M({{"ttl_ms", U(10)}})}), true);
  ExpectInt(h.Call("exists", {B("a"), S("a"), B("b"), B("missing")}), 3);
  ExpectInt(h.Call("exists", {B("missing")}), 0);
  h.clock.Advance(10);
  ExpectInt(h.Call("exists", {B("a"), B("b"), B("a")}), 2);
  ExpectError(h.Call("exists", {}), kBadArgs);
  ExpectError(h.Call("exists", {B("a"), Nil()}), kBadArgs);
}

TEST_CASE("dispatch: unknown methods are code 2 and named") {
  Harness h;
  ExpectError(h.Call("GET", {B("k")}), 2, "GET");
  ExpectError(h.Call("getx", {B("k")}), 2, "getx");
  ExpectError(h.Call("", {}), 2);
  ExpectError(h.Call("flushall", {}), 2);
  ExpectError(h.Call(std::string("get\0", 4), {B("k")}), 2);
}

TEST_CASE("dispatch: limits are TOO_LARGE naming the limit; exactly the limit is fine") {
  RequestLimits limits;
  limits.max_key_bytes = 8;
  limits.max_value_bytes = 16;
  limits.max_batch_keys = 3;
  Harness h(limits);
  const std::string key8(8, 'k'), key9(9, 'k'), val16(16, 'v'), val17(17, 'v');

  ExpectBool(h.Call("set", {B(key8), B(val16)}), true);
  ExpectBin(h.Call("get", {B(key8)}), val16);
  ExpectError(h.Call("set", {B(key9), B("v")}), kTooLarge, "max_key_bytes");
  ExpectError(h.Call("set", {S(key9), B("v")}), kTooLarge, "max_key_bytes");
  ExpectError(h.Call("set", {B("k"), B(val17)}), kTooLarge, "max_value_bytes");
  ExpectError(h.Call("set", {B("k"), S(val17)}), kTooLarge, "max_value_bytes");
  ExpectNil(h.Call("get", {B("k")}));
  ExpectError(h.Call("get", {B(key9)}), kTooLarge, "max_key_bytes");
  ExpectError(h.Call("ttl", {B(key9)}), kTooLarge, "max_key_bytes");
  ExpectError(h.Call("expire", {B(key9), U(10)}), kTooLarge, "max_key_bytes");
  ExpectError(h.Call("del", {B("a"), B(key9)}), kTooLarge, "max_key_bytes");
  ExpectError(h.Call("exists", {B(key9)}), kTooLarge, "max_key_bytes");
  ExpectError(h.Call("mget", {A({B(key9)})}), kTooLarge, "max_key_bytes");
  ExpectError(h.Call("mset", {A({B(key9), B("v")})}), kTooLarge, "max_key_bytes");
  ExpectError(h.Call("mset", {A({B("a"), B(val17)})}), kTooLarge, "max_value_bytes");

  // max_batch_keys counts keys in mget, del, exists and pairs in mset.
  std::vector<Arg> three = {B("a"), B("b"), B("c")};
  std::vector<Arg> four = {B("a"), B("b"), B("c"), B("d")};
  ExpectBool(h.Call("del", three), true);
  ExpectInt(h.Call("exists", three), 0);
  ExpectNil(h.Call("get", {B("a")}));
  CHECK(h.Call("mget", {A(three)}).code == 0);
  ExpectError(h.Call("del", four), kTooLarge, "max_batch_keys");
  ExpectError(h.Call("exists", four), kTooLarge, "max_batch_keys");
  ExpectError(h.Call("mget", {A(four)}), kTooLarge, "max_batch_keys");
  ExpectBool(h.Call("mset", {A({B("a"), B("1"), B("b"), B("2"), B("c"), B("3")})}), true);
  ExpectError(h.Call("mset", {A({B("a"), B("1"), B("b"), B("2"), B("c"), B("3"), B("d"),
                                 B("4")})}),
              kTooLarge, "max_batch_keys");
  ExpectNil(h.Call("get", {B("d")}));
  // The message carries the numbers too.
  Response r = h.Call("set", {B(key9), B("v")});
  CHECK(r.message.find('9') != std::string::npos);
  CHECK(r.message.find('8') != std::string::npos);
}

TEST_CASE("dispatch: stats has the names PROTOCOL.md promises, as numbers") {
  Config config;
  config.l1.max_bytes = 1 << 20;
  Server server(config);
  Harness h(DefaultLimits(), [&server] { return server.Stats(); });
  Response r = h.Call("stats", {});
  REQUIRE(r.code == 0);
  REQUIRE(r.result.kind == Value::kMap);
  std::vector<std::string> names;
  for (size_t i = 0; i < r.result.items.size(); i += 2) {
    REQUIRE(r.result.items[i].kind == Value::kStr);
    Value::Kind k = r.result.items[i + 1].kind;
    CHECK((k == Value::kUint || k == Value::kInt || k == Value::kDouble));
    names.push_back(r.result.items[i].s);
  }
  for (const char* want : {"uptime_s", "connections", "requests_total", "errors_total",
                           "l1_items", "l1_bytes", "l1_hits", "l1_misses", "l1_evictions",
                           "l1_expired"}) {
    INFO(want);
    CHECK(std::find(names.begin(), names.end(), want) != names.end());
  }
  ExpectError(h.Call("stats", {U(1)}), kBadArgs);
}

TEST_CASE("dispatch: stats encodes whole numbers as integers and others as floats") {
  Harness h;
  ExpectBool(h.Call("set", {B("a"), B("1")}), true);
  Response r = h.Call("stats", {});
  REQUIRE(r.code == 0);
  REQUIRE(r.result.kind == Value::kMap);
  REQUIRE(r.result.items.size() == 8);
  CHECK(r.result.items[0].s == "requests_total");
  CHECK(r.result.items[1].kind == Value::kUint);
  CHECK(r.result.items[1].u == 2);  // the set and this stats call
  CHECK(r.result.items[3].u == 0);  // errors_total
  CHECK(r.result.items[5].u == 1);  // l1_items
  CHECK(r.result.items[7].kind == Value::kDouble);
  CHECK(r.result.items[7].d == 0.25);
}

// A counter past INT64_MAX (e.g. l1_max_bytes of an unbounded cache set to
// 2^64-1) must still be encoded; converting such a double to int64_t to test
// whether it is whole is undefined behaviour (UBSan: float-cast-overflow).
TEST_CASE("dispatch: stats values beyond the int64 range are encoded") {
  Harness h(DefaultLimits(), [] {
    return std::vector<std::pair<std::string, double>>{
        {"huge", 18446744073709551615.0}, {"negative", -3.0}, {"big", 1e300}};
  });
  Response r = h.Call("stats", {});
  REQUIRE(r.code == 0);
  REQUIRE(r.result.kind == Value::kMap);
  REQUIRE(r.result.items.size() == 6);
  const Value& huge = r.result.items[1];
  CHECK(((huge.kind == Value::kDouble && huge.d == 18446744073709551615.0) ||
         (huge.kind == Value::kUint && huge.u == UINT64_MAX)));
  CHECK(r.result.items[3].kind == Value::kInt);
  CHECK(r.result.items[3].i == -3);
  CHECK(r.result.items[5].kind == Value::kDouble);
  CHECK(r.result.items[5].d == 1e300);
}

TEST_CASE("dispatch: counters count requests and errors") {
  Harness h;
  const DispatchCounters& c = h.dispatcher().counters();
  CHECK(c.requests.load() == 0);
  CHECK(c.errors.load() == 0);
  ExpectBool(h.Call("set", {B("a"), B("1")}), true);
  h.Call("get", {B("a")});
  h.Call("get", {B("missing")});  // a miss is not an error
  CHECK(c.requests.load() == 3);
  CHECK(c.errors.load() == 0);
  ExpectError(h.Call("get", {}), kBadArgs);
  ExpectError(h.Call("nope", {}), 2);
  ExpectError(h.Call("set", {B("a"), B("v"), M({{"write", S("around")}})}), 5);  // tier error
  CHECK(c.requests.load() == 6);
  CHECK(c.errors.load() == 3);

  // Fail() answers a request that could not be parsed: an error, not a request.
  h.sink.out.clear();
  h.dispatcher().Fail(0, Status::BadRequest("bytes that are not MessagePack"), &h.sink);
  std::vector<Response> rs = DecodeAll(h.sink.out);
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].msgid == 0);
  ExpectError(rs[0], 1, "MessagePack");
  CHECK(c.requests.load() == 6);
  CHECK(c.errors.load() == 4);
}

TEST_CASE("dispatch: a sink that closed gets no answer but is released") {
  Harness h;
  ExpectBool(h.Call("set", {B("a"), B("1")}), true);
  std::string bytes = RequestBytes(9, "get", {B("a")});
  size_t len = 0;
  REQUIRE(ScanObject(bytes.data(), bytes.size(), UINT64_MAX, &len) == ScanStatus::kComplete);
  RpcRequest req;
  uint32_t err = 0;
  REQUIRE(ParseRequest(bytes.data(), len, &req, &err).ok());
  FakeSink closed;
  closed.alive_ = false;
  h.dispatcher().Handle(req, &closed);
  CHECK(closed.out.empty());
  CHECK(closed.holds == 1);
  CHECK(closed.releases == 1);
}

TEST_CASE("dispatch: pipelined responses append to the sink in order") {
  Harness h;
  h.sink.out.clear();
  std::string stream = RequestBytes(1, "set", {B("k"), B("v1")}) +
                       RequestBytes(2, "get", {B("k")}) + RequestBytes(3, "del", {B("k")}) +
                       RequestBytes(4, "get", {B("k")});
  size_t off = 0;
  while (off < stream.size()) {
    size_t len = 0;
    REQUIRE(ScanObject(stream.data() + off, stream.size() - off, UINT64_MAX, &len) ==
            ScanStatus::kComplete);
    RpcRequest req;
    uint32_t err = 0;
    REQUIRE(ParseRequest(stream.data() + off, len, &req, &err).ok());
    h.dispatcher().Handle(req, &h.sink);
    off += len;
  }
  std::vector<Response> rs = DecodeAll(h.sink.out);
  REQUIRE(rs.size() == 4);
  for (uint32_t i = 0; i < 4; ++i) CHECK(rs[i].msgid == i + 1);
  ExpectBool(rs[0], true);
  ExpectBin(rs[1], "v1");
  ExpectBool(rs[2], true);
  ExpectNil(rs[3]);
}

}  // namespace
}  // namespace strata
