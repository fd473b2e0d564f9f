// ScanObject and MsgpackCursor over inputs built by msgpack-c's packer, so
// the expectations do not depend on our own encoder (rpc_writer.cc).
#include "proxy/msgpack_reader.h"

#include <msgpack.h>

#include "tests/proxy/msgpack_pack.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace strata {
namespace {

constexpr uint64_t kMiB = 1 << 20;

using testing::Fill;
using testing::Pack;
using testing::PackBin;
using testing::PackStr;

// A payload whose bytes include every header byte value, to make sure the
// scanner never interprets payload bytes as structure.
std::string Payload(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + 0xc1) & 0xff);
  return s;
}

// Scans `len` bytes held in a heap buffer of exactly that size, so that an
// out-of-bounds read is an AddressSanitizer error in sanitizer builds.
ScanStatus ScanExact(const std::string& bytes, size_t len, uint64_t max, size_t* out,
                     int max_depth = kMaxNesting) {
  std::vector<char> exact(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(len));
  return ScanObject(exact.data(), exact.size(), max, out, max_depth);
}

// The properties every complete object must have.
void CheckObject(const std::string& obj) {
  const size_t size = obj.size();
  const uint8_t first = static_cast<uint8_t>(obj[0]);
  const bool container = (first >= 0x80 && first <= 0x9f) || (first >= 0xdc && first <= 0xdf);
  INFO("object of " << size << " bytes, first byte 0x" << std::hex
                    << int(static_cast<uint8_t>(obj[0])));
  size_t len = 0;

  // Complete: the exact length, and bytes after it are not looked at.
  REQUIRE(ScanExact(obj, size, UINT64_MAX, &len) == ScanStatus::kComplete);
  CHECK(len == size);
  std::string followed = obj + "\xc1\x91";
  len = 0;
  REQUIRE(ScanObject(followed.data(), followed.size(), UINT64_MAX, &len) ==
          ScanStatus::kComplete);
  CHECK(len == size);

  // Every truncation: incomplete, with a hint past what is buffered and
  // never past the real object. Big objects are checked at every byte near
  // the headers and ends and at a stride in between (each scan is O(items)).
  for (size_t k = 0; k < size; ++k) {
    bool dense = size <= 4096 || k < 64 || k + 64 > size || k % 251 == 0;
    if (!dense) continue;
    len = 0;
    ScanStatus st = (size <= 4096 || k < 64 || k + 64 > size)
                        ? ScanExact(obj, k, UINT64_MAX, &len)
                        : ScanObject(obj.data(), k, UINT64_MAX, &len);
    INFO("truncated to " << k << " bytes");
    REQUIRE(st == ScanStatus::kIncomplete);
    CHECK(len > k);
    CHECK(len <= size);
  }

  // Following the hints reaches the whole object without overshooting
  // (one round per item for containers, so only for smaller objects).
  size_t have = 0;
  int rounds = 0;
  for (; size <= 4096 || !container;) {
    len = 0;
    ScanStatus st = ScanObject(obj.data(), have, UINT64_MAX, &len);
    if (st == ScanStatus::kComplete) break;
    REQUIRE(st == ScanStatus::kIncomplete);
    REQUIRE(len > have);
    REQUIRE(len <= size);
    have = len;
    REQUIRE(++rounds <= int(size));
  }
  if (size <= 4096 || !container) CHECK(len == size);

  // max_bytes: "over" means strictly greater.
  CHECK(ScanObject(obj.data(), size, size, &len) == ScanStatus::kComplete);
  CHECK(len == size);
  CHECK(ScanObject(obj.data(), size, size - 1, &len) == ScanStatus::kTooLarge);
}

struct Case {
  const char* name;
  uint8_t first_byte;  // proves the intended header width was produced
  std::string bytes;
};

std::vector<Case> Scalars() {
  std::string p = Payload(70000);
  return {
      {"positive fixint", 0x05, Pack([](auto pk) { msgpack_pack_uint8(pk, 5); })},
      {"negative fixint", 0xfd, Pack([](auto pk) { msgpack_pack_int8(pk, -3); })},
      {"uint8", 0xcc, Pack([](auto pk) { msgpack_pack_fix_uint8(pk, 200); })},
      {"uint16", 0xcd, Pack([](auto pk) { msgpack_pack_fix_uint16(pk, 60000); })},
      {"uint32", 0xce, Pack([](auto pk) { msgpack_pack_fix_uint32(pk, 4000000000u); })},
      {"uint64", 0xcf, Pack([](auto pk) { msgpack_pack_fix_uint64(pk, UINT64_MAX); })},
      {"int8", 0xd0, Pack([](auto pk) { msgpack_pack_fix_int8(pk, -100); })},
      {"int16", 0xd1, Pack([](auto pk) { msgpack_pack_fix_int16(pk, -30000); })},
      {"int32", 0xd2, Pack([](auto pk) { msgpack_pack_fix_int32(pk, INT32_MIN); })},
      {"int64", 0xd3, Pack([](auto pk) { msgpack_pack_fix_int64(pk, INT64_MIN); })},
      {"nil", 0xc0, Pack([](auto pk) { msgpack_pack_nil(pk); })},
      {"false", 0xc2, Pack([](auto pk) { msgpack_pack_false(pk); })},
      {"true", 0xc3, Pack([](auto pk) { msgpack_pack_true(pk); })},
      {"float32", 0xca, Pack([](auto pk) { msgpack_pack_float(pk, 1.5f); })},
      {"float64", 0xcb, Pack([](auto pk) { msgpack_pack_double(pk, -2.25); })},
      {"empty fixstr", 0xa0, Pack([](auto pk) { PackStr(pk, ""); })},
      {"fixstr", 0xbf, Pack([&](auto pk) { PackStr(pk, p.substr(0, 31)); })},
      {"str8", 0xd9, Pack([&](auto pk) { PackStr(pk, p.substr(0, 200)); })},
      {"str16", 0xda, Pack([&](auto pk) { PackStr(pk, p.substr(0, 1000)); })},
      {"str32", 0xdb, Pack([&](auto pk) { PackStr(pk, p); })},
      {"empty bin8", 0xc4, Pack([](auto pk) { PackBin(pk, ""); })},
      {"bin8", 0xc4, Pack([&](auto pk) { PackBin(pk, p.substr(0, 255)); })},
      {"bin16", 0xc5, Pack([&](auto pk) { PackBin(pk, p.substr(0, 300)); })},
      {"bin32", 0xc6, Pack([&](auto pk) { PackBin(pk, p); })},
      {"fixext1", 0xd4, Pack([&](auto pk) { msgpack_pack_ext_with_body(pk, p.data(), 1, 7); })},
      {"fixext2", 0xd5, Pack([&](auto pk) { msgpack_pack_ext_with_body(pk, p.data(), 2, 7); })},
      {"fixext4", 0xd6, Pack([&](auto pk) { msgpack_pack_ext_with_body(pk, p.data(), 4, -1); })},
      {"fixext8", 0xd7, Pack([&](auto pk) { msgpack_pack_ext_with_body(pk, p.data(), 8, 1); })},
      {"fixext16", 0xd8, Pack([&](auto pk) { msgpack_pack_ext_with_body(pk, p.data(), 16, 2); })},
      {"ext8", 0xc7, Pack([&](auto pk) { msgpack_pack_ext_with_body(pk, p.data(), 3, 9); })},
      {"ext16", 0xc8, Pack([&](auto pk) { msgpack_pack_ext_with_body(pk, p.data(), 300, 9); })},
      {"ext32", 0xc9,
       Pack([&](auto pk) { msgpack_pack_ext_with_body(pk, p.data(), p.size(), 9); })},
  };
}

// A few items of mixed kinds, nested, to fill containers with.
void PackMixed(msgpack_packer* pk, int i) {
  switch (i % 6) {
    case 0: msgpack_pack_int64(pk, i); break;
    case 1: PackStr(pk, "s" + std::to_string(i)); break;
    case 2: PackBin(pk, std::string(size_t(i % 40), 'b')); break;
    case 3:
      msgpack_pack_array(pk, 2);
      msgpack_pack_nil(pk);
      msgpack_pack_double(pk, i);
      break;
    case 4:
      msgpack_pack_map(pk, 1);
      PackStr(pk, "k");
      msgpack_pack_ext_with_body(pk, "xyz", 3, 1);
      break;
    default: msgpack_pack_array(pk, 0); break;
  }
}

std::vector<Case> Containers() {
  auto array = [](size_t n, bool mixed) {
    return Pack([=](msgpack_packer* pk) {
      msgpack_pack_array(pk, n);
      for (size_t i = 0; i < n; ++i) {
        if (mixed) PackMixed(pk, int(i)); else msgpack_pack_uint8(pk, uint8_t(i & 0x7f));
      }
    });
  };
  auto map = [](size_t n, bool mixed) {
    return Pack([=](msgpack_packer* pk) {
      msgpack_pack_map(pk, n);
      for (size_t i = 0; i < n; ++i) {
        if (mixed) {
          PackStr(pk, "key" + std::to_string(i));
          PackMixed(pk, int(i));
        } else {
          msgpack_pack_uint8(pk, uint8_t(i & 0x7f));
          msgpack_pack_nil(pk);
        }
      }
    });
  };
  return {
      {"empty fixarray", 0x90, array(0, true)},
      {"fixarray", 0x9f, array(15, true)},
      {"array16", 0xdc, array(40, true)},
      {"array32", 0xdd, array(65536, false)},
      {"empty fixmap", 0x80, map(0, true)},
      {"fixmap", 0x8f, map(15, true)},
      {"map16", 0xde, map(40, true)},
      {"map32", 0xdf, map(65536, false)},
      // Width is a matter of encoding, not of count: a 32-bit header over
      // two items is valid MessagePack (msgpack-c never writes it).
      {"array32 of 2", 0xdd, std::string("\xdd\x00\x00\x00\x02\x01\xa1x", 8)},
      {"map16 of 1", 0xde, std::string("\xde\x00\x01\xa1k\xc3", 6)},
      {"bin32 of 3", 0xc6, std::string("\xc6\x00\x00\x00\x03xyz", 8)},
  };
}

TEST_CASE("ScanObject: every scalar family and header width, complete and truncated") {
  for (const Case& c : Scalars()) {
    SECTION(c.name) {
      REQUIRE(static_cast<uint8_t>(c.bytes[0]) == c.first_byte);
      CheckObject(c.bytes);
    }
  }
}

TEST_CASE("ScanObject: arrays and maps of every width, complete and truncated") {
  for (const Case& c : Containers()) {
    SECTION(c.name) {
      REQUIRE(static_cast<uint8_t>(c.bytes[0]) == c.first_byte);
      CheckObject(c.bytes);
    }
  }
}

TEST_CASE("ScanObject: an empty buffer needs one byte") {
  size_t len = 0;
  CHECK(ScanObject(nullptr, 0, UINT64_MAX, &len) == ScanStatus::kIncomplete);
  CHECK(len == 1);
}

TEST_CASE("ScanObject: a pipelined stream is scanned one object at a time") {
  std::string stream;
  std::vector<size_t> sizes;
  for (int i = 0; i < 12; ++i) {
    std::string o = Pack([i](msgpack_packer* pk) { PackMixed(pk, i); });
    sizes.push_back(o.size());
    stream += o;
  }
  size_t off = 0;
  for (size_t s : sizes) {
    size_t len = 0;
    REQUIRE(ScanObject(stream.data() + off, stream.size() - off, UINT64_MAX, &len) ==
            ScanStatus::kComplete);
    CHECK(len == s);
    off += len;
  }
  CHECK(off == stream.size());
}

TEST_CASE("ScanObject: a 4 GiB bin header on a short buffer allocates nothing") {
  const std::string header("\xc6\xff\xff\xff\xff", 5);
  const uint64_t claimed = 5 + 0xffffffffull;
  for (const std::string& buf : {header, header + "abc"}) {
    INFO("buffered " << buf.size() << " bytes");
    size_t len = 0;
    CHECK(ScanExact(buf, buf.size(), 64 * kMiB, &len) == ScanStatus::kTooLarge);
    len = 0;
    CHECK(ScanExact(buf, buf.size(), UINT64_MAX, &len) == ScanStatus::kIncomplete);
    CHECK(len == claimed);
    // Exactly the claimed size is not over the limit.
    CHECK(ScanExact(buf, buf.size(), claimed, &len) == ScanStatus::kIncomplete);
    CHECK(ScanExact(buf, buf.size(), claimed - 1, &len) == ScanStatus::kTooLarge);
  }
  // Until the length bytes have arrived there is no claim to judge.
  size_t len = 0;
  CHECK(ScanExact(header, 3, 64 * kMiB, &len) == ScanStatus::kIncomplete);
  CHECK(len == 5);
}

TEST_CASE("ScanObject: other 4 GiB claims are refused from their headers") {
  struct Claim {
    const char* name;
    std::string bytes;
  };
  std::vector<Claim> claims = {
      {"str32", std::string("\xdb\xff\xff\xff\xff" "abc", 8)},
      {"ext32", std::string("\xc9\xff\xff\xff\xff\x01" "abc", 9)},
      {"array32 of 4e9", std::string("\xdd\xee\x6b\x28\x00\x01\x02", 7)},
      {"map32 of 2^32-1", std::string("\xdf\xff\xff\xff\xff\x01", 6)},
      {"array32 inside an array",
       std::string("\x94\x00\x01\xa3get\x91\xdd\xee\x6b\x28\x00", 13)},
  };
  for (const Claim& c : claims) {
    SECTION(c.name) {
      size_t len = 0;
      CHECK(ScanExact(c.bytes, c.bytes.size(), 64 * kMiB, &len) == ScanStatus::kTooLarge);
      len = 0;
      CHECK(ScanExact(c.bytes, c.bytes.size(), UINT64_MAX, &len) == ScanStatus::kIncomplete);
      CHECK(len > c.bytes.size());
    }
  }
}

TEST_CASE("ScanObject: a container is refused when its items cannot fit in max_bytes") {
  // [1, 2, 3] needs at least 4 bytes: each item takes one at least.
  const std::string a("\x93\x01", 2);
  size_t len = 0;
  CHECK(ScanExact(a, a.size(), 3, &len) == ScanStatus::kTooLarge);
  len = 0;
  CHECK(ScanExact(a, a.size(), 4, &len) == ScanStatus::kIncomplete);
  CHECK(len == 3);
  // {1: 2} needs at least 3.
  const std::string m("\x81", 1);
  CHECK(ScanExact(m, m.size(), 2, &len) == ScanStatus::kTooLarge);
  CHECK(ScanExact(m, m.size(), 3, &len) == ScanStatus::kIncomplete);
}

TEST_CASE("ScanObject: 0xc1 is malformed wherever it appears in the object") {
  size_t len = 0;
  CHECK(ScanExact(std::string("\xc1", 1), 1, UINT64_MAX, &len) == ScanStatus::kMalformed);
  const std::string in_array("\x93\x01\xc1\x02", 4);
  CHECK(ScanExact(in_array, 4, UINT64_MAX, &len) == ScanStatus::kMalformed);
  const std::string as_map_key("\x81\xc1\x01", 3);
  CHECK(ScanExact(as_map_key, 3, UINT64_MAX, &len) == ScanStatus::kMalformed);
  // Reported as soon as the byte is seen, before the rest has arrived.
  CHECK(ScanExact(in_array, 3, UINT64_MAX, &len) == ScanStatus::kMalformed);
  // After a complete object it belongs to the next one.
  const std::string after("\x01\xc1", 2);
  CHECK(ScanExact(after, 2, UINT64_MAX, &len) == ScanStatus::kComplete);
  CHECK(len == 1);
}

std::string Nested(int arrays, const std::string& innermost) {
  return std::string(size_t(arrays), '\x91') + innermost;
}

