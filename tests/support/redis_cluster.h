// Test support: a real Redis Cluster of redis-server processes on loopback,
// for integration tests of the L2 Redis Cluster client. Started by the test,
// stopped by PID in the destructor (each node is a RedisServer child with
// PR_SET_PDEATHSIG, so a crashed test leaves nothing behind).
//
// Besides starting and forming the cluster, it drives the topology changes a
// cluster client must survive: live resharding of one slot (also step by step,
// so traffic can run while a slot is half migrated and the source answers
// -ASK), manual failover, and killing a node so that its replica is promoted
// by the node timeout. Every wait is bounded and fails the test with a reason.
//
// Single-threaded: call it from the test thread only. Catch2 only (REQUIRE).
// Node data directories live in a TempDir removed with the cluster; node i's
// cluster config is DIR/node-i/nodes.conf (the port is chosen by
// RedisServer::Tcp after the arguments are fixed), symlinked as
// DIR/nodes-<port>.conf for people reading a failed run.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/redis_server.h"
#include "tests/support/redis_sync.h"

namespace strata::testing {

inline constexpr const char* kRedisCliPath = "/usr/bin/redis-cli";
inline constexpr int kClusterSlots = 16384;

// Outside the class so that `Options opts = {}` works as a default argument.
struct RedisClusterOptions {
  int node_timeout_ms = 2000;  // --cluster-node-timeout; bounds KillNode's promotion time
  std::chrono::milliseconds ready_timeout{20000};  // Start(): create + every node ok
  std::vector<std::string> extra_args;             // appended to every node's command line
};

class RedisCluster {
 public:
  using Options = RedisClusterOptions;
  using Ms = std::chrono::milliseconds;

  // One CLUSTER SLOTS range as a node sees it.
  struct SlotRange {
    int start = 0;
    int end = 0;  // inclusive
    int master_port = 0;
    std::vector<int> replica_ports;
  };

  // Where MigrateSlot is when it calls its hook.
  enum class MigrationStep {
    kBegun,        // IMPORTING/MIGRATING set, no key moved yet
    kKeysMoved,    // after each MIGRATE batch (some keys moved: ASK territory)
    kAllKeysMoved  // slot empty on the source, SETSLOT NODE not yet sent
  };
  using MigrationHook = std::function<void(MigrationStep, size_t keys_moved_so_far)>;

  // Starts masters * (1 + replicas_per_master) nodes, forms the cluster with
  // `redis-cli --cluster create` and waits until every node reports
  // cluster_state:ok, knows every node, every replica has
  // master_link_status:up, and all nodes agree on the topology (Converged).
  // REQUIRES: masters >= 3 (redis-cli refuses fewer), replicas_per_master >= 0.
  static std::unique_ptr<RedisCluster> Start(int masters, int replicas_per_master,
                                             Options opts = {}) {
    REQUIRE(masters >= 3);
    REQUIRE(replicas_per_master >= 0);
    auto c = std::unique_ptr<RedisCluster>(new RedisCluster(std::move(opts)));
    const int n = masters * (1 + replicas_per_master);
    for (int i = 0; i < n; ++i) c->StartNode(i);

    std::vector<std::string> argv = {kRedisCliPath, "--cluster", "create"};
    for (const auto& node : c->nodes_) argv.push_back("127.0.0.1:" + std::to_string(node.port));
    argv.insert(argv.end(),
                {"--cluster-replicas", std::to_string(replicas_per_master), "--cluster-yes"});
    auto deadline = SteadyClock::now() + c->opts_.ready_timeout;
    c->RunTool(argv, c->dir_.path() + "/cluster-create.log", deadline);

    std::string why;
    bool ok = WaitUntil(deadline, [&] {
      if (!c->Converged(&why, static_cast<size_t>(n))) return false;
      if (c->MasterPorts().size() != static_cast<size_t>(masters)) {
        why = "not yet " + std::to_string(masters) + " masters";
        return false;
      }
      return true;
    });
    INFO("cluster not ready: " << why);
    REQUIRE(ok);
    return c;
  }

  // Stops every node by PID. SIGKILL, not SIGTERM: the data is throwaway, and
  // a Redis 7 master waits up to shutdown-timeout for lagging replicas.
  ~RedisCluster() {
    for (auto& node : nodes_) {
      if (node.server) node.server->Stop(SIGKILL);
    }
  }

