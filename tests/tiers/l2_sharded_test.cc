// L2Tier in sharded mode (consistent hashing over independent Redis servers)
// against real redis-server processes on loopback ports, started and stopped
// by PID by these tests. Where keys landed is checked on each server with an
// independent client (tests/support/redis_sync.h).
#include "tiers/l2_tier.h"

#include "tests/support/redis_server.h"
#include "tests/support/redis_sync.h"
#include "tests/support/uv_loop.h"

#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace strata {
namespace {

using testing::Loop;
using testing::RedisServer;
using testing::SyncRedis;
using Steady = std::chrono::steady_clock;

std::string AddressOf(const RedisServer& s) { return "127.0.0.1:" + std::to_string(s.port()); }

RedisEndpoint TcpEp(const RedisServer& s) {
  RedisEndpoint ep;
  ep.host = "127.0.0.1";
  ep.port = s.port();
  return ep;
}

L2Options Sharded(const std::vector<const RedisServer*>& servers) {
  L2Options o;
  o.mode = L2Options::Mode::kSharded;
  for (const auto* s : servers) o.endpoints.push_back(TcpEp(*s));
  o.connect_timeout_ms = 500;
  o.command_timeout_ms = 1000;
  o.reconnect_base_ms = 10;
  o.reconnect_max_ms = 50;
  return o;
}

std::unique_ptr<L2Tier> MakeTier(Loop& loop, L2Options o) {
  auto t = L2Tier::Create(loop.get(), std::move(o));
  REQUIRE(t.ok());
  return std::move(t).value();
}

bool AllConnected(Loop& loop, const L2Tier& tier) {
  return loop.RunUntil([&] {
    for (const auto& n : tier.Nodes()) {
      if (!n.connected) return false;
    }
    return true;
  });
}

void Destroy(Loop& loop, std::unique_ptr<L2Tier>& tier) {
  tier.reset();
  loop.RunFor(5);
}

std::string Key(int i) { return "key:" + std::to_string(i); }

// Sets keys [0, n) in batches of `batch` issued in one loop iteration each.
void SetMany(Loop& loop, L2Tier& tier, int n, int batch = 1000) {
  for (int base = 0; base < n; base += batch) {
    int want = std::min(batch, n - base), done = 0, failed = 0;
    for (int i = base; i < base + want; ++i) {
      tier.Set(Key(i), "v" + std::to_string(i), {}, [&](const WriteResult& w) {
        ++done;
        if (!w.status.ok() || !w.applied) ++failed;
      });
    }
    REQUIRE(loop.RunUntil([&] { return done == want; }, 5000));
    REQUIRE(failed == 0);
  }
}

struct GetOut {
  Status status;
  bool found = false;
  std::string value;
};

GetOut GetSync(Loop& loop, L2Tier& tier, const std::string& key) {
  std::optional<GetOut> out;
  tier.Get(key, [&](const GetResult& g) { out = GetOut{g.status, g.found, std::string(g.value)}; });
  REQUIRE(loop.RunUntil([&] { return out.has_value(); }));
  return *out;
}

}  // namespace

TEST_CASE("L2 sharded: 100k keys spread evenly; OwnerOf matches; key movement",
          "[l2][redis]") {
  auto a = RedisServer::Tcp();
  auto b = RedisServer::Tcp();
  auto c = RedisServer::Tcp();
  std::vector<const RedisServer*> three = {a.get(), b.get(), c.get()};
  Loop loop;
  auto tier = MakeTier(loop, Sharded(three));
  REQUIRE(AllConnected(loop, *tier));

  constexpr int kKeys = 100000;
  auto start = Steady::now();
  SetMany(loop, *tier, kKeys);
  INFO("100k sets took "
       << std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - start).count()
       << " ms");
  CHECK(tier->counters().errors == 0);

  // Even spread: each server within ±10% of a third.
  long long total = 0;
  for (const auto* s : three) {
    long long n = testing::Cmd(s->port(), {"DBSIZE"}).integer;
    INFO(AddressOf(*s) << " holds " << n);
    CHECK(n > kKeys / 3.0 * 0.9);
    CHECK(n < kKeys / 3.0 * 1.1);
    total += n;
  }
  CHECK(total == kKeys);

  // OwnerOf agrees with where the key is (sample of 1000, pipelined).
  {
    std::map<std::string, std::unique_ptr<SyncRedis>> conns;
    for (const auto* s : three) conns[AddressOf(*s)] = SyncRedis::ConnectTcp(s->port());
    for (auto& [addr, conn] : conns) REQUIRE(conn != nullptr);
    int mismatches = 0;
    for (int i = 0; i < kKeys; i += kKeys / 1000) {
      std::string owner = tier->OwnerOf(Key(i));
      REQUIRE(conns.count(owner) == 1);
      for (auto& [addr, conn] : conns) REQUIRE(conn->Send({"EXISTS", Key(i)}));
      for (auto& [addr, conn] : conns) {
        auto r = conn->Read();
        REQUIRE(r.has_value());
        if ((r->integer == 1) != (addr == owner)) ++mismatches;
      }
    }
    CHECK(mismatches == 0);
  }
  // And the tier reads them back.
  for (int i = 0; i < kKeys; i += kKeys / 100) {
    GetOut g = GetSync(loop, *tier, Key(i));
    REQUIRE(g.found);
    CHECK(g.value == "v" + std::to_string(i));
  }

  SECTION("adding a fourth node moves about a quarter, all to it") {
    auto d = RedisServer::Tcp();
    auto four = MakeTier(loop, Sharded({a.get(), b.get(), c.get(), d.get()}));
    int moved = 0, moved_elsewhere = 0;
    for (int i = 0; i < kKeys; ++i) {
      std::string before = tier->OwnerOf(Key(i));
      std::string after = four->OwnerOf(Key(i));
      if (before != after) {
        ++moved;
        if (after != AddressOf(*d)) ++moved_elsewhere;
      }
    }
    double fraction = static_cast<double>(moved) / kKeys;
    INFO("moved fraction " << fraction);
    CHECK(fraction > 0.20);
    CHECK(fraction < 0.30);
    CHECK(moved_elsewhere == 0);
    Destroy(loop, four);
  }
  SECTION("removing a node moves only its keys") {
    auto two = MakeTier(loop, Sharded({a.get(), b.get()}));
    int moved = 0, wrongly_moved = 0, of_c = 0;
    for (int i = 0; i < kKeys; ++i) {
      std::string before = tier->OwnerOf(Key(i));
      std::string after = two->OwnerOf(Key(i));
      if (before == AddressOf(*c)) ++of_c;
      if (before != after) {
        ++moved;
        if (before != AddressOf(*c)) ++wrongly_moved;
      }
    }
    CHECK(wrongly_moved == 0);
    CHECK(moved == of_c);
    // The endpoint order does not matter.
    auto reordered = MakeTier(loop, Sharded({c.get(), a.get(), b.get()}));
    int differ = 0;
    for (int i = 0; i < kKeys; i += 10) differ += tier->OwnerOf(Key(i)) != reordered->OwnerOf(Key(i));
    CHECK(differ == 0);
    Destroy(loop, reordered);
    Destroy(loop, two);
  }
  Destroy(loop, tier);
}

