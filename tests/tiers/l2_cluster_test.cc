// L2Tier in Redis Cluster mode against a real cluster of redis-server
// processes (tests/support/redis_cluster.h): discovery from one seed, CRC16
// routing (hash tags, key prefix), pipelined gets across slots, MOVED after a
// resharding the tier did not see, ASK while a slot is half migrated under
// traffic, failover (manual and by killing a master), replica reads, and
// unreachable seeds. What the tier stored is checked with an independent
// client (tests/support/redis_sync.h) on the node that must own the key.
//
// Every wait is bounded; the loop is a private one driven by the test thread
// (tests/support/uv_loop.h).
#include "tiers/l2_tier.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "routing/cluster_slots.h"
#include "tests/support/redis_cluster.h"
#include "tests/support/redis_sync.h"
#include "tests/support/uv_loop.h"

namespace strata {
namespace {

using testing::Cmd;
using testing::Loop;
using testing::RedisCluster;
using testing::RedisClusterOptions;
using testing::Resp;
using testing::SyncRedis;
using Steady = std::chrono::steady_clock;

int64_t MsSince(Steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - t).count();
}

std::string Addr(int port) { return "127.0.0.1:" + std::to_string(port); }

RedisEndpoint Seed(int port) {
  auto ep = ParseRedisEndpoint("redis://127.0.0.1:" + std::to_string(port));
  REQUIRE(ep.ok());
  return ep.value();
}

L2Options ClusterOpts(const std::vector<int>& seed_ports) {
  L2Options o;
  o.mode = L2Options::Mode::kCluster;
  for (int p : seed_ports) o.endpoints.push_back(Seed(p));
  o.connect_timeout_ms = 500;
  o.command_timeout_ms = 1000;
  o.reconnect_base_ms = 10;
  o.reconnect_max_ms = 100;
  return o;
}

struct GetOut {
  Status status;
  bool found = false;
  std::string value;
};

GetOut ToOut(const GetResult& g) { return GetOut{g.status, g.found, std::string(g.value)}; }

// One L2Tier on a private loop with bounded synchronous wrappers.
class Env {
 public:
  explicit Env(L2Options o) {
    auto t = L2Tier::Create(loop.get(), std::move(o));
    REQUIRE(t.ok());
    tier = std::move(t).value();
  }
  ~Env() {
    tier.reset();
    loop.RunFor(5);  // close callbacks
  }

  bool WaitReady(int timeout_ms = 5000) {
    return loop.RunUntil([&] { return tier->topology_ready(); }, timeout_ms);
  }

  GetOut Get(std::string_view key, int timeout_ms = 3000) {
    std::optional<GetOut> out;
    tier->Get(key, [&](const GetResult& g) { out = ToOut(g); });
    REQUIRE(loop.RunUntil([&] { return out.has_value(); }, timeout_ms));
    return *out;
  }
  WriteResult Set(std::string_view key, std::string_view value, int timeout_ms = 3000) {
    std::optional<WriteResult> out;
    tier->Set(key, value, WriteOptions{}, [&](const WriteResult& w) { out = w; });
    REQUIRE(loop.RunUntil([&] { return out.has_value(); }, timeout_ms));
    return *out;
  }

  // Sets every key (all issued in one loop iteration); REQUIREs all ok.
  void SetAll(const std::vector<std::string>& keys, const std::vector<std::string>& values) {
    size_t done = 0;
    std::vector<std::string> failures;
    for (size_t i = 0; i < keys.size(); ++i) {
      tier->Set(keys[i], values[i], WriteOptions{}, [&, i](const WriteResult& w) {
        ++done;
        if (!w.status.ok() || !w.applied) failures.push_back(keys[i] + ": " + w.status.ToString());
      });
    }
    REQUIRE(loop.RunUntil([&] { return done == keys.size(); }, 10000));
    INFO((failures.empty() ? std::string() : failures.front()));
    REQUIRE(failures.empty());
  }

  // Gets every key (all issued in one loop iteration); the answers by index.
  std::vector<std::optional<GetOut>> GetAll(const std::vector<std::string>& keys) {
    std::vector<std::optional<GetOut>> out(keys.size());
    size_t done = 0;
    for (size_t i = 0; i < keys.size(); ++i) {
      tier->Get(keys[i], [&, i](const GetResult& g) {
        REQUIRE_FALSE(out[i].has_value());  // exactly one answer per callback
        out[i] = ToOut(g);
        ++done;
      });
    }
    REQUIRE(loop.RunUntil([&] { return done == keys.size(); }, 10000));
    return out;
  }