  // Live (not killed) node ports, in start order.
  std::vector<int> ports() const {
    std::vector<int> out;
    for (const auto& node : nodes_) {
      if (node.server) out.push_back(node.port);
    }
    return out;
  }
  // Every node ever started, killed ones included.
  std::vector<int> AllPorts() const {
    std::vector<int> out;
    for (const auto& node : nodes_) out.push_back(node.port);
    return out;
  }
  bool IsAlive(int port) const {
    for (const auto& node : nodes_) {
      if (node.port == port) return node.server != nullptr;
    }
    return false;
  }
  const std::string& dir() const { return dir_.path(); }
  const Options& options() const { return opts_; }

  // Live nodes that currently say ROLE master (asks each node: roles change
  // with failovers).
  std::vector<int> MasterPorts() const {
    std::vector<int> out;
    for (int p : ports()) {
      auto role = TryCmd(p, {"ROLE"});
      if (role && role->type == Resp::Type::kArray && !role->elements.empty() &&
          role->elements[0].str == "master") {
        out.push_back(p);
      }
    }
    return out;
  }
  // Live nodes that say they replicate `master_port`.
  std::vector<int> ReplicasOf(int master_port) const {
    std::vector<int> out;
    for (int p : ports()) {
      if (ReplicaOf(p) == master_port) out.push_back(p);
    }
    return out;
  }
  // The port a live node replicates, or 0 if it is a master / unreachable.
  static int ReplicaOf(int port) {
    auto role = TryCmd(port, {"ROLE"});
    if (!role || role->type != Resp::Type::kArray || role->elements.size() < 3 ||
        role->elements[0].str != "slave") {
      return 0;
    }
    return static_cast<int>(role->elements[2].integer);
  }

  // The node's 40-character cluster id (CLUSTER MYID; cached, ids never change).
  std::string NodeId(int port) {
    auto it = ids_.find(port);
    if (it != ids_.end()) return it->second;
    Resp r = Cmd(port, {"CLUSTER", "MYID"});
    INFO(r);
    REQUIRE(r.type == Resp::Type::kBulk);
    ids_[port] = r.str;
    return r.str;
  }

  // CLUSTER SLOTS as `via_port` (default: first live node) sees it.
  std::vector<SlotRange> SlotRanges(int via_port = 0) const {
    auto r = SlotRangesOrNull(via_port ? via_port : FirstLive());
    INFO("CLUSTER SLOTS on " << (via_port ? via_port : FirstLive()));
    REQUIRE(r.has_value());
    return *r;
  }

  // The master port owning `slot` as `via_port` sees it; 0 if unassigned.
  int MasterOfSlot(int slot, int via_port = 0) const {
    for (const auto& r : SlotRanges(via_port)) {
      if (slot >= r.start && slot <= r.end) return r.master_port;
    }
    return 0;
  }

  // CLUSTER KEYSLOT on `via_port` (default: first live node).
  int KeySlot(const std::string& key, int via_port = 0) const {
    Resp r = Cmd(via_port ? via_port : FirstLive(), {"CLUSTER", "KEYSLOT", key});
    INFO(r);
    REQUIRE(r.type == Resp::Type::kInteger);
    return static_cast<int>(r.integer);
  }

  // ---- Live resharding of one slot, as documented for `CLUSTER SETSLOT`. ----

  // Marks `slot` IMPORTING on `to`, then MIGRATING on `from` (this order, so
  // that a client redirected by -ASK always finds the target ready).
  void BeginMigration(int slot, int from, int to) {
    const std::string s = std::to_string(slot);
    Resp r = Cmd(to, {"CLUSTER", "SETSLOT", s, "IMPORTING", NodeId(from)});
    INFO("SETSLOT IMPORTING on " << to << ": " << r);
    REQUIRE(r.IsOk());
    r = Cmd(from, {"CLUSTER", "SETSLOT", s, "MIGRATING", NodeId(to)});
    INFO("SETSLOT MIGRATING on " << from << ": " << r);
    REQUIRE(r.IsOk());
  }