TEST_CASE("L2 sharded: hash tags keep a tag's keys on one server", "[l2][redis]") {
  auto a = RedisServer::Tcp();
  auto b = RedisServer::Tcp();
  auto c = RedisServer::Tcp();
  Loop loop;
  L2Options o = Sharded({a.get(), b.get(), c.get()});
  o.hash_tags = true;
  o.key_prefix = "app:";
  auto tier = MakeTier(loop, o);
  REQUIRE(AllConnected(loop, *tier));

  constexpr int kPerTag = 50;
  std::map<std::string, int> owners_of_tags;
  for (int tag = 0; tag < 20; ++tag) {
    std::string t = "{user" + std::to_string(tag) + "}:";
    std::string owner = tier->OwnerOf(t + "0");
    owners_of_tags[owner]++;
    int done = 0;
    for (int i = 0; i < kPerTag; ++i) {
      std::string k = t + std::to_string(i);
      CHECK(tier->OwnerOf(k) == owner);
      tier->Set(k, "v", {}, [&](const WriteResult& w) {
        CHECK(w.applied);
        ++done;
      });
    }
    REQUIRE(loop.RunUntil([&] { return done == kPerTag; }));
  }
  // Every server holds whole tags only (and the tags spread over servers).
  CHECK(owners_of_tags.size() >= 2);
  long long total = 0;
  for (const RedisServer* s : {a.get(), b.get(), c.get()}) {
    long long n = testing::Cmd(s->port(), {"DBSIZE"}).integer;
    CHECK(n == owners_of_tags[AddressOf(*s)] * kPerTag);
    total += n;
  }
  CHECK(total == 20 * kPerTag);
  // The keys are on the owner under the prefix.
  std::string owner42 = tier->OwnerOf("{user42}:a");
  int done = 0;
  for (const char* suffix : {"a", "b", "c", "d"}) {
    tier->Set(std::string("{user42}:") + suffix, suffix, {}, [&](const WriteResult&) { ++done; });
  }
  REQUIRE(loop.RunUntil([&] { return done == 4; }));
  for (const RedisServer* s : {a.get(), b.get(), c.get()}) {
    long long n = testing::Cmd(s->port(), {"EXISTS", "app:{user42}:a", "app:{user42}:b",
                                           "app:{user42}:c", "app:{user42}:d"})
                      .integer;
    CHECK(n == (AddressOf(*s) == owner42 ? 4 : 0));
  }
  Destroy(loop, tier);
}

TEST_CASE("L2 sharded: one server dead, the others keep working", "[l2][redis]") {
  auto a = RedisServer::Tcp();
  auto b = RedisServer::Tcp();
  auto c = RedisServer::Tcp();
  Loop loop;
  L2Options o = Sharded({a.get(), b.get(), c.get()});
  o.breaker.failure_threshold = 3;
  o.breaker.open_ms = 100;
  o.breaker.max_open_ms = 200;
  auto tier = MakeTier(loop, o);
  REQUIRE(AllConnected(loop, *tier));
  constexpr int kKeys = 600;
  SetMany(loop, *tier, kKeys, 200);

  std::string dead = AddressOf(*c);
  c->Stop(SIGKILL);
  int ok = 0, failed = 0, dead_keys = 0;
  int64_t worst_ms = 0;
  for (int i = 0; i < kKeys; ++i) {
    auto start = Steady::now();
    GetOut g = GetSync(loop, *tier, Key(i));
    int64_t took =
        std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - start).count();
    worst_ms = std::max(worst_ms, took);
    if (tier->OwnerOf(Key(i)) == dead) {
      ++dead_keys;
      INFO(g.status.message());
      CHECK(g.status.code() == Code::kUnavailable);
      if (!g.status.ok()) ++failed;
    } else {
      CHECK(g.status.ok());
      CHECK(g.found);
      CHECK(g.value == "v" + std::to_string(i));
      if (g.found) ++ok;
    }
  }
  INFO("slowest get " << worst_ms << " ms");
  CHECK(worst_ms < 300);
  CHECK(dead_keys > kKeys / 6);
  CHECK(failed == dead_keys);
  CHECK(ok == kKeys - dead_keys);
  CHECK(tier->counters().errors == static_cast<uint64_t>(dead_keys));
  CHECK(tier->counters().breaker_rejected > 0);
  CHECK(tier->counters().breakers_open == 1);
  CHECK(tier->counters().timeouts == 0);
  for (const auto& n : tier->Nodes()) {
    CHECK(n.connected == (n.address != dead));
  }
  Destroy(loop, tier);
}

}  // namespace strata
