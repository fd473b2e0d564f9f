// ParseRequest: the [0, msgid, method, params] shape and the msgid that a
// shape error is answered with (PROTOCOL.md, "Shape errors"). Inputs are
// built with msgpack-c's packer, independent of our encoder.
#include "proxy/rpc_request.h"

#include <msgpack.h>

#include "tests/proxy/msgpack_pack.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace strata {
namespace {

using testing::Fill;
using testing::Pack;
using testing::PackBin;
using testing::PackStr;

// An array of the given elements, each written by its own Fill.
std::string Array(const std::vector<Fill>& items) {
  return Pack([&](msgpack_packer* pk) {
    msgpack_pack_array(pk, items.size());
    for (const Fill& f : items) f(pk);
  });
}

const Fill kZero = [](msgpack_packer* pk) { msgpack_pack_uint8(pk, 0); };
Fill Uint(uint64_t v) { return [v](msgpack_packer* pk) { msgpack_pack_uint64(pk, v); }; }
Fill Int(int64_t v) { return [v](msgpack_packer* pk) { msgpack_pack_int64(pk, v); }; }
Fill Str(std::string s) { return [s](msgpack_packer* pk) { PackStr(pk, s); }; }
Fill Bin(std::string s) { return [s](msgpack_packer* pk) { PackBin(pk, s); }; }
const Fill kNil = [](msgpack_packer* pk) { msgpack_pack_nil(pk); };
const Fill kNoParams = [](msgpack_packer* pk) { msgpack_pack_array(pk, 0); };

struct Parsed {
  Status status;
  RpcRequest request;
  uint32_t msgid_for_error = 0;
  std::vector<char> storage;  // the request's views point here
};

// Checks the object is complete (the caller's precondition), then parses it
// from a heap buffer of exactly its size (over-reads are ASan errors).
void Parse(const std::string& bytes, Parsed* out) {
  size_t len = 0;
  REQUIRE(ScanObject(bytes.data(), bytes.size(), UINT64_MAX, &len) == ScanStatus::kComplete);
  REQUIRE(len == bytes.size());
  out->storage.assign(bytes.begin(), bytes.end());
  out->msgid_for_error = 0xdeadbeef;  // must be overwritten
  out->status = ParseRequest(out->storage.data(), out->storage.size(), &out->request,
                             &out->msgid_for_error);
}

void ExpectBadRequest(const std::string& bytes, uint32_t msgid) {
  Parsed p;
  Parse(bytes, &p);
  CHECK(p.status.code() == Code::kBadRequest);
  CHECK_FALSE(p.status.message().empty());
  CHECK(p.msgid_for_error == msgid);
}

TEST_CASE("ParseRequest accepts [0, msgid, method, params]") {
  Parsed p;
  Parse(Array({kZero, Uint(7), Str("get"),
               [](msgpack_packer* pk) {
                 msgpack_pack_array(pk, 2);
                 PackBin(pk, "key");
                 msgpack_pack_uint8(pk, 42);
               }}),
        &p);
  REQUIRE(p.status.ok());
  CHECK(p.request.msgid == 7);
  CHECK(p.request.method == "get");
  CHECK(p.request.param_count == 2);
  std::string_view key;
  REQUIRE(p.request.params.ReadBytes(&key));
  CHECK(key == "key");
  uint64_t n = 0;
  REQUIRE(p.request.params.ReadUint(&n));
  CHECK(n == 42);
  CHECK(p.request.params.at_end());
  // The views point into the input: zero copy.
  CHECK(p.request.method.data() >= p.storage.data());
  CHECK(p.request.method.data() < p.storage.data() + p.storage.size());
}

TEST_CASE("ParseRequest accepts msgid bounds and any integer encoding of the values") {
  struct Ok {
    const char* name;
    Fill type, msgid;
    uint32_t expect;
  };
  std::vector<Ok> cases = {
      {"msgid 0", kZero, Uint(0), 0},
      {"msgid 1", kZero, Uint(1), 1},
      {"msgid 2^32-1 (uint32)", kZero, Uint(UINT32_MAX), UINT32_MAX},
      {"msgid as uint64 encoding",
       kZero, [](auto pk) { msgpack_pack_fix_uint64(pk, 9); }, 9},
      {"msgid as a non-negative int8 encoding",
       kZero, [](auto pk) { msgpack_pack_fix_int8(pk, 9); }, 9},
      {"type tag as uint64 encoding", [](auto pk) { msgpack_pack_fix_uint64(pk, 0); },
       Uint(5), 5},
      {"type tag as int32 encoding", [](auto pk) { msgpack_pack_fix_int32(pk, 0); }, Uint(5), 5},
  };
  for (const Ok& c : cases) {
    SECTION(c.name) {
      Parsed p;
      Parse(Array({c.type, c.msgid, Str("ping"), kNoParams}), &p);
      REQUIRE(p.status.ok());
      CHECK(p.request.msgid == c.expect);
      CHECK(p.request.method == "ping");
      CHECK(p.request.param_count == 0);
    }
  }
  SECTION("a long method name and a str8 header") {
    Parsed p;
    Parse(Array({kZero, Uint(3), Str(std::string(100, 'm')), kNoParams}), &p);
    REQUIRE(p.status.ok());
    CHECK(p.request.method == std::string(100, 'm'));
  }
}

TEST_CASE("ParseRequest: not an array is BAD_REQUEST with msgid 0") {
  ExpectBadRequest(Pack([](auto pk) { msgpack_pack_uint8(pk, 0); }), 0);
  ExpectBadRequest(Pack([](auto pk) { msgpack_pack_nil(pk); }), 0);
  ExpectBadRequest(Pack([](auto pk) { PackStr(pk, "get"); }), 0);
  ExpectBadRequest(Pack([](auto pk) { PackBin(pk, std::string("\x94\x00\x01", 3)); }), 0);
  // A map that looks like a request: {0: 7, "get": []}.
  ExpectBadRequest(Pack([](auto pk) {
                     msgpack_pack_map(pk, 2);
                     msgpack_pack_uint8(pk, 0);
                     msgpack_pack_uint8(pk, 7);
                     PackStr(pk, "get");
                     msgpack_pack_array(pk, 0);
                   }),
                   0);
}

TEST_CASE("ParseRequest: wrong length keeps the msgid when element 1 is a uint32") {
  ExpectBadRequest(Array({}), 0);
  ExpectBadRequest(Array({kZero}), 0);
  ExpectBadRequest(Array({kZero, Uint(5)}), 5);
  ExpectBadRequest(Array({kZero, Uint(5), Str("get")}), 5);
  ExpectBadRequest(Array({kZero, Uint(5), Str("get"), kNoParams, kNil}), 5);
  // A notification ([2, method, params]) has no msgid.
  ExpectBadRequest(Array({Uint(2), Str("get"), kNoParams}), 0);
  // Wrong length and a msgid that is not a uint32: 0.
  ExpectBadRequest(Array({kZero, Int(-5)}), 0);
  ExpectBadRequest(Array({kZero, Str("5"), Str("get")}), 0);
}

TEST_CASE("ParseRequest: a type tag other than 0 keeps the msgid") {
  const std::vector<std::pair<const char*, Fill>> tags = {
      {"1 (a response)", Uint(1)},
      {"2", Uint(2)},
      {"-1", Int(-1)},
      {"uint64 max", Uint(UINT64_MAX)},
      {"str \"0\"", Str("0")},
      {"nil", kNil},
      {"float 0.0", [](auto pk) { msgpack_pack_double(pk, 0.0); }},
      {"[0]",
       [](auto pk) {
         msgpack_pack_array(pk, 1);
         msgpack_pack_uint8(pk, 0);
       }},
      {"{0: 0}",
       [](auto pk) {
         msgpack_pack_map(pk, 1);
         msgpack_pack_uint8(pk, 0);
         msgpack_pack_uint8(pk, 0);
       }},
      {"bin", Bin(std::string(300, '\0'))},
  };
  for (const auto& [name, tag] : tags) {
    SECTION(name) { ExpectBadRequest(Array({tag, Uint(77), Str("ping"), kNoParams}), 77); }
  }
}

TEST_CASE("ParseRequest: a msgid that is not a uint32 is answered with msgid 0") {
  const std::vector<std::pair<const char*, Fill>> ids = {
      {"-1", Int(-1)},
      {"INT64_MIN", Int(INT64_MIN)},
      {"2^32", Uint(uint64_t(UINT32_MAX) + 1)},
      {"uint64 max", Uint(UINT64_MAX)},
      {"str", Str("5")},
      {"bin", Bin("5")},
      {"nil", kNil},
      {"float 5.0", [](auto pk) { msgpack_pack_double(pk, 5.0); }},
      {"bool", [](auto pk) { msgpack_pack_true(pk); }},
      {"array", [](auto pk) { msgpack_pack_array(pk, 1); msgpack_pack_uint8(pk, 5); }},
  };
  for (const auto& [name, id] : ids) {
    SECTION(name) { ExpectBadRequest(Array({kZero, id, Str("ping"), kNoParams}), 0); }
  }
}

TEST_CASE("ParseRequest: method not a str keeps the msgid") {
  ExpectBadRequest(Array({kZero, Uint(9), Bin("get"), kNoParams}), 9);
  ExpectBadRequest(Array({kZero, Uint(9), Uint(1), kNoParams}), 9);
  ExpectBadRequest(Array({kZero, Uint(9), kNil, kNoParams}), 9);
  ExpectBadRequest(Array({kZero, Uint(9), [](auto pk) {
                            msgpack_pack_array(pk, 1);
                            PackStr(pk, "get");
                          }, kNoParams}),
                   9);
}

TEST_CASE("ParseRequest: params not an array keeps the msgid") {
  ExpectBadRequest(Array({kZero, Uint(11), Str("get"), kNil}), 11);
  ExpectBadRequest(Array({kZero, Uint(11), Str("get"), Str("key")}), 11);
  ExpectBadRequest(Array({kZero, Uint(11), Str("get"), Bin("key")}), 11);
  ExpectBadRequest(Array({kZero, Uint(11), Str("get"), Uint(0)}), 11);
  ExpectBadRequest(Array({kZero, Uint(11), Str("get"),
                          [](auto pk) {
                            msgpack_pack_map(pk, 1);
                            PackStr(pk, "key");
                            PackStr(pk, "v");
                          }}),
                   11);
}

TEST_CASE("ParseRequest: the msgid is reported even when later elements are wrong") {
  // Every error at once but a good msgid: the msgid still comes back.
  ExpectBadRequest(Array({Str("x"), Uint(123456), kNil, kNil, kNil}), 123456);
  ExpectBadRequest(Array({kZero, Uint(UINT32_MAX), Uint(1), Uint(2)}), UINT32_MAX);
}

}  // namespace
}  // namespace strata