TEST_CASE("ScanObject: nesting up to 8 levels is fine, 9 is too deep") {
  size_t len = 0;
  // Levels count containers: the outer array is level 1; scalars add none.
  SECTION("8 levels") {
    // Eight containers: the innermost one is at level 8 and empty.
    for (const std::string& obj : {Nested(7, "\x90"), Nested(7, "\x01"), Nested(7, "\x80"),
                                   std::string("\x81\x00", 2) + Nested(6, "\xc0")}) {
      INFO("object of " << obj.size() << " bytes");
      CHECK(ScanExact(obj, obj.size(), UINT64_MAX, &len) == ScanStatus::kComplete);
      CHECK(len == obj.size());
    }
  }
  SECTION("9 levels") {
    std::string maps;
    for (int i = 0; i < 8; ++i) maps += std::string("\x81\x00", 2);
    for (const std::string& obj :
         {Nested(8, "\x90"), Nested(9, "\x90"), Nested(8, "\x80"), maps + "\x80",
          std::string("\x94\x00\x01\xa3get", 7) + Nested(7, "\x90")}) {
      INFO("object of " << obj.size() << " bytes");
      CHECK(ScanExact(obj, obj.size(), UINT64_MAX, &len) == ScanStatus::kTooDeep);
    }
  }
  SECTION("a scalar inside 8 containers is fine: levels count containers, not items") {
    // PROTOCOL.md says "deeper than 8 levels"; a scalar is not a level, so
    // the request [0, 1, "get", [[[[[[["k"]]]]]]]] (8 containers) is accepted.
    std::string maps;
    for (int i = 0; i < 8; ++i) maps += std::string("\x81\x00", 2);
    for (const std::string& obj : {Nested(8, "\x01"), maps + "\xc0",
                                   std::string("\x94\x00\x01\xa3get", 7) + Nested(7, "\xa1k")}) {
      INFO("object of " << obj.size() << " bytes");
      CHECK(ScanExact(obj, obj.size(), UINT64_MAX, &len) == ScanStatus::kComplete);
      CHECK(len == obj.size());
    }
  }
  SECTION("reported before the rest has arrived") {
    std::string headers = Nested(9, "");
    CHECK(ScanExact(headers, headers.size(), UINT64_MAX, &len) == ScanStatus::kTooDeep);
  }
  SECTION("100000 levels stop at the ninth") {
    std::string deep = Nested(100000, "\xc0");
    CHECK(ScanExact(deep, deep.size(), UINT64_MAX, &len) == ScanStatus::kTooDeep);
  }
  SECTION("a smaller max_depth, and a larger one is capped at 8") {
    CHECK(ScanExact("\x01", 1, UINT64_MAX, &len, 1) == ScanStatus::kComplete);
    CHECK(ScanExact("\x90", 1, UINT64_MAX, &len, 1) == ScanStatus::kComplete);
    CHECK(ScanExact("\x91\x01", 2, UINT64_MAX, &len, 1) == ScanStatus::kComplete);
    CHECK(ScanExact("\x91\x91\x01", 3, UINT64_MAX, &len, 1) == ScanStatus::kTooDeep);
    CHECK(ScanExact("\x91\x91\x01", 3, UINT64_MAX, &len, 2) == ScanStatus::kComplete);
    std::string nine = Nested(9, "\x90");
    CHECK(ScanExact(nine, nine.size(), UINT64_MAX, &len, 100) == ScanStatus::kTooDeep);
  }
}

TEST_CASE("ScanObject: an object of exactly max_bytes is complete, one more is too large") {
  std::string obj = Pack([](msgpack_packer* pk) {
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint8(pk, 0);
    msgpack_pack_uint8(pk, 1);
    PackStr(pk, "set");
    msgpack_pack_array(pk, 2);
    PackBin(pk, "key");
    PackBin(pk, std::string(1000, 'v'));
  });
  size_t len = 0;
  CHECK(ScanExact(obj, obj.size(), obj.size(), &len) == ScanStatus::kComplete);
  CHECK(len == obj.size());
  CHECK(ScanExact(obj, obj.size(), obj.size() - 1, &len) == ScanStatus::kTooLarge);
  // The value's header alone proves it: refused with the value still missing.
  CHECK(ScanExact(obj, 20, obj.size() - 1, &len) == ScanStatus::kTooLarge);
  CHECK(ScanExact(obj, 20, obj.size(), &len) == ScanStatus::kIncomplete);
  CHECK(len == obj.size());
}

// --- MsgpackCursor ---------------------------------------------------------

MsgpackCursor CursorOver(const std::string& s) { return MsgpackCursor(s.data(), s.data() + s.size()); }

TEST_CASE("MsgpackCursor reads integers of every width and sign") {
  struct IntCase {
    const char* name;
    std::function<void(msgpack_packer*)> pack;
    bool is_uint;
    uint64_t u;
    bool is_int;
    int64_t i;
  };
  std::vector<IntCase> cases = {
      {"fixint 0", [](auto pk) { msgpack_pack_uint8(pk, 0); }, true, 0, true, 0},
      {"fixint 127", [](auto pk) { msgpack_pack_uint8(pk, 127); }, true, 127, true, 127},
      {"negative fixint -1", [](auto pk) { msgpack_pack_int8(pk, -1); }, false, 0, true, -1},
      {"negative fixint -32", [](auto pk) { msgpack_pack_int8(pk, -32); }, false, 0, true, -32},
      {"uint8 255", [](auto pk) { msgpack_pack_fix_uint8(pk, 255); }, true, 255, true, 255},
      {"uint16 65535", [](auto pk) { msgpack_pack_fix_uint16(pk, 65535); }, true, 65535, true,
       65535},
      {"uint32 max", [](auto pk) { msgpack_pack_fix_uint32(pk, UINT32_MAX); }, true, UINT32_MAX,
       true, int64_t(UINT32_MAX)},
      {"uint64 5", [](auto pk) { msgpack_pack_fix_uint64(pk, 5); }, true, 5, true, 5},
      {"uint64 INT64_MAX", [](auto pk) { msgpack_pack_fix_uint64(pk, uint64_t(INT64_MAX)); },
       true, uint64_t(INT64_MAX), true, INT64_MAX},
      {"uint64 INT64_MAX+1",
       [](auto pk) { msgpack_pack_fix_uint64(pk, uint64_t(INT64_MAX) + 1); }, true,
       uint64_t(INT64_MAX) + 1, false, 0},
      {"uint64 max", [](auto pk) { msgpack_pack_fix_uint64(pk, UINT64_MAX); }, true, UINT64_MAX,
       false, 0},
      {"int8 -128", [](auto pk) { msgpack_pack_fix_int8(pk, -128); }, false, 0, true, -128},
      {"int8 100", [](auto pk) { msgpack_pack_fix_int8(pk, 100); }, true, 100, true, 100},
      {"int16 min", [](auto pk) { msgpack_pack_fix_int16(pk, INT16_MIN); }, false, 0, true,
       INT16_MIN},
      {"int16 max", [](auto pk) { msgpack_pack_fix_int16(pk, INT16_MAX); }, true, INT16_MAX,
       true, INT16_MAX},
      {"int32 min", [](auto pk) { msgpack_pack_fix_int32(pk, INT32_MIN); }, false, 0, true,
       INT32_MIN},
      {"int32 max", [](auto pk) { msgpack_pack_fix_int32(pk, INT32_MAX); }, true, INT32_MAX,
       true, INT32_MAX},
      {"int64 min", [](auto pk) { msgpack_pack_fix_int64(pk, INT64_MIN); }, false, 0, true,
       INT64_MIN},
      {"int64 max", [](auto pk) { msgpack_pack_fix_int64(pk, INT64_MAX); }, true,
       uint64_t(INT64_MAX), true, INT64_MAX},
      {"int64 -1", [](auto pk) { msgpack_pack_fix_int64(pk, -1); }, false, 0, true, -1},
  };
  for (const IntCase& c : cases) {
    SECTION(c.name) {
      // The int, then a marker that shows what was consumed.
      std::string bytes = Pack([&](msgpack_packer* pk) {
        c.pack(pk);
        msgpack_pack_nil(pk);
      });
      MsgpackCursor cur = CursorOver(bytes);
      CHECK(cur.PeekType() == MsgType::kInt);
      uint64_t u = 12345;
      if (c.is_uint) {
        REQUIRE(cur.ReadUint(&u));
        CHECK(u == c.u);
        CHECK(cur.ReadNil());
        CHECK(cur.at_end());
      } else {
        CHECK_FALSE(cur.ReadUint(&u));
        CHECK(cur.position() == bytes.data());  // nothing consumed
      }
      cur = CursorOver(bytes);
      int64_t i = 12345;
      if (c.is_int) {
        REQUIRE(cur.ReadInt(&i));
        CHECK(i == c.i);
        CHECK(cur.ReadNil());
        CHECK(cur.at_end());
      } else {
        CHECK_FALSE(cur.ReadInt(&i));
        CHECK(cur.position() == bytes.data());
      }
    }
  }
}