  Loop loop;
  std::unique_ptr<L2Tier> tier;
};

// slot -> master port, as the cluster sees it now.
std::vector<int> SlotOwners(const RedisCluster& c) {
  std::vector<int> owner(kClusterSlots, 0);
  for (const auto& r : c.SlotRanges()) {
    for (int s = r.start; s <= r.end; ++s) owner[s] = r.master_port;
  }
  return owner;
}

// CLUSTER KEYSLOT of every key, asked of the cluster on one connection.
std::vector<int> ClusterKeySlots(int port, const std::vector<std::string>& keys) {
  auto c = SyncRedis::ConnectTcp(port);
  REQUIRE(c);
  std::vector<int> out;
  out.reserve(keys.size());
  for (const auto& k : keys) {
    auto r = c->Command({"CLUSTER", "KEYSLOT", k});
    REQUIRE(r.has_value());
    REQUIRE(r->type == Resp::Type::kInteger);
    out.push_back(static_cast<int>(r->integer));
  }
  return out;
}

// "calls=N" of cmdstat_<cmd> in INFO commandstats (0 when never called).
long long CommandCalls(int port, const std::string& cmd) {
  Resp info = Cmd(port, {"INFO", "commandstats"});
  const std::string needle = "cmdstat_" + cmd + ":calls=";
  auto pos = info.str.find(needle);
  if (pos == std::string::npos) return 0;
  return std::atoll(info.str.c_str() + pos + needle.size());
}

// Makes sure every write `master` has accepted so far reached one replica:
// a SET of a key the master owns followed by WAIT 1 on the same connection
// (the replication stream is ordered, so everything before it is there too).
void SyncReplica(int master, const std::vector<int>& owners) {
  std::string key;
  for (int i = 0; key.empty(); ++i) {
    std::string k = "sync:" + std::to_string(i);
    if (owners[KeySlot(k)] == master) key = k;
  }
  auto c = SyncRedis::ConnectTcp(master);
  REQUIRE(c);
  REQUIRE(c->Command({"SET", key, "x"})->IsOk());
  auto w = c->Command({"WAIT", "1", "3000"});
  REQUIRE(w.has_value());
  INFO("WAIT on " << master << ": " << *w);
  REQUIRE(w->integer == 1);
}

// Three masters with one replica each; a dead master is failed over in ~1 s.
std::unique_ptr<RedisCluster> StartFailoverCluster() {
  RedisClusterOptions copts;
  copts.node_timeout_ms = 1000;
  return RedisCluster::Start(3, 1, copts);
}

// The first of `keys` whose slot `master` owns (FAILs if none).
std::string KeyOwnedBy(const std::vector<int>& owners, int master,
                       const std::vector<std::string>& keys) {
  for (const auto& k : keys) {
    if (owners[KeySlot(k)] == master) return k;
  }
  FAIL("no key on " << master);
  return std::string();
}

// A TCP port on loopback that nothing listens on (bound, then released).
int DeadPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  close(fd);
  return ntohs(a.sin_port);
}

}  // namespace

TEST_CASE("L2 cluster: discovers the map from one seed and routes every key to its slot owner",
          "[l2][l2cluster][redis][cluster]") {
  auto cluster = RedisCluster::Start(3, 0);
  const std::vector<int> masters = cluster->MasterPorts();
  REQUIRE(masters.size() == 3);
  const std::vector<int> owners = SlotOwners(*cluster);

  std::vector<std::string> keys;
  for (int i = 0; i < 1500; ++i) keys.push_back("key:" + std::to_string(i));
  for (int i = 0; i < 500; ++i) {
    keys.push_back("{user" + std::to_string(i % 25) + "}:" + std::to_string(i));
  }
  keys.push_back("{}empty-tag");
  keys.push_back("a{b}c{d}");

  for (const std::string prefix : {"", "p:"}) {
    INFO("key_prefix '" << prefix << "'");
    std::vector<std::string> redis_keys;
    for (const auto& k : keys) redis_keys.push_back(prefix + k);
    const std::vector<int> slots = ClusterKeySlots(masters[1], redis_keys);

    L2Options o = ClusterOpts({masters[1]});  // one seed
    o.key_prefix = prefix;
    Env env(std::move(o));
    REQUIRE(env.WaitReady());

    std::set<int> used;
    for (size_t i = 0; i < keys.size(); ++i) {
      INFO(keys[i] << " slot " << slots[i]);
      REQUIRE(KeySlot(redis_keys[i]) == slots[i]);
      REQUIRE(env.tier->OwnerOf(keys[i]) == Addr(owners[slots[i]]));
      used.insert(owners[slots[i]]);
    }
    REQUIRE(used.size() == 3);
    // Hash tags keep a user's keys together.
    REQUIRE(env.tier->OwnerOf("{user7}:a") == env.tier->OwnerOf("{user7}:b"));

    std::vector<std::string> values;
    for (size_t i = 0; i < keys.size(); ++i) values.push_back("v" + prefix + std::to_string(i));
    env.SetAll(keys, values);
    auto got = env.GetAll(keys);
    for (size_t i = 0; i < keys.size(); ++i) {
      INFO(keys[i]);
      REQUIRE(got[i]->status.ok());
      REQUIRE(got[i]->found);
      REQUIRE(got[i]->value == values[i]);
    }
    // Stored on the owner itself (a GET there is not redirected).
    std::map<int, std::unique_ptr<SyncRedis>> conns;
    for (int m : masters) conns[m] = SyncRedis::ConnectTcp(m);
    for (size_t i = 0; i < keys.size(); ++i) {
      auto r = conns[owners[slots[i]]]->Command({"GET", redis_keys[i]});
      INFO(redis_keys[i] << " on " << owners[slots[i]]);
      REQUIRE(r.has_value());
      REQUIRE(r->type == Resp::Type::kBulk);
      REQUIRE(r->str == values[i]);
    }
    // Ttl, Delete and a miss, on keys spread over the masters.
    for (size_t i = 0; i < keys.size(); i += 97) {
      INFO(keys[i]);
      std::optional<TtlResult> ttl;
      env.tier->Ttl(keys[i], [&](const TtlResult& r) { ttl = r; });
      REQUIRE(env.loop.RunUntil([&] { return ttl.has_value(); }));
      REQUIRE(ttl->status.ok());
      REQUIRE(ttl->ttl_ms == -1);
      std::optional<WriteResult> del;
      env.tier->Delete(keys[i], [&](const WriteResult& w) { del = w; });
      REQUIRE(env.loop.RunUntil([&] { return del.has_value(); }));
      REQUIRE(del->status.ok());
      REQUIRE(del->applied);
      GetOut miss = env.Get(keys[i]);
      REQUIRE(miss.status.ok());
      REQUIRE_FALSE(miss.found);
      REQUIRE(Cmd(owners[slots[i]], {"EXISTS", redis_keys[i]}).integer == 0);
    }
    CHECK(env.tier->counters().moved.load() == 0);
    CHECK(env.tier->counters().errors.load() == 0);
    // The tier connected to every master, not only the seed.
    size_t connected = 0;
    for (const auto& n : env.tier->Nodes()) connected += n.connected && !n.replica ? 1 : 0;
    CHECK(connected == 3);
  }
}

