// Proves the Redis Cluster test harness (tests/support/redis_cluster.h) and its
// synchronous RESP client (tests/support/redis_sync.h) against real
// redis-server processes, so that L2 cluster-client tests built on them can
// trust what they are told: slots, redirections, ASK mid-migration, failovers.
#include <catch2/catch.hpp>
#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/redis_cluster.h"
#include "tests/support/redis_server.h"
#include "tests/support/redis_sync.h"

namespace strata {
namespace {

using testing::Cmd;
using testing::RedisCluster;
using testing::RedisClusterOptions;
using testing::RedisServer;
using testing::Resp;
using testing::SyncRedis;
using testing::TempDir;
using Clock = std::chrono::steady_clock;
using Step = RedisCluster::MigrationStep;

// Phase timings, shown with the test's messages (run with -s to see them).
// (No commas or semicolons in test names: CTest and Catch filters split on them.)
class Stopwatch {
 public:
  void Lap(const std::string& what) {
    auto now = Clock::now();
    out_ << what << "="
         << std::chrono::duration_cast<std::chrono::milliseconds>(now - last_).count() << "ms ";
    last_ = now;
  }
  std::string str() const { return out_.str(); }

 private:
  Clock::time_point last_ = Clock::now();
  std::ostringstream out_;
};

std::string Addr(int port) { return "127.0.0.1:" + std::to_string(port); }

// SET, then WAIT for one replica on the same connection: WAIT waits for the
// offset of that connection's last write, so a fresh connection returns at once.
void SetOnMasterAndReplica(int port, const std::string& key, const std::string& value) {
  auto c = SyncRedis::ConnectTcp(port);
  REQUIRE(c);
  REQUIRE(c->Command({"SET", key, value})->IsOk());
  REQUIRE(c->Command({"WAIT", "1", "2000"})->integer == 1);
}

TEST_CASE("SyncRedis reads status error integer bulk nil and nested array replies",
          "[redis][cluster]") {
  TempDir dir;
  auto server = RedisServer::Unix(dir.path());
  auto c = SyncRedis::ConnectUnix(server->sock());
  REQUIRE(c);

  const std::string binary("a\0b\r\nc", 6);
  REQUIRE(c->Command({"SET", "k", binary})->IsOk());
  Resp got = *c->Command({"GET", "k"});
  REQUIRE(got.type == Resp::Type::kBulk);
  REQUIRE(got.str == binary);
  REQUIRE(c->Command({"SET", "empty", ""})->IsOk());
  REQUIRE(c->Command({"GET", "empty"})->type == Resp::Type::kBulk);
  REQUIRE(c->Command({"GET", "missing"})->IsNil());
  REQUIRE(c->Command({"INCR", "n"})->integer == 1);
  Resp err = *c->Command({"NOSUCHCOMMAND"});
  REQUIRE(err.IsErrorWith("ERR"));

  Resp nested = *c->Command({"EVAL", "return {1, {'a', {2}}, 'x'}", "0"});
  REQUIRE(nested.Debug() == "[:1, [\"a\", [:2]], \"x\"]");

  // Pipelining: two commands sent before either reply is read.
  REQUIRE(c->Send({"INCR", "n"}));
  REQUIRE(c->Send({"INCR", "n"}));
  REQUIRE(c->Read()->integer == 2);
  REQUIRE(c->Read()->integer == 3);
}

TEST_CASE("RedisCluster of 3 masters and 3 replicas redirects with ASK and MOVED and fails over",
          "[redis][cluster]") {
  Stopwatch sw;
  auto cluster = RedisCluster::Start(3, 1);
  sw.Lap("start");

  const std::vector<int> ports = cluster->ports();
  REQUIRE(ports.size() == 6);
  const std::vector<int> masters = cluster->MasterPorts();
  REQUIRE(masters.size() == 3);
  for (int m : masters) REQUIRE(cluster->ReplicasOf(m).size() == 1);
  for (int p : ports) REQUIRE(cluster->NodeId(p).size() == 40);

  // KEYSLOT: two nodes agree, with the value the Redis docs give, and hash tags work.
  REQUIRE(cluster->KeySlot("foo", ports.front()) == 12182);
  REQUIRE(cluster->KeySlot("foo", ports.back()) == 12182);
  REQUIRE(cluster->KeySlot("{user1000}.following") == cluster->KeySlot("{user1000}.followers"));

  // A key set on its owner is readable there; another master redirects.
  const int foo_slot = cluster->KeySlot("foo");
  const int owner = cluster->MasterOfSlot(foo_slot);
  REQUIRE(Cmd(owner, {"SET", "foo", "bar"}).IsOk());
  REQUIRE(Cmd(owner, {"GET", "foo"}).str == "bar");
  for (int m : masters) {
    if (m == owner) continue;
    REQUIRE(Cmd(m, {"GET", "foo"}).str == "MOVED " + std::to_string(foo_slot) + " " + Addr(owner));
  }
  sw.Lap("keys");

  // Step-by-step migration of a slot holding 50 keys.
  const int slot = cluster->KeySlot("{mig}k0");
  const int from = cluster->MasterOfSlot(slot);
  const int to = masters[0] != from ? masters[0] : masters[1];
  for (int i = 0; i < 50; ++i) {
    REQUIRE(Cmd(from, {"SET", "{mig}k" + std::to_string(i), "v" + std::to_string(i)}).IsOk());
  }
  const std::string s = std::to_string(slot);
  REQUIRE(Cmd(from, {"CLUSTER", "COUNTKEYSINSLOT", s}).integer == 50);

  cluster->BeginMigration(slot, from, to);
  REQUIRE(cluster->MoveSomeKeys(slot, from, to, 10) == 10);
  const std::string moved = Cmd(to, {"CLUSTER", "GETKEYSINSLOT", s, "1"}).elements.at(0).str;
  const std::string stayed = Cmd(from, {"CLUSTER", "GETKEYSINSLOT", s, "1"}).elements.at(0).str;
  const std::string moved_value = "v" + moved.substr(std::string("{mig}k").size());
  const std::string stayed_value = "v" + stayed.substr(std::string("{mig}k").size());

  // Half migrated: the source answers ASK for a moved key, serves the others;
  // the target redirects back unless the command follows ASKING.
  REQUIRE(Cmd(from, {"GET", moved}).str == "ASK " + s + " " + Addr(to));
  REQUIRE(Cmd(from, {"GET", stayed}).str == stayed_value);
  REQUIRE(Cmd(to, {"GET", moved}).str == "MOVED " + s + " " + Addr(from));
  {
    auto conn = SyncRedis::ConnectTcp(to);
    REQUIRE(conn);
    REQUIRE(conn->Command({"ASKING"})->IsOk());
    REQUIRE(conn->Command({"GET", moved})->str == moved_value);
  }

  cluster->FinishMigration(slot, from, to);
  REQUIRE(Cmd(from, {"GET", moved}).str == "MOVED " + s + " " + Addr(to));
  REQUIRE(Cmd(from, {"GET", stayed}).str == "MOVED " + s + " " + Addr(to));
  REQUIRE(Cmd(to, {"GET", stayed}).str == stayed_value);
  REQUIRE(Cmd(to, {"CLUSTER", "COUNTKEYSINSLOT", s}).integer == 50);
  for (int p : cluster->ports()) REQUIRE(cluster->MasterOfSlot(slot, p) == to);
  sw.Lap("migrate_steps");

  // The one-call form, back again; the hook sees every step.
  std::vector<std::string> steps;
  cluster->MigrateSlot(
      slot, to, from,
      [&](Step step, size_t n) {
        steps.push_back(std::to_string(static_cast<int>(step)) + ":" + std::to_string(n));
        if (step == Step::kKeysMoved && n < 50) {
          const std::string k = Cmd(from, {"CLUSTER", "GETKEYSINSLOT", s, "1"}).elements.at(0).str;
          REQUIRE(Cmd(to, {"GET", k}).str == "ASK " + s + " " + Addr(from));
        }
      },
      /*batch=*/20);
  REQUIRE(steps == std::vector<std::string>{"0:0", "1:20", "1:40", "1:50", "2:50"});
  REQUIRE(cluster->MasterOfSlot(slot) == from);
  REQUIRE(Cmd(from, {"GET", moved}).str == moved_value);
  sw.Lap("migrate_slot");

  // Manual failover promotes the replica, which has the data.
  const int replica = cluster->ReplicasOf(owner).at(0);
  SetOnMasterAndReplica(owner, "foo", "baz");
  cluster->Failover(replica);
  REQUIRE(cluster->MasterOfSlot(foo_slot) == replica);
  REQUIRE(RedisCluster::ReplicaOf(owner) == replica);
  REQUIRE(Cmd(replica, {"GET", "foo"}).str == "baz");
  REQUIRE(Cmd(owner, {"GET", "foo"}).str ==
          "MOVED " + std::to_string(foo_slot) + " " + Addr(replica));
  sw.Lap("failover");

  INFO("timings: " << sw.str());
  SUCCEED();
}

TEST_CASE("RedisCluster promotes a killed master's replica after the node timeout",
          "[redis][cluster]") {
  Stopwatch sw;
  RedisClusterOptions opts;
  opts.node_timeout_ms = 1000;
  auto cluster = RedisCluster::Start(3, 1, opts);
  sw.Lap("start");

  const int slot = cluster->KeySlot("foo");
  const int owner = cluster->MasterOfSlot(slot);
  const int replica = cluster->ReplicasOf(owner).at(0);
  SetOnMasterAndReplica(owner, "foo", "bar");

  REQUIRE(cluster->KillNode(owner) == replica);
  sw.Lap("kill_to_promoted");
  REQUIRE_FALSE(cluster->IsAlive(owner));
  REQUIRE(cluster->ports().size() == 5);
  REQUIRE(cluster->MasterOfSlot(slot) == replica);
  REQUIRE(Cmd(replica, {"GET", "foo"}).str == "bar");

  INFO("timings: " << sw.str());
  SUCCEED();
}

}  // namespace
}  // namespace strata