TEST_CASE("MsgpackCursor: integer reads refuse other types without consuming") {
  std::vector<std::string> others = {
      Pack([](auto pk) { msgpack_pack_nil(pk); }),
      Pack([](auto pk) { msgpack_pack_true(pk); }),
      Pack([](auto pk) { msgpack_pack_double(pk, 1.0); }),
      Pack([](auto pk) { msgpack_pack_float(pk, 1.0f); }),
      Pack([](auto pk) { PackStr(pk, "1"); }),
      Pack([](auto pk) { PackBin(pk, "\x01"); }),
      Pack([](auto pk) { msgpack_pack_array(pk, 0); }),
      Pack([](auto pk) { msgpack_pack_ext_with_body(pk, "\x01", 1, 1); }),
  };
  for (const std::string& b : others) {
    MsgpackCursor cur = CursorOver(b);
    uint64_t u;
    int64_t i;
    CHECK_FALSE(cur.ReadUint(&u));
    CHECK_FALSE(cur.ReadInt(&i));
    CHECK(cur.position() == b.data());
  }
}

TEST_CASE("MsgpackCursor: ReadBytes takes str and bin of every width, ReadStr only str") {
  std::string p = Payload(70000);
  for (size_t n : {size_t(0), size_t(5), size_t(31), size_t(32), size_t(255), size_t(256),
                   size_t(65535), size_t(65536), size_t(70000)}) {
    std::string s = p.substr(0, n);
    std::string str = Pack([&](auto pk) { PackStr(pk, s); msgpack_pack_nil(pk); });
    std::string bin = Pack([&](auto pk) { PackBin(pk, s); msgpack_pack_nil(pk); });
    INFO(n << " bytes");

    MsgpackCursor c = CursorOver(str);
    CHECK(c.PeekType() == MsgType::kStr);
    std::string_view v;
    REQUIRE(c.ReadBytes(&v));
    CHECK(v == s);
    CHECK(v.data() >= str.data());  // a view into the buffer, not a copy
    CHECK(v.data() + v.size() <= str.data() + str.size());
    CHECK(c.ReadNil());
    c = CursorOver(str);
    REQUIRE(c.ReadStr(&v));
    CHECK(v == s);
    CHECK(c.ReadNil());

    c = CursorOver(bin);
    CHECK(c.PeekType() == MsgType::kBin);
    CHECK_FALSE(c.ReadStr(&v));
    CHECK(c.position() == bin.data());
    REQUIRE(c.ReadBytes(&v));
    CHECK(v == s);
    CHECK(c.ReadNil());
    CHECK(c.at_end());
  }
  // Not bytes: refused, nothing consumed.
  for (const std::string& b : {Pack([](auto pk) { msgpack_pack_uint8(pk, 1); }),
                               Pack([](auto pk) { msgpack_pack_nil(pk); }),
                               Pack([](auto pk) { msgpack_pack_ext_with_body(pk, "ab", 2, 1); }),
                               Pack([](auto pk) { msgpack_pack_array(pk, 0); })}) {
    MsgpackCursor c = CursorOver(b);
    std::string_view v;
    CHECK_FALSE(c.ReadBytes(&v));
    CHECK_FALSE(c.ReadStr(&v));
    CHECK(c.position() == b.data());
  }
}