TEST_CASE("L2 cluster: 500 gets across every slot owner in one loop iteration",
          "[l2][l2cluster][redis][cluster]") {
  auto cluster = RedisCluster::Start(3, 0);
  const std::vector<int> owners = SlotOwners(*cluster);

  std::vector<std::string> keys;
  std::map<int, int> per_master;
  for (int i = 0; i < 500; ++i) {
    keys.push_back("m:" + std::to_string(i));
    ++per_master[owners[KeySlot(keys.back())]];
  }
  REQUIRE(per_master.size() == 3);
  for (const auto& [port, n] : per_master) CHECK(n > 100);
  // Written behind the tier's back, on the owners; every 10th key stays absent.
  for (int i = 0; i < 500; ++i) {
    if (i % 10 == 9) continue;
    REQUIRE(Cmd(owners[KeySlot(keys[i])], {"SET", keys[i], "val-" + std::to_string(i)}).IsOk());
  }
  // A few duplicates: they share a lookup and still get their own callback.
  std::vector<std::string> asked = keys;
  for (int i = 0; i < 20; ++i) asked.push_back(keys[i * 7]);
  auto check = [&](const std::vector<std::optional<GetOut>>& got) {
    for (size_t j = 0; j < asked.size(); ++j) {
      size_t i = j < keys.size() ? j : static_cast<size_t>((j - keys.size()) * 7);
      INFO(asked[j] << " " << got[j]->status.ToString());
      REQUIRE(got[j]->status.ok());
      if (i % 10 == 9) {
        REQUIRE_FALSE(got[j]->found);
      } else {
        REQUIRE(got[j]->found);
        REQUIRE(got[j]->value == "val-" + std::to_string(i));
      }
    }
  };

  // The first seed is dead; the gets are issued at once, before any map is
  // loaded: they go to a seed and follow its MOVED replies.
  Env env(ClusterOpts({DeadPort(), cluster->MasterPorts()[0]}));
  REQUIRE_FALSE(env.tier->topology_ready());
  check(env.GetAll(asked));
  CHECK(env.tier->counters().errors.load() == 0);
  REQUIRE(env.WaitReady());

  // Again with the map: no redirect, one pipelined batch per master.
  const L2Counters& c = env.tier->counters();
  const uint64_t moved = c.moved.load(), coalesced = c.coalesced.load(), hits = c.hits.load(),
                 misses = c.misses.load();
  check(env.GetAll(asked));
  CHECK(c.coalesced.load() - coalesced == 20);
  CHECK(c.hits.load() - hits == 450);
  CHECK(c.misses.load() - misses == 50);
  CHECK(c.moved.load() == moved);
  CHECK(c.errors.load() == 0);
}

