// L2Node: one Redis endpoint as the L2 tier uses it: a RedisConnection and
// the circuit breaker that guards it.
//
// Send() issues a group of commands for one key back to back on the one
// connection (so they are pipelined and answered in order) and reports all
// their replies together: ok with one reply per command, or the first
// failure (TIMEOUT, UNAVAILABLE). With `asking`, each command is preceded by
// ASKING (Redis Cluster's one-shot permission to touch an importing slot);
// those replies are dropped. The breaker hears one success or failure per
// group; a group refused by an open breaker fails inline with UNAVAILABLE.
// When the connection completes a (re)connect, an open breaker ends its
// cool-down: the next group is the probe.
//
// Thread affinity: the loop thread of `loop`, like RedisConnection.
// Ownership: owns its connection; see RedisConnection for teardown.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <uv.h>

#include "common/clock.h"
#include "tiers/circuit_breaker.h"
#include "tiers/redis_connection.h"

namespace strata {

class L2Node {
 public:
  using Commands = std::vector<std::vector<std::string>>;
  using Done = std::function<void(Status, std::vector<RedisReply>)>;

  L2Node(uv_loop_t* loop, RedisConnection::Options options,
         const CircuitBreakerOptions& breaker, const Clock* clock);

  // REQUIRES: !commands.empty()
  void Send(const Commands& commands, bool asking, Done done);

  const std::string& address() const { return address_; }
  bool connected() const { return conn_->connected(); }
  bool readonly() const { return readonly_; }
  // Whether Send() would be refused right now without side effects on the
  // breaker: open, and the cool-down not over.
  bool breaker_open() const { return breaker_.state() != CircuitBreaker::State::kClosed; }
  CircuitBreaker::State breaker_state() const { return breaker_.state(); }
  uint64_t breaker_rejected() const { return breaker_.rejected(); }
  const RedisConnection& connection() const { return *conn_; }

 private:
  struct Group;

  std::string address_;
  bool readonly_;
  std::unique_ptr<RedisConnection> conn_;
  CircuitBreaker breaker_;
  uint64_t seen_connects_ = 0;
};

}  // namespace strata