TEST_CASE("MsgpackCursor: nil, bool, array and map headers, PeekType") {
  std::string b = Pack([](msgpack_packer* pk) {
    msgpack_pack_nil(pk);
    msgpack_pack_true(pk);
    msgpack_pack_false(pk);
    msgpack_pack_array(pk, 3);        // fixarray header only
    msgpack_pack_array(pk, 1000);     // array16
    msgpack_pack_array(pk, 100000);   // array32
    msgpack_pack_map(pk, 2);          // fixmap
    msgpack_pack_map(pk, 1000);       // map16
    msgpack_pack_map(pk, 100000);     // map32
    msgpack_pack_float(pk, 0.5f);
    msgpack_pack_ext_with_body(pk, "abcd", 4, 3);
  });
  MsgpackCursor c = CursorOver(b);
  bool flag = false;
  uint32_t n = 0;
  CHECK(c.PeekType() == MsgType::kNil);
  CHECK_FALSE(c.ReadBool(&flag));
  CHECK(c.ReadNil());
  CHECK(c.PeekType() == MsgType::kBool);
  CHECK_FALSE(c.ReadNil());
  REQUIRE(c.ReadBool(&flag));
  CHECK(flag);
  REQUIRE(c.ReadBool(&flag));
  CHECK_FALSE(flag);
  CHECK(c.PeekType() == MsgType::kArray);
  CHECK_FALSE(c.ReadMapHeader(&n));
  REQUIRE(c.ReadArrayHeader(&n));
  CHECK(n == 3);
  REQUIRE(c.ReadArrayHeader(&n));
  CHECK(n == 1000);
  REQUIRE(c.ReadArrayHeader(&n));
  CHECK(n == 100000);
  CHECK(c.PeekType() == MsgType::kMap);
  CHECK_FALSE(c.ReadArrayHeader(&n));
  REQUIRE(c.ReadMapHeader(&n));
  CHECK(n == 2);
  REQUIRE(c.ReadMapHeader(&n));
  CHECK(n == 1000);
  REQUIRE(c.ReadMapHeader(&n));
  CHECK(n == 100000);
  CHECK(c.PeekType() == MsgType::kFloat);
  CHECK(c.Skip());
  CHECK(c.PeekType() == MsgType::kExt);
  CHECK(c.Skip());
  CHECK(c.PeekType() == MsgType::kEnd);
  CHECK(c.at_end());
  CHECK_FALSE(c.ReadNil());
  CHECK_FALSE(c.Skip());
}

TEST_CASE("MsgpackCursor: Skip passes one whole item with its children") {
  std::string b = Pack([](msgpack_packer* pk) {
    msgpack_pack_map(pk, 1);  // skipped as a whole
    PackStr(pk, "a");
    msgpack_pack_array(pk, 3);
    msgpack_pack_int64(pk, -70000);
    PackBin(pk, std::string(300, 'x'));
    msgpack_pack_map(pk, 1);
    msgpack_pack_nil(pk);
    msgpack_pack_ext_with_body(pk, "12345", 5, 4);
    msgpack_pack_fix_uint64(pk, 7);
    PackStr(pk, std::string(70000, 's'));  // skipped
    msgpack_pack_fix_uint8(pk, 9);
  });
  MsgpackCursor c = CursorOver(b);
  uint64_t u = 0;
  REQUIRE(c.Skip());
  REQUIRE(c.ReadUint(&u));
  CHECK(u == 7);
  REQUIRE(c.Skip());
  REQUIRE(c.ReadUint(&u));
  CHECK(u == 9);
  CHECK(c.at_end());
}

}  // namespace
}  // namespace strata

namespace strata {
namespace {

TEST_CASE("ObjectScanner resumes an incomplete object instead of rescanning it") {
  // An array of 100000 nils fed one byte at a time: the same answer as a
  // one-shot scan, and each call only looks at the new byte.
  std::string obj("\xdd\x00\x01\x86\xa0", 5);
  obj.append(100000, '\xc0');
  ObjectScanner scanner;
  size_t len = 0;
  ScanStatus st = ScanStatus::kIncomplete;
  size_t fed = 0;
  while (st == ScanStatus::kIncomplete && fed < obj.size()) {
    ++fed;
    st = scanner.Scan(obj.data(), fed, UINT64_MAX, &len);
    if (st == ScanStatus::kIncomplete) REQUIRE(len > fed);
  }
  CHECK(st == ScanStatus::kComplete);
  CHECK(len == obj.size());
  // Having completed, it starts afresh on the next object.
  CHECK(scanner.Scan("\x01", 1, UINT64_MAX, &len) == ScanStatus::kComplete);
  CHECK(len == 1);
}

TEST_CASE("ObjectScanner reports errors found after a resume, then resets") {
  ObjectScanner scanner;
  size_t len = 0;
  std::string bad("\x93\x01\xc1", 3);
  CHECK(scanner.Scan(bad.data(), 2, UINT64_MAX, &len) == ScanStatus::kIncomplete);
  CHECK(scanner.Scan(bad.data(), 3, UINT64_MAX, &len) == ScanStatus::kMalformed);
  CHECK(scanner.Scan("\x90", 1, UINT64_MAX, &len) == ScanStatus::kComplete);
}

}  // namespace
}  // namespace strata