TEST_CASE("L2 cluster: MOVED after a resharding the tier did not see updates the map",
          "[l2][l2cluster][redis][cluster]") {
  auto cluster = RedisCluster::Start(3, 0);
  const std::vector<int> masters = cluster->MasterPorts();
  L2Options o = ClusterOpts({masters[0]});
  o.topology_refresh_ms = 0;  // only errors refresh the map
  Env env(std::move(o));
  REQUIRE(env.WaitReady());

  std::vector<std::string> keys;
  for (int i = 0; i < 20; ++i) keys.push_back("{moved}k" + std::to_string(i));
  const int slot = KeySlot(keys[0]);
  const int from = cluster->MasterOfSlot(slot);
  const int to = masters[0] != from ? masters[0] : masters[1];
  std::vector<std::string> values;
  for (int i = 0; i < 20; ++i) values.push_back("old" + std::to_string(i));
  env.SetAll(keys, values);
  REQUIRE(env.tier->OwnerOf(keys[0]) == Addr(from));

  cluster->MigrateSlot(slot, from, to);
  REQUIRE(Cmd(from, {"GET", keys[0]}).IsErrorWith("MOVED"));
  const uint64_t refreshes = env.tier->counters().topology_refreshes.load();
  // Nothing has told the tier yet.
  REQUIRE(env.tier->OwnerOf(keys[0]) == Addr(from));

  // A write first: MOVED, followed, stored on the new owner.
  WriteResult w = env.Set(keys[1], "new1");
  INFO(w.status.ToString());
  REQUIRE(w.status.ok());
  REQUIRE(w.applied);
  CHECK(env.tier->counters().moved.load() == 1);
  CHECK(Cmd(to, {"GET", keys[1]}).str == "new1");
  CHECK(env.tier->OwnerOf(keys[0]) == Addr(to));

  // Later operations on the slot go straight to the new owner.
  for (int i = 0; i < 20; ++i) {
    GetOut g = env.Get(keys[i]);
    INFO(keys[i] << " " << g.status.ToString());
    REQUIRE(g.status.ok());
    REQUIRE(g.found);
    REQUIRE(g.value == (i == 1 ? "new1" : values[i]));
  }
  REQUIRE(env.Set(keys[2], "new2").status.ok());
  CHECK(Cmd(to, {"GET", keys[2]}).str == "new2");
  CHECK(env.tier->counters().moved.load() == 1);
  CHECK(env.tier->counters().errors.load() == 0);
  // The MOVED also asked for a fresh map.
  CHECK(env.loop.RunUntil(
      [&] { return env.tier->counters().topology_refreshes.load() > refreshes; }, 2000));
}

