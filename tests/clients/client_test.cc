// Every blocking Client method against a real strata.
#include <catch2/catch.hpp>

#include <thread>

#include "server_fixture.h"
#include "strata/client.h"

using strata::Code;
using strata::client::Client;
using strata::testing::StrataServer;

TEST_CASE("client: every method round-trips against a real server") {
  StrataServer server;
  REQUIRE(server.Start());
  auto c = Client::Connect(server.socket(), {.timeout_ms = 5000});
  REQUIRE(c.ok());

  REQUIRE(c->Ping().ok());

  // get miss, set, get hit; binary bytes and the empty key.
  auto miss = c->Get("nope");
  REQUIRE(miss.ok());
  CHECK_FALSE(miss->has_value());
  std::string bin("a\0b\xff\x80z", 6);
  REQUIRE(c->Set("k", bin).value());
  auto hit = c->Get("k");
  REQUIRE(hit.ok());
  REQUIRE(hit->has_value());
  CHECK(**hit == bin);
  REQUIRE(c->Set("", "empty-key").value());
  CHECK(c->Get("").value() == std::optional<std::string>("empty-key"));

  // nx / xx.
  CHECK(c->Set("k", "x", {.nx = true}).value() == false);
  CHECK(c->Get("k").value() == std::optional<std::string>(bin));
  CHECK(c->Set("fresh", "x", {.xx = true}).value() == false);
  CHECK(c->Set("fresh", "y", {.nx = true}).value() == true);
  CHECK(c->Set("fresh", "z", {.xx = true}).value() == true);
  CHECK(c->Get("fresh").value() == std::optional<std::string>("z"));

  // ttl / expire.
  CHECK(c->Ttl("k").value() == -1);
  CHECK(c->Ttl("absent").value() == -2);
  REQUIRE(c->Set("t", "v", {.ttl_ms = 60000}).value());
  int64_t left = c->Ttl("t").value();
  CHECK(left > 50000);
  CHECK(left <= 60000);
  CHECK(c->Expire("t", 120000).value() == true);
  CHECK(c->Ttl("t").value() > 60000);
  CHECK(c->Expire("absent", 1000).value() == false);
  CHECK(c->Expire("t", 0).value() == true);  // <= 0 deletes
  CHECK(c->Ttl("t").value() == -2);

  // write modes reach the server. With L1 only (no L2/L3), "around" has
  // nowhere to write: the server answers UNAVAILABLE.
  using strata::client::WriteMode;
  for (WriteMode m : {WriteMode::kBehind, WriteMode::kThrough}) {
    auto r = c->Set("w", "v", {.write = m});
    INFO(r.status().ToString());
    CHECK(r.ok());
  }
  CHECK(c->Set("w", "v", {.write = WriteMode::kAround}).status().code() == Code::kUnavailable);

  // exists / del / mget / mset.
  CHECK(c->Exists({"k", "fresh", "absent", "k"}).value() == 3);
  REQUIRE(c->Del({"k", "fresh"}).ok());
  CHECK(c->Exists({"k", "fresh"}).value() == 0);
  REQUIRE(c->MSet({{"m1", "one"}, {"m2", std::string("\0two", 4)}}).ok());
  REQUIRE(c->MSet({{"m3", "three"}}, {.ttl_ms = 30000}).ok());
  CHECK(c->Ttl("m3").value() > 20000);
  auto mg = c->MGet({"m1", "missing", "m2", "m3"});
  REQUIRE(mg.ok());
  REQUIRE(mg->size() == 4);
  CHECK((*mg)[0] == std::optional<std::string>("one"));
  CHECK_FALSE((*mg)[1].has_value());
  CHECK((*mg)[2] == std::optional<std::string>(std::string("\0two", 4)));
  CHECK((*mg)[3] == std::optional<std::string>("three"));

  // stats: the documented minimum names.
  auto st = c->Stats();
  REQUIRE(st.ok());
  for (const char* name : {"uptime_s", "connections", "requests_total", "errors_total",
                           "l1_items", "l1_bytes", "l1_hits", "l1_misses", "l1_evictions",
                           "l1_expired"}) {
    INFO(name);
    CHECK(st->count(name) == 1);
  }
  CHECK(st->at("requests_total") > 10);
}

TEST_CASE("client: a 1 MiB value round-trips") {
  StrataServer server;
  REQUIRE(server.Start());
  auto c = Client::Connect(server.socket());
  REQUIRE(c.ok());
  std::string big(1 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 + 7);
  REQUIRE(c->Set("big", big).value());
  CHECK(c->Get("big").value() == std::optional<std::string>(big));
}

TEST_CASE("client: moved-from and moved-to clients behave") {
  StrataServer server;
  REQUIRE(server.Start());
  auto c = Client::Connect(server.socket());
  REQUIRE(c.ok());
  Client moved = std::move(*c);
  CHECK(moved.Ping().ok());
  // One Client per thread: a client moved to another thread works there.
  std::thread t([cl = std::move(moved)]() mutable { CHECK(cl.Ping().ok()); });
  t.join();
}

TEST_CASE("client: reconnects after the server restarts") {
  StrataServer server;
  REQUIRE(server.Start());
  auto c = Client::Connect(server.socket(), {.timeout_ms = 3000});
  REQUIRE(c.ok());
  REQUIRE(c->Set("k", "v").value());
  CHECK(server.Stop() == 0);  // SIGTERM -> exit 0

  // While down: Unavailable, no crash, no hang.
  auto down = c->Get("k");
  REQUIRE_FALSE(down.ok());
  CHECK(down.status().code() == Code::kUnavailable);

  REQUIRE(server.Start());
  // The next call reconnects by itself (L1 only, so the value is gone).
  auto after = c->Get("k");
  INFO(after.status().ToString());
  REQUIRE(after.ok());
  CHECK_FALSE(after->has_value());
  CHECK(c->Set("k", "v2").value());
}

TEST_CASE("client: restart between calls on an idle connection is invisible") {
  StrataServer server;
  REQUIRE(server.Start());
  auto c = Client::Connect(server.socket(), {.timeout_ms = 3000});
  REQUIRE(c.ok());
  REQUIRE(c->Ping().ok());
  server.Stop();
  REQUIRE(server.Start());
  // The old connection is dead before anything is sent on it: re-opened.
  CHECK(c->Ping().ok());
}