  // Moves up to `n` of the slot's keys from `from` to `to` with one MIGRATE;
  // returns how many were moved (0: the slot is empty on `from`).
  size_t MoveSomeKeys(int slot, int from, int to, size_t n) {
    Resp keys = Cmd(from, {"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), std::to_string(n)});
    INFO("GETKEYSINSLOT on " << from << ": " << keys);
    REQUIRE(keys.type == Resp::Type::kArray);
    if (keys.elements.empty()) return 0;
    std::vector<std::string> argv = {"MIGRATE", "127.0.0.1", std::to_string(to), "", "0",
                                     "5000",    "KEYS"};
    for (const auto& k : keys.elements) argv.push_back(k.str);
    Resp r = Cmd(from, argv, Ms(7000));  // longer than MIGRATE's own 5000 ms
    INFO("MIGRATE on " << from << ": " << r);
    REQUIRE((r.IsOk() || (r.type == Resp::Type::kStatus && r.str == "NOKEY")));
    return keys.elements.size();
  }

  // Moves the remaining keys, then assigns the slot with SETSLOT NODE on the
  // target, the source, and every other live master; waits (bounded) until
  // every live node reports `to` as the slot's owner and the cluster has
  // converged (the new config epochs known everywhere).
  void FinishMigration(int slot, int from, int to) {
    while (MoveSomeKeys(slot, from, to, 100) > 0) {
    }
    AssignSlot(slot, from, to);
  }

  // The whole migration; `hook` (optional) runs between the steps.
  void MigrateSlot(int slot, int from, int to, const MigrationHook& hook = {}, size_t batch = 100) {
    BeginMigration(slot, from, to);
    if (hook) hook(MigrationStep::kBegun, 0);
    size_t total = 0;
    while (size_t moved = MoveSomeKeys(slot, from, to, batch)) {
      total += moved;
      if (hook) hook(MigrationStep::kKeysMoved, total);
    }
    if (hook) hook(MigrationStep::kAllKeysMoved, total);
    AssignSlot(slot, from, to);
  }

  // ---- Failures. ----

  // CLUSTER FAILOVER on a replica; waits until it says ROLE master and every
  // live node is ok and agrees on the topology (Converged).
  void Failover(int replica_port, Ms timeout = Ms(10000)) {
    REQUIRE(ReplicaOf(replica_port) != 0);
    // A master ignores the request from a replica it does not yet know as its
    // own, so the request waits for agreement (a no-op when already converged).
    WaitConverged(timeout);
    Resp r = Cmd(replica_port, {"CLUSTER", "FAILOVER"});
    INFO("CLUSTER FAILOVER on " << replica_port << ": " << r);
    REQUIRE(r.IsOk());
    WaitPromoted({replica_port}, timeout, "manual failover");
  }

  // SIGKILLs the node (by PID). If it was a master with replicas, waits
  // (bounded; default 5 node timeouts + 5 s) until one of them is promoted by
  // the node-timeout failure detection and the live nodes converge; returns
  // that replica's port. Returns 0 if the node was not a master with replicas.
  int KillNode(int port, std::optional<Ms> timeout = std::nullopt) {
    Node* node = Find(port);
    REQUIRE(node != nullptr);
    REQUIRE(node->server != nullptr);
    std::vector<int> replicas = ReplicasOf(port);
    node->server->Stop(SIGKILL);
    node->server.reset();
    if (replicas.empty()) return 0;
    return WaitPromoted(replicas, timeout.value_or(Ms(5 * opts_.node_timeout_ms + 5000)),
                        "automatic failover after killing " + std::to_string(port));
  }

  // True when every live node says cluster_state:ok with all slots assigned
  // (and, if given, knows `known_nodes` nodes), every live replica's link is
  // up, and all live nodes report the same slot map (CLUSTER SLOTS) and the
  // same roles, masters, config epochs and failed flags (CLUSTER NODES).
  // Otherwise `why` says what is missing.
  bool Converged(std::string* why, size_t known_nodes = 0) const {
    std::string first_map;
    for (int p : ports()) {
      const std::string at = " on " + std::to_string(p);
      auto info = TryCmd(p, {"CLUSTER", "INFO"});
      if (!info || info->type != Resp::Type::kBulk) return Why(why, "no CLUSTER INFO" + at);
      if (Field(info->str, "cluster_state") != "ok") return Why(why, "cluster_state not ok" + at);
      if (Field(info->str, "cluster_slots_assigned") != std::to_string(kClusterSlots)) {
        return Why(why, "slots not all assigned" + at);
      }
      if (known_nodes && Field(info->str, "cluster_known_nodes") != std::to_string(known_nodes)) {
        return Why(why, "cluster_known_nodes " + Field(info->str, "cluster_known_nodes") + at);
      }
      if (ReplicaOf(p) != 0) {
        auto repl = TryCmd(p, {"INFO", "replication"});
        if (!repl || Field(repl->str, "master_link_status") != "up") {
          return Why(why, "master_link_status not up" + at);
        }
      }
      auto ranges = SlotRangesOrNull(p);
      auto nodes = TryCmd(p, {"CLUSTER", "NODES"});
      if (!ranges || !nodes || nodes->type != Resp::Type::kBulk) {
        return Why(why, "no CLUSTER SLOTS/NODES" + at);
      }
      std::string map = MapSignature(*ranges) + "|" + NodesSignature(nodes->str);
      if (first_map.empty()) {
        first_map = map;
      } else if (map != first_map) {
        return Why(why, "slot map or node table differs" + at);
      }
    }
    return true;
  }

  // Waits (bounded) until Converged(); fails the test with the reason if not.
  void WaitConverged(Ms timeout = Ms(10000)) const {
    std::string why;
    bool ok = WaitUntil(SteadyClock::now() + timeout, [&] { return Converged(&why); });
    INFO("cluster did not converge within " << timeout.count() << " ms: " << why);
    REQUIRE(ok);
  }

  // Polls `done` every 20 ms until it returns true or `deadline` passes.
  static bool WaitUntil(SteadyClock::time_point deadline, const std::function<bool()>& done) {
    while (true) {
      if (done()) return true;
      if (SteadyClock::now() >= deadline) return false;
      std::this_thread::sleep_for(Ms(20));
    }
  }

 private:
  struct Node {
    int port = 0;
    std::unique_ptr<RedisServer> server;  // null once killed
  };

  explicit RedisCluster(Options opts) : opts_(std::move(opts)) {}

  void StartNode(int i) {
    const std::string node_dir = dir_.path() + "/node-" + std::to_string(i);
    std::filesystem::create_directories(node_dir);
    // clang-format off
    std::vector<std::string> args = {
        "--cluster-enabled", "yes",
        "--cluster-config-file", node_dir + "/nodes.conf",
        "--cluster-node-timeout", std::to_string(opts_.node_timeout_ms),
        "--dir", node_dir,
        // Replicas sync at once instead of waiting 5 s for more replicas.
        "--repl-diskless-sync-delay", "0",
        "--appendonly", "no", "--save", ""};
    // clang-format on
    args.insert(args.end(), opts_.extra_args.begin(), opts_.extra_args.end());
    Node node;
    node.server = RedisServer::Tcp(args, /*cluster_bus=*/true);
    REQUIRE(node.server != nullptr);
    node.port = node.server->port();
    std::error_code ec;  // the symlink is a convenience only
    std::filesystem::create_symlink(node_dir + "/nodes.conf",
                                    dir_.path() + "/nodes-" + std::to_string(node.port) + ".conf",
                                    ec);
    nodes_.push_back(std::move(node));
  }

  // Runs a tool (redis-cli) to completion before `deadline`, output to `log`.
  static void RunTool(const std::vector<std::string>& argv, const std::string& log,
                      SteadyClock::time_point deadline) {
    pid_t parent = getpid();
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int in = open("/dev/null", O_RDONLY);
      if (out >= 0) {
        dup2(out, STDOUT_FILENO);
        dup2(out, STDERR_FILENO);
      }
      if (in >= 0) dup2(in, STDIN_FILENO);
      if (getppid() != parent) _exit(1);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    int status = 0;
    bool exited = WaitUntil(deadline, [&] { return waitpid(pid, &status, WNOHANG) == pid; });
    if (!exited) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
    std::ifstream f(log);
    std::stringstream text;
    text << f.rdbuf();
    INFO(argv[0] << " " << argv[1] << " " << argv[2] << (exited ? "" : " timed out")
                 << "; output:\n"
                 << text.str());
    REQUIRE(exited);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
  }

  void AssignSlot(int slot, int from, int to) {
    const std::string s = std::to_string(slot);
    const std::string to_id = NodeId(to);
    // Target first: it bumps its config epoch, so the new owner wins in gossip.
    std::vector<int> order = {to, from};
    for (int m : MasterPorts()) {
      if (m != to && m != from) order.push_back(m);
    }
    for (int p : order) {
      Resp r = Cmd(p, {"CLUSTER", "SETSLOT", s, "NODE", to_id});
      INFO("SETSLOT NODE on " << p << ": " << r);
      REQUIRE(r.IsOk());
    }
    std::string why;
    bool ok = WaitUntil(SteadyClock::now() + Ms(10000), [&] {
      auto ranges = SlotRangesOrNull(FirstLive());
      int owner = 0;
      for (const auto& r : ranges.value_or(std::vector<SlotRange>{})) {
        if (slot >= r.start && slot <= r.end) owner = r.master_port;
      }
      if (owner != to) return Why(&why, "owner is still " + std::to_string(owner));
      return Converged(&why);  // everyone agrees, new epochs included
    });
    INFO("slot " << slot << " not yet owned by " << to << " everywhere: " << why);
    REQUIRE(ok);
  }

  int WaitPromoted(const std::vector<int>& candidates, Ms timeout, const std::string& what) {
    int promoted = 0;
    std::string why;
    bool ok = WaitUntil(SteadyClock::now() + timeout, [&] {
      promoted = 0;
      for (int p : candidates) {
        auto role = TryCmd(p, {"ROLE"});
        if (role && role->type == Resp::Type::kArray && !role->elements.empty() &&
            role->elements[0].str == "master") {
          promoted = p;
        }
      }
      if (!promoted) return Why(&why, "no candidate is master yet");
      return Converged(&why);
    });
    INFO(what << " did not complete within " << timeout.count() << " ms: " << why);
    REQUIRE(ok);
    return promoted;
  }

  std::optional<std::vector<SlotRange>> SlotRangesOrNull(int port) const {
    auto r = TryCmd(port, {"CLUSTER", "SLOTS"});
    if (!r || r->type != Resp::Type::kArray) return std::nullopt;
    std::vector<SlotRange> out;
    for (const auto& e : r->elements) {
      // [start, end, [ip, port, id, {meta}], replicas...]; Redis 7 adds the 4th field.
      if (e.type != Resp::Type::kArray || e.elements.size() < 3) return std::nullopt;
      SlotRange range;
      range.start = static_cast<int>(e.elements[0].integer);
      range.end = static_cast<int>(e.elements[1].integer);
      for (size_t i = 2; i < e.elements.size(); ++i) {
        const auto& n = e.elements[i];
        if (n.type != Resp::Type::kArray || n.elements.size() < 2) return std::nullopt;
        int p = static_cast<int>(n.elements[1].integer);
        if (i == 2) {
          range.master_port = p;
        } else {
          range.replica_ports.push_back(p);
        }
      }
      out.push_back(std::move(range));
    }
    std::sort(out.begin(), out.end(),
              [](const SlotRange& a, const SlotRange& b) { return a.start < b.start; });
    return out;
  }

  static std::string MapSignature(const std::vector<SlotRange>& ranges) {
    std::string s;
    for (const auto& r : ranges) {
      s += std::to_string(r.start) + "-" + std::to_string(r.end) + "@" +
           std::to_string(r.master_port) + ";";
    }
    return s;
  }

  // What every node must agree on in CLUSTER NODES: each node's role, master
  // and config epoch, and whether it is marked failed. Roles matter because a
  // master ignores a manual-failover request from a node it does not yet know
  // as its replica; epochs because voters deny a failover whose requester has
  // a stale view of its master's epoch. (PFAIL, "fail?", is local: left out.)
  static std::string NodesSignature(const std::string& text) {
    std::vector<std::string> rows;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string id, addr, flags, master, ping, pong, epoch;
      if (!(f >> id >> addr >> flags >> master >> ping >> pong >> epoch)) continue;
      const std::string flagged = "," + flags + ",";
      std::string role = flagged.find(",master,") != std::string::npos ? "M" : "S";
      if (flagged.find(",fail,") != std::string::npos) role += "!";
      rows.push_back(id + " " + role + " " + master + " " + epoch);
    }
    std::sort(rows.begin(), rows.end());
    std::string out;
    for (const auto& r : rows) out += r + ";";
    return out;
  }

  // Value of `name:` in an INFO-style text, "" if absent.
  static std::string Field(const std::string& text, const std::string& name) {
    size_t pos = 0;
    const std::string key = name + ":";
    while ((pos = text.find(key, pos)) != std::string::npos) {
      if (pos == 0 || text[pos - 1] == '\n') {
        size_t start = pos + key.size();
        size_t end = text.find_first_of("\r\n", start);
        return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
      }
      pos += key.size();
    }
    return "";
  }

  static bool Why(std::string* why, const std::string& reason) {
    if (why) *why = reason;
    return false;
  }

  Node* Find(int port) {
    for (auto& node : nodes_) {
      if (node.port == port) return &node;
    }
    return nullptr;
  }

  int FirstLive() const {
    auto live = ports();
    REQUIRE(!live.empty());
    return live.front();
  }

  TempDir dir_;  // declared first: destroyed after the nodes are stopped
  Options opts_;
  std::vector<Node> nodes_;
  std::map<int, std::string> ids_;
};

}  // namespace strata::testing
