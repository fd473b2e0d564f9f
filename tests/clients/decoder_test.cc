// The client's msgpack decoder: split input, every type, malformed input.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>

#include "strata/wire.h"

using strata::Code;
using strata::client::Decoder;
using strata::client::Message;
using strata::client::Packer;
using strata::client::Value;

namespace {

void Feed(Decoder& d, std::string_view bytes) {
  char* p = d.Reserve(bytes.size());
  std::memcpy(p, bytes.data(), bytes.size());
  d.Commit(bytes.size());
}

std::string Response(uint32_t msgid, const std::function<void(Packer&)>& result) {
  std::string s;
  Packer p(&s);
  p.ArrayHeader(4);
  p.Uint(1);
  p.Uint(msgid);
  p.Nil();
  result(p);
  return s;
}

}  // namespace

TEST_CASE("decoder: a response split byte by byte") {
  std::string bin(300, 'x');
  std::string wire = Response(7, [&](Packer& p) { p.Bin(bin); });
  wire += Response(8, [](Packer& p) {
    p.MapHeader(3);
    p.Str("a");
    p.Int(-5);
    p.Str("b");
    p.Uint(18446744073709551615ull);
    p.Str("c");
    p.ArrayHeader(2);
    p.Bool(true);
    p.Nil();
  });
  Decoder d;
  std::vector<Message> got;
  for (char c : wire) {
    Feed(d, std::string_view(&c, 1));
    Message m;
    auto r = d.Next(&m);
    REQUIRE(r.ok());
    if (*r) got.push_back(std::move(m));
  }
  REQUIRE(got.size() == 2);
  CHECK(got[0].msgid == 7);
  CHECK(got[0].result.as_bytes() == bin);
  CHECK(got[1].msgid == 8);
  const auto& map = got[1].result.as_map();
  REQUIRE(map.size() == 3);
  CHECK(map[0].second.as_int() == -5);
  CHECK(map[1].second.type() == Value::Type::kDouble);
  CHECK(map[2].second.as_array()[0].as_bool());
  CHECK(map[2].second.as_array()[1].is_nil());
}

TEST_CASE("decoder: errors and notifications") {
  std::string s;
  Packer p(&s);
  p.ArrayHeader(4);
  p.Uint(1);
  p.Uint(3);
  p.ArrayHeader(2);
  p.Uint(4);
  p.Str("too big");
  p.Nil();
  p.ArrayHeader(3);
  p.Uint(2);
  p.Str("expired");
  p.ArrayHeader(0);
  Decoder d;
  Feed(d, s);
  Message m;
  REQUIRE(d.Next(&m).value());
  CHECK(m.msgid == 3);
  CHECK(m.error.code() == Code::kTooLarge);
  CHECK(m.error.message() == "too big");
  REQUIRE(d.Next(&m).value());
  CHECK(m.kind == Message::Kind::kNotification);
  CHECK(m.method == "expired");
  CHECK_FALSE(d.Next(&m).value());
}

TEST_CASE("decoder: malformed input is an error or waits, never a huge allocation") {
  Message m;
  {
    Decoder d;
    Feed(d, "\xc1");
    CHECK(d.Next(&m).status().code() == Code::kInternal);
  }
  {
    Decoder d;  // 2^32-1 elements declared, 0 present: wait for more
    Feed(d, std::string("\xdd\xff\xff\xff\xff", 5));
    auto r = d.Next(&m);
    REQUIRE(r.ok());
    CHECK_FALSE(*r);
  }
  {
    Decoder d;  // nesting deeper than the limit
    Feed(d, std::string(100, '\x91') + '\xc0');
    CHECK_FALSE(d.Next(&m).ok());
  }
  {
    Decoder d;  // valid msgpack, wrong shape
    Feed(d, std::string("\x94\x01\xc0\xc0\xc0", 5));
    CHECK_FALSE(d.Next(&m).ok());
  }
}

TEST_CASE("decoder: random bytes do not crash (seeded)") {
  std::mt19937 rng(12345);
  for (int round = 0; round < 2000; ++round) {
    Decoder d;
    std::string junk(rng() % 64, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    if (round % 2) junk.insert(0, "\x94\x01\x01\xc0");  // plausible prefix
    Feed(d, junk);
    Message m;
    for (int i = 0; i < 8; ++i) {
      auto r = d.Next(&m);
      if (!r.ok() || !*r) break;
    }
  }
  SUCCEED();
}