TEST_CASE("L2 cluster: a slot migrated under traffic loses no operation and no write",
          "[l2][l2cluster][redis][cluster]") {
  auto cluster = RedisCluster::Start(3, 0);
  const std::vector<int> masters = cluster->MasterPorts();
  L2Options o = ClusterOpts({masters[0]});
  // The loop does not run while the harness blocks (FINISH waits for the
  // cluster to converge): the replies wait in the socket, not a timeout.
  o.command_timeout_ms = 10000;
  Env env(std::move(o));
  REQUIRE(env.WaitReady());

  constexpr int kKeys = 200;
  constexpr int kInFlight = 50;
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) keys.push_back("{hot}k" + std::to_string(i));
  const int slot = KeySlot(keys[0]);
  const int from = cluster->MasterOfSlot(slot);
  const int to = masters[0] != from ? masters[0] : masters[1];
  std::vector<std::string> expect(kKeys);
  for (int i = 0; i < kKeys; ++i) expect[i] = "v0-" + std::to_string(i);
  env.SetAll(keys, expect);

  // Traffic: at most one operation per key in flight (a cluster client, like
  // Redis itself, orders only what it has been given in order), ~50 in all;
  // every get must see the key's last completed write.
  struct Traffic {
    bool running = true;
    bool pumping = false;
    int in_flight = 0;
    uint64_t ops = 0, sets = 0, gets = 0;
    std::vector<bool> busy = std::vector<bool>(kKeys, false);
    std::vector<std::string> failures;
    std::mt19937 rng{42};
  } t;
  std::function<void()> pump = [&] {
    if (t.pumping) return;
    t.pumping = true;
    while (t.running && t.in_flight < kInFlight) {
      int k = static_cast<int>(t.rng() % kKeys);
      while (t.busy[k]) k = (k + 1) % kKeys;
      t.busy[k] = true;
      ++t.in_flight;
      uint64_t n = ++t.ops;
      if (n % 2 == 0) {
        std::string v = "v" + std::to_string(n) + "-" + std::to_string(k);
        env.tier->Set(keys[k], v, WriteOptions{}, [&, k, v](const WriteResult& w) {
          if (!w.status.ok() || !w.applied) {
            t.failures.push_back("set " + keys[k] + ": " + w.status.ToString());
          } else {
            expect[k] = v;
          }
          ++t.sets;
          t.busy[k] = false;
          --t.in_flight;
          pump();
        });
      } else {
        env.tier->Get(keys[k], [&, k](const GetResult& g) {
          if (!g.status.ok()) {
            t.failures.push_back("get " + keys[k] + ": " + g.status.ToString());
          } else if (!g.found || g.value != expect[k]) {
            t.failures.push_back("get " + keys[k] + ": got '" + std::string(g.value) +
                                 "' want '" + expect[k] + "'");
          }
          ++t.gets;
          t.busy[k] = false;
          --t.in_flight;
          pump();
        });
      }
    }
    t.pumping = false;
  };
  auto run_traffic = [&](int ms) {
    pump();
    env.loop.RunFor(ms);
  };

  run_traffic(100);
  REQUIRE(t.failures.empty());
  cluster->BeginMigration(slot, from, to);
  run_traffic(100);
  size_t moved_keys = 0;
  int batches = 0;
  while (size_t n = cluster->MoveSomeKeys(slot, from, to, 25)) {
    moved_keys += n;
    ++batches;
    run_traffic(60);
  }
  CHECK(moved_keys == kKeys);  // each key moves once (none is ever deleted)
  CHECK(batches >= 8);
  const uint64_t ask_during = env.tier->counters().ask.load();
  const uint64_t moved_during = env.tier->counters().moved.load();
  cluster->FinishMigration(slot, from, to);
  run_traffic(300);
  t.running = false;
  REQUIRE(env.loop.RunUntil([&] { return t.in_flight == 0; }, 10000));

  WARN("migration under traffic: ops=" << t.ops << " sets=" << t.sets << " gets=" << t.gets << " ask=" << ask_during
              << " moved=" << env.tier->counters().moved.load()
              << " first failure: " << (t.failures.empty() ? "" : t.failures.front()));
  CHECK(t.failures.empty());
  CHECK(env.tier->counters().errors.load() == 0);
  CHECK(ask_during >= 1);
  CHECK(moved_during == 0);
  CHECK(env.tier->counters().moved.load() >= 1);
  CHECK(t.ops > 1000);
  CHECK(env.tier->OwnerOf(keys[0]) == Addr(to));
  // Every key holds its last written value, on the new owner.
  auto c = SyncRedis::ConnectTcp(to);
  REQUIRE(c);
  for (int i = 0; i < kKeys; ++i) {
    auto r = c->Command({"GET", keys[i]});
    INFO(keys[i]);
    REQUIRE(r.has_value());
    REQUIRE(r->str == expect[i]);
  }
  REQUIRE(Cmd(from, {"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)}).integer == 0);
}

TEST_CASE("L2 cluster: manual failover and a killed master are survived without a new tier",
          "[l2][l2cluster][redis][cluster]") {
  auto cluster = StartFailoverCluster();
  const std::vector<int> masters = cluster->MasterPorts();
  REQUIRE(masters.size() == 3);
  std::vector<int> owners = SlotOwners(*cluster);

  L2Options o = ClusterOpts(masters);
  o.command_timeout_ms = 300;
  o.breaker.open_ms = 200;
  o.breaker.max_open_ms = 400;
  Env env(std::move(o));
  REQUIRE(env.WaitReady());

  std::vector<std::string> keys;
  std::vector<std::string> values;
  for (int i = 0; i < 300; ++i) {
    keys.push_back("f:" + std::to_string(i));
    values.push_back("fv" + std::to_string(i));
  }
  env.SetAll(keys, values);
  for (int m : masters) SyncReplica(m, owners);

  auto key_on = [&](int master) { return KeyOwnedBy(owners, master, keys); };
  auto value_of = [&](const std::string& k) { return "fv" + k.substr(2); };

  // Polls a get of `key` every 20 ms until one succeeds (bounded); returns
  // the failures seen before, each with its latency.
  struct Failure {
    Status status;
    int64_t ms;
  };
  auto poll_until_ok = [&](const std::string& key, int timeout_ms,
                           const std::function<bool()>& keep_going) {
    std::vector<Failure> failures;
    std::optional<GetOut> ok;
    auto deadline = Steady::now() + std::chrono::milliseconds(timeout_ms);
    while (Steady::now() < deadline) {
      std::optional<GetOut> out;
      auto start = Steady::now();
      env.tier->Get(key, [&](const GetResult& g) { out = ToOut(g); });
      env.loop.RunUntil([&] { return out.has_value(); }, 5000);
      if (!out) {
        failures.push_back({Status::Internal("no answer within 5 s"), MsSince(start)});
        break;
      }
      if (out->status.ok() && !keep_going()) {
        ok = out;
        break;
      }
      if (!out->status.ok()) failures.push_back({out->status, MsSince(start)});
      env.loop.RunFor(20);
    }
    return std::make_pair(ok, failures);
  };
  auto check_failures = [&](const std::vector<Failure>& failures, int64_t max_ms) {
    for (const auto& f : failures) {
      INFO(f.status.ToString() << " after " << f.ms << " ms");
      CHECK((f.status.code() == Code::kUnavailable || f.status.code() == Code::kTimeout));
      CHECK(f.ms <= max_ms);
    }
  };

  // 1. Manual failover of the first shard: the old master turns replica and
  // redirects; the tier follows.
  {
    const int victim = masters[0];
    const std::string key = key_on(victim);
    const int replica = cluster->ReplicasOf(victim).at(0);
    const uint64_t refreshes = env.tier->counters().topology_refreshes.load();
    cluster->Failover(replica);
    auto start = Steady::now();
    auto [ok, failures] = poll_until_ok(key, 15000, [] { return false; });
    WARN("manual failover: " << failures.size() << " failed gets, first ok get after "
                             << MsSince(start) << " ms, moved=" << env.tier->counters().moved.load());
    REQUIRE(ok.has_value());
    CHECK(ok->found);
    CHECK(ok->value == value_of(key));
    check_failures(failures, 1000);
    CHECK(env.loop.RunUntil([&] { return env.tier->OwnerOf(key) == Addr(replica); }, 3000));
    // The MOVED from the demoted master asked for a fresh map.
    CHECK(env.loop.RunUntil(
        [&] { return env.tier->counters().topology_refreshes.load() > refreshes; }, 3000));
    // Every key of that shard reads back through the new master.
    std::vector<std::string> shard;
    for (const auto& k : keys) {
      if (owners[KeySlot(k)] == victim) shard.push_back(k);
    }
    auto got = env.GetAll(shard);
    for (size_t i = 0; i < shard.size(); ++i) {
      INFO(shard[i] << " " << got[i]->status.ToString());
      REQUIRE(got[i]->status.ok());
      REQUIRE(got[i]->value == value_of(shard[i]));
    }
  }

  // 2. Kill the second shard's master while the tier keeps asking: gets of
  // its keys fail fast for a while, then the promoted replica serves them.
  {
    const int victim = masters[1];
    const std::string key = key_on(victim);
    const uint64_t refreshes = env.tier->counters().topology_refreshes.load();
    const uint64_t topo_errors = env.tier->counters().topology_errors.load();
    std::atomic<bool> killed{false};
    std::atomic<int> promoted{0};
    // The harness blocks until the promotion; the loop runs meanwhile. No
    // Catch assertion on this thread until the join.
    std::thread killer([&] {
      promoted = cluster->KillNode(victim);
      killed = true;
    });
    auto start = Steady::now();
    auto [ok, failures] = poll_until_ok(key, 20000, [&] { return !killed.load(); });
    int64_t recovered_ms = MsSince(start);
    killer.join();
    REQUIRE(promoted.load() != 0);
    int64_t slowest = 0;
    for (const auto& f : failures) slowest = std::max(slowest, f.ms);
    WARN("kill: " << failures.size() << " failed gets (slowest " << slowest
                  << " ms), recovered " << recovered_ms << " ms after the kill began; first failure: "
                  << (failures.empty() ? "" : failures.front().status.ToString())
                  << "; topology_refreshes +"
                  << env.tier->counters().topology_refreshes.load() - refreshes
                  << " topology_errors +"
                  << env.tier->counters().topology_errors.load() - topo_errors);
    REQUIRE(ok.has_value());
    CHECK(ok->found);
    CHECK(ok->value == value_of(key));
    CHECK(!failures.empty());
    check_failures(failures, 1000);
    CHECK(recovered_ms < 15000);
    CHECK(env.tier->OwnerOf(key) == Addr(promoted.load()));
    CHECK(env.tier->counters().topology_refreshes.load() > refreshes);
    // All keys, every shard, through the same tier.
    auto got = env.GetAll(keys);
    for (size_t i = 0; i < keys.size(); ++i) {
      INFO(keys[i] << " " << got[i]->status.ToString());
      REQUIRE(got[i]->status.ok());
      REQUIRE(got[i]->value == values[i]);
    }
    REQUIRE(env.Set(key, "after-kill").status.ok());
    CHECK(Cmd(promoted.load(), {"GET", key}).str == "after-kill");
  }
}

TEST_CASE("L2 cluster: the connection to a master that left the slot map is closed",
          "[l2][l2cluster][redis][cluster]") {
  auto cluster = StartFailoverCluster();
  const std::vector<int> masters = cluster->MasterPorts();
  REQUIRE(masters.size() == 3);
  std::vector<int> owners = SlotOwners(*cluster);

  // One seed: the other masters are known only from the map.
  L2Options o = ClusterOpts({masters[0]});
  o.topology_refresh_ms = 200;
  Env env(std::move(o));
  REQUIRE(env.WaitReady());

  // A key on each master, so that the tier holds a connection to each.
  std::vector<std::string> candidates;
  for (int i = 0; i < 1000; ++i) candidates.push_back("r:" + std::to_string(i));
  auto key_on = [&](int master) { return KeyOwnedBy(owners, master, candidates); };
  for (int m : masters) REQUIRE(env.Set(key_on(m), "before").status.ok());
  const int victim = masters[1];
  const std::string key = key_on(victim);
  SyncReplica(victim, owners);
  auto holds = [&](int port) {
    for (const auto& n : env.tier->Nodes()) {
      if (n.address == Addr(port)) return true;
    }
    return false;
  };
  for (int m : masters) REQUIRE(holds(m));
  REQUIRE(env.tier->counters().nodes_retired.load() == 0);

  // The master dies and its replica takes over: the dead node is in no slot
  // range (and no seed), so its reconnecting connection is dropped.
  const int promoted = cluster->KillNode(victim);
  REQUIRE(promoted != 0);
  CHECK(env.loop.RunUntil([&] { return !holds(victim); }, 10000));
  CHECK(env.tier->counters().nodes_retired.load() >= 1);
  CHECK(env.tier->counters().nodes.load() == env.tier->Nodes().size());
  // Its keys are served by the promoted replica; the seed stays.
  GetOut got;
  CHECK(env.loop.RunUntil(
      [&] {
        got = env.Get(key);
        return got.status.ok();
      },
      5000));
  CHECK(got.value == "before");
  CHECK(env.tier->OwnerOf(key) == Addr(promoted));
  CHECK(holds(promoted));
  CHECK(holds(masters[0]));
  // The live masters are never retired, however often the map is re-read.
  const uint64_t retired = env.tier->counters().nodes_retired.load();
  const uint64_t refreshes = env.tier->counters().topology_refreshes.load();
  CHECK(env.loop.RunUntil(
      [&] { return env.tier->counters().topology_refreshes.load() >= refreshes + 3; }, 5000));
  CHECK(env.tier->counters().nodes_retired.load() == retired);
  CHECK(holds(masters[2]));
}

TEST_CASE("L2 cluster: read_from_replicas serves gets from READONLY replica connections",
          "[l2][l2cluster][redis][cluster]") {
  auto cluster = RedisCluster::Start(3, 1);
  const std::vector<int> masters = cluster->MasterPorts();
  const std::vector<int> owners = SlotOwners(*cluster);
  std::vector<int> replicas;
  for (int m : masters) replicas.push_back(cluster->ReplicasOf(m).at(0));
  // Redis 7 leaves a replica out of CLUSTER SLOTS while its replication
  // offset is 0 (nothing written since the sync) and until the others have
  // heard the new offset by gossip; a tier started before would only learn
  // the replicas at its next periodic refresh.
  for (int m : masters) SyncReplica(m, owners);
  bool listed = RedisCluster::WaitUntil(Steady::now() + std::chrono::seconds(10), [&] {
    for (int p : cluster->ports()) {
      for (const auto& r : cluster->SlotRanges(p)) {
        if (r.replica_ports.size() != 1) return false;
      }
    }
    return true;
  });
  REQUIRE(listed);

  L2Options o = ClusterOpts({masters[2]});
  o.read_from_replicas = true;
  Env env(std::move(o));
  REQUIRE(env.WaitReady());

  std::vector<std::string> keys, values;
  for (int i = 0; i < 300; ++i) {
    keys.push_back("r:" + std::to_string(i));
    values.push_back("rv" + std::to_string(i));
  }
  env.SetAll(keys, values);
  for (int m : masters) SyncReplica(m, owners);

  // The first gets open the replica connections (and are served by the
  // masters until those are up).
  auto warm = env.GetAll(keys);
  for (size_t i = 0; i < keys.size(); ++i) REQUIRE(warm[i]->value == values[i]);
  bool replicas_up = env.loop.RunUntil(
      [&] {
        int up = 0;
        for (const auto& n : env.tier->Nodes()) up += n.replica && n.connected ? 1 : 0;
        return up == 3;
      },
      3000);
  for (const auto& n : env.tier->Nodes()) {
    UNSCOPED_INFO(n.address << " replica=" << n.replica << " connected=" << n.connected
                            << " breaker=" << static_cast<int>(n.breaker));
  }
  REQUIRE(replicas_up);
  std::set<std::string> replica_addrs;
  for (const auto& n : env.tier->Nodes()) {
    if (n.replica) replica_addrs.insert(n.address);
  }
  std::set<std::string> want;
  for (int r : replicas) want.insert(Addr(r));
  CHECK(replica_addrs == want);

  std::map<int, long long> before;
  for (int p : cluster->ports()) before[p] = CommandCalls(p, "get");
  auto got = env.GetAll(keys);
  for (size_t i = 0; i < keys.size(); ++i) {
    INFO(keys[i]);
    REQUIRE(got[i]->status.ok());
    REQUIRE(got[i]->found);
    REQUIRE(got[i]->value == values[i]);
  }
  long long on_replicas = 0, on_masters = 0;
  for (int r : replicas) {
    long long d = CommandCalls(r, "get") - before[r];
    CHECK(d > 0);
    on_replicas += d;
    CHECK(CommandCalls(r, "readonly") >= 1);
  }
  for (int m : masters) on_masters += CommandCalls(m, "get") - before[m];
  CHECK(on_replicas == 300);
  CHECK(on_masters == 0);
  // Writes still go to the masters.
  REQUIRE(env.Set(keys[0], "changed").status.ok());
  CHECK(Cmd(owners[KeySlot(keys[0])], {"GET", keys[0]}).str == "changed");
  CHECK(env.tier->counters().errors.load() == 0);
}

TEST_CASE("L2 cluster: unreachable seeds fail operations fast with UNAVAILABLE",
          "[l2][l2cluster][redis][cluster]") {
  L2Options o = ClusterOpts({DeadPort(), DeadPort()});
  Env env(std::move(o));
  for (int i = 0; i < 5; ++i) {
    auto start = Steady::now();
    GetOut g = env.Get("k" + std::to_string(i), 2000);
    INFO(g.status.ToString());
    CHECK(g.status.code() == Code::kUnavailable);
    CHECK(MsSince(start) < 600);
    start = Steady::now();
    WriteResult w = env.Set("k", "v", 2000);
    CHECK(w.status.code() == Code::kUnavailable);
    CHECK(MsSince(start) < 600);
    env.loop.RunFor(50);
  }
  CHECK(env.loop.RunUntil([&] { return env.tier->counters().topology_errors.load() >= 2; }, 3000));
  CHECK_FALSE(env.tier->topology_ready());
  CHECK(env.tier->OwnerOf("k").empty());
  CHECK(env.tier->counters().errors.load() == 10);
}

TEST_CASE("L2 cluster: CLUSTERDOWN is retried with backoff and then reported",
          "[l2][l2cluster][redis][cluster]") {
  auto cluster = RedisCluster::Start(3, 0);
  const std::vector<int> masters = cluster->MasterPorts();
  L2Options o = ClusterOpts({masters[0]});
  o.max_retries = 4;
  o.retry_base_ms = 20;  // 20 + 40 + 80 + 160 ms
  Env env(std::move(o));
  REQUIRE(env.WaitReady());
  const std::string key = "down:1";
  const int slot = KeySlot(key);
  const int owner = cluster->MasterOfSlot(slot);
  REQUIRE(env.Set(key, "v").status.ok());

  // The owner gives up the slot: with full coverage required, it answers
  // CLUSTERDOWN for every key.
  REQUIRE(Cmd(owner, {"CLUSTER", "DELSLOTS", std::to_string(slot)}).IsOk());
  REQUIRE(Cmd(owner, {"GET", key}).IsErrorWith("CLUSTERDOWN"));
  auto start = Steady::now();
  GetOut g = env.Get(key, 5000);
  INFO(g.status.ToString());
  CHECK(g.status.code() == Code::kUnavailable);
  CHECK(g.status.message().find("CLUSTERDOWN") != std::string::npos);
  CHECK(MsSince(start) >= 250);
  CHECK(MsSince(start) < 3000);
  CHECK(env.tier->counters().retries.load() == 4);

  // Down while a get is being retried, back before its retries run out.
  std::optional<GetOut> out;
  env.tier->Get(key, [&](const GetResult& r) { out = ToOut(r); });
  REQUIRE(env.loop.RunUntil([&] { return env.tier->counters().retries.load() >= 6; }, 3000));
  REQUIRE_FALSE(out.has_value());
  REQUIRE(Cmd(owner, {"CLUSTER", "ADDSLOTS", std::to_string(slot)}).IsOk());
  REQUIRE(env.loop.RunUntil([&] { return out.has_value(); }, 5000));
  INFO(out->status.ToString());
  CHECK(out->status.ok());
  CHECK(out->found);
  CHECK(out->value == "v");

  // Destroyed while a get waits for its retry: answered, timer freed.
  REQUIRE(Cmd(owner, {"CLUSTER", "DELSLOTS", std::to_string(slot)}).IsOk());
  std::optional<GetOut> last;
  const uint64_t retries = env.tier->counters().retries.load();
  env.tier->Get(key, [&](const GetResult& r) { last = ToOut(r); });
  REQUIRE(env.loop.RunUntil([&] { return env.tier->counters().retries.load() > retries; }, 3000));
  REQUIRE_FALSE(last.has_value());
  env.tier.reset();
  REQUIRE(last.has_value());
  CHECK(last->status.code() == Code::kUnavailable);
  REQUIRE(Cmd(owner, {"CLUSTER", "ADDSLOTS", std::to_string(slot)}).IsOk());
}

}  // namespace strata
