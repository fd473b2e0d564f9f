// The pipelined Batch API against a real strata.
#include <catch2/catch.hpp>

#include "server_fixture.h"
#include "strata/client.h"

using strata::Code;
using strata::client::Batch;
using strata::client::Client;
using strata::client::OptionalBytes;
using strata::client::Ref;
using strata::testing::StrataServer;

TEST_CASE("batch: 1000 sets then 1000 gets, each result in its place") {
  StrataServer server;
  REQUIRE(server.Start());
  auto c = Client::Connect(server.socket(), {.timeout_ms = 10000});
  REQUIRE(c.ok());

  Batch sets;
  std::vector<Ref<bool>> set_refs;
  for (int i = 0; i < 1000; ++i) {
    set_refs.push_back(sets.Set("key:" + std::to_string(i), "value:" + std::to_string(i)));
  }
  REQUIRE(sets.size() == 1000);
  REQUIRE(c->Execute(sets).ok());
  for (auto r : set_refs) CHECK(sets.Result(r).value() == true);

  Batch gets;
  std::vector<Ref<OptionalBytes>> get_refs;
  for (int i = 0; i < 1000; ++i) get_refs.push_back(gets.Get("key:" + std::to_string(i)));
  REQUIRE(c->Execute(gets).ok());
  for (int i = 0; i < 1000; ++i) {
    auto v = gets.Result(get_refs[i]);
    REQUIRE(v.ok());
    REQUIRE(v->has_value());
    CHECK(**v == "value:" + std::to_string(i));
  }

  // Re-executing a batch re-sends it with fresh msgids.
  REQUIRE(c->Execute(gets).ok());
  CHECK(gets.Result(get_refs[999]).value() == OptionalBytes("value:999"));
}

TEST_CASE("batch: mixed methods, in-order effects, per-entry errors") {
  StrataServer server;
  REQUIRE(server.Start());
  auto c = Client::Connect(server.socket());
  REQUIRE(c.ok());

  Batch b;
  auto ping = b.Ping();
  auto set = b.Set("a", "1");
  auto get = b.Get("a");  // sees the earlier set (protocol "Order")
  auto bad = b.Set("a", "2", {.nx = true, .xx = true});  // BAD_ARGS, alone
  auto mset = b.MSet({{"b", "2"}, {"c", "3"}});
  auto mget = b.MGet({"a", "b", "zz", "c"});
  auto exists = b.Exists({"a", "b", "zz"});
  auto expire = b.Expire("a", 50000);
  auto ttl = b.Ttl("a");
  auto del = b.Del({"a"});
  auto gone = b.Get("a");
  auto stats = b.Stats();
  REQUIRE(c->Execute(b).ok());

  CHECK(b.Result(ping).value() == "pong");
  CHECK(b.Result(set).value());
  CHECK(b.Result(get).value() == OptionalBytes("1"));
  CHECK(b.Result(bad).status().code() == Code::kBadArgs);
  CHECK(b.status(bad.index).code() == Code::kBadArgs);
  CHECK(b.Result(mset).value());
  auto mg = b.Result(mget).value();
  CHECK(mg == std::vector<OptionalBytes>{"1", "2", std::nullopt, "3"});
  CHECK(b.Result(exists).value() == 2);
  CHECK(b.Result(expire).value() == true);
  CHECK(b.Result(ttl).value() > 40000);
  CHECK(b.Result(del).value());
  CHECK(b.Result(gone).value() == std::nullopt);
  CHECK(b.Result(stats).value().count("l1_items") == 1);
}

TEST_CASE("batch: an empty batch is a no-op and Clear allows reuse") {
  StrataServer server;
  REQUIRE(server.Start());
  auto c = Client::Connect(server.socket());
  REQUIRE(c.ok());
  Batch b;
  CHECK(c->Execute(b).ok());
  b.Ping();
  b.Clear();
  CHECK(b.empty());
  auto p = b.Ping();
  REQUIRE(c->Execute(b).ok());
  CHECK(b.Result(p).value() == "pong");
}

TEST_CASE("batch: answers larger than the server's output buffer do not deadlock") {
  // 6000 gets of 1 KiB values = ~6 MiB of responses, over the default
  // server.max_output_bytes (4 MiB) past which the server stops reading;
  // Execute reads while it writes.
  StrataServer server;
  REQUIRE(server.Start({"--server.max_output_bytes=1MiB"}));
  auto c = Client::Connect(server.socket(), {.timeout_ms = 20000});
  REQUIRE(c.ok());
  std::string value(1024, 'v');
  Batch sets;
  for (int i = 0; i < 6000; ++i) sets.Set("k" + std::to_string(i), value);
  REQUIRE(c->Execute(sets).ok());
  Batch gets;
  for (int i = 0; i < 6000; ++i) gets.Get("k" + std::to_string(i));
  REQUIRE(c->Execute(gets).ok());
  for (size_t i = 0; i < gets.size(); ++i) {
    REQUIRE(gets.status(i).ok());
    REQUIRE(gets.raw(i).as_bytes() == value);
  }
}
