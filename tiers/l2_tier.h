// L2Tier: Redis as Strata's shared second tier, in one of three modes.
//
//   standalone  one endpoint.
//   sharded     several independent Redis servers; a key goes to its owner on
//               a murmur3 consistent-hash ring with virtual nodes
//               (routing/hash_ring.h), optionally by its {hash tag}.
//   cluster     a real Redis Cluster: the slot map comes from CLUSTER SLOTS
//               asked of any seed, keys route by CRC16 slot, MOVED updates
//               the map and resends, ASK sends ASKING + the command to the
//               target, TRYAGAIN / CLUSTERDOWN / LOADING are retried with
//               backoff, and the map is refreshed after errors and
//               periodically. After each refresh, connections to nodes
//               that are no longer in the map (nor seeds) are closed once
//               nothing is in flight on them. Optional replica reads
//               (READONLY).
//
// Wire format. The value stored in Redis is exactly the bytes the app gave
// (another Redis client can read it) under key_prefix + key. A get is
// `GET k` + `PTTL k` in one pipelined round trip; a set is `SET k v [PX ms]
// [NX|XX]` (the TTL travels as the remaining milliseconds, so the hosts'
// clocks need not agree); expire is `PEXPIRE`; delete is `DEL`; ttl `PTTL`.
// Several operations issued in one loop iteration leave in one write per
// node (hiredis buffers until the loop polls), so an mget is one pipelined
// batch per node.
//
// Coalescing. Concurrent gets of one key on one loop share one Redis round
// trip: every waiter receives its answer. A write, delete or expire of the
// key detaches the shared lookup, so a get issued after a write never joins
// a lookup issued before it.
//
// Failure. Each node has a RedisConnection (reconnect with backoff and
// jitter) and a CircuitBreaker. A request to a node that is down or whose
// breaker is open fails at once with UNAVAILABLE; a request that gets no
// reply within command_timeout_ms fails with TIMEOUT. Nothing waits for a
// reconnect, nothing hangs.
//
// Thread affinity. One L2Tier per loop thread (each loop owns its hiredis
// connections). Construct, call and destroy on the thread that runs `loop`;
// callbacks fire on that thread, either inline (fail-fast errors) or from the
// loop. counters() may be read from any thread.
//
// Ownership. The tier owns its connections and timers. Their memory is freed
// in libuv close callbacks: after the destructor the loop must run once more
// before uv_loop_close().
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <uv.h>

#include "common/clock.h"
#include "common/status.h"
#include "tiers/circuit_breaker.h"
#include "tiers/redis_connection.h"
#include "tiers/tier.h"

namespace strata {

// Counters of one L2Tier (one loop). Written by the loop thread, read by any.
// Only the loop thread writes them (plain load+store, no read-modify-write).
struct L2Counters {
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> errors{0};      // operations answered with a failed status
  std::atomic<uint64_t> timeouts{0};    // ... of which TIMEOUT
  std::atomic<uint64_t> breaker_rejected{0};  // failed fast by an open breaker
  std::atomic<uint64_t> moved{0};       // MOVED redirects followed
  std::atomic<uint64_t> ask{0};         // ASK redirects followed
  std::atomic<uint64_t> retries{0};     // TRYAGAIN / CLUSTERDOWN / LOADING retries
  std::atomic<uint64_t> coalesced{0};   // gets that joined another get's lookup
  std::atomic<uint64_t> topology_refreshes{0};
  std::atomic<uint64_t> topology_errors{0};
  // Cluster: connections closed because their node left the slot map (a
  // failed master replaced by its replica, a node removed by resharding).
  std::atomic<uint64_t> nodes_retired{0};
  // Gauges, updated as connections change state (and once a second).
  std::atomic<uint64_t> nodes{0};            // connections this loop holds
  std::atomic<uint64_t> nodes_connected{0};
  std::atomic<uint64_t> breakers_open{0};    // open or half-open
  // Per connection, as of the last gauge update (state changes, and once a
  // second): for per-endpoint metrics. Read with endpoints_mu held.
  struct Endpoint {
    std::string address;
    bool connected = false;
    CircuitBreaker::State breaker = CircuitBreaker::State::kClosed;
  };
  mutable std::mutex endpoints_mu;
  std::vector<Endpoint> endpoints;
};

struct L2Options {
  enum class Mode : uint8_t { kStandalone, kSharded, kCluster };
  Mode mode = Mode::kStandalone;
  // standalone: exactly one; sharded: one or more (the ring's nodes, named by
  // RedisEndpoint::RingName()); cluster: seeds (any reachable node will do;
  // credentials and db of the first apply to every node).
  std::vector<RedisEndpoint> endpoints;
  std::string key_prefix;    // prepended to every key sent to Redis
  bool hash_tags = false;    // sharded: route "{tag}rest" by "tag"
  int vnodes = 2048;         // sharded: virtual nodes per endpoint
  int64_t connect_timeout_ms = 1000;
  int64_t command_timeout_ms = 250;
  int64_t reconnect_base_ms = 50;
  int64_t reconnect_max_ms = 5000;
  CircuitBreakerOptions breaker;
  bool read_from_replicas = false;     // cluster: gets and ttls go to a replica
  int64_t topology_refresh_ms = 10000; // cluster: periodic CLUSTER SLOTS; 0 = only after errors
  int max_redirects = 5;     // MOVED/ASK hops for one request before giving up
  int max_retries = 5;       // TRYAGAIN/CLUSTERDOWN/LOADING retries per request
  int64_t retry_base_ms = 10;  // first retry delay; doubles per retry
  Clock* clock = nullptr;      // nullptr = SystemClock
  // Where to count (borrowed; must outlive the tier), so that an owner can
  // keep reading them after the tier is gone; nullptr = the tier's own.
  L2Counters* counters = nullptr;
};

class L2Tier final : public Tier {
 public:
  // Validates options (BadArgs naming the field) and starts connecting.
  static StatusOr<std::unique_ptr<L2Tier>> Create(uv_loop_t* loop, L2Options options);
  ~L2Tier() override;
  L2Tier(const L2Tier&) = delete;
  L2Tier& operator=(const L2Tier&) = delete;

  std::string_view name() const override { return "l2"; }
  void Get(std::string_view key, GetCallback done) override;
  void Set(std::string_view key, std::string_view value, const WriteOptions& options,
           WriteCallback done) override;
  void Delete(std::string_view key, WriteCallback done) override;
  void Expire(std::string_view key, int64_t expire_at_ms, WriteCallback done) override;
  void Ttl(std::string_view key, TtlCallback done) override;

  const L2Counters& counters() const;

  // --- loop thread only; for tests, stats and readiness ---

  // Where `key` would be sent now: the node's address ("host:port" or the
  // Unix socket path). Cluster mode: "" while the slot is unknown.
  std::string OwnerOf(std::string_view key) const;
  // Cluster: whether a slot map covering every slot has been loaded.
  bool topology_ready() const;
  // Cluster: ask CLUSTER SLOTS now (coalesced with one already in flight).
  void RefreshTopology();
  struct NodeState {
    std::string address;
    bool connected = false;
    CircuitBreaker::State breaker = CircuitBreaker::State::kClosed;
    bool replica = false;
  };
  std::vector<NodeState> Nodes() const;

 private:
  class Impl;
  explicit L2Tier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata
