// CircuitBreaker: stops sending to an endpoint that keeps failing, and
// probes it again after a cool-down (the classic closed / open / half-open
// machine, as in Envoy's outlier detection and Hystrix).
//
//   closed    -- N consecutive failures -->  open
//   open      -- open_ms elapsed          -->  half-open (one probe allowed)
//   half-open -- probe succeeds           -->  closed
//   half-open -- probe fails              -->  open (cool-down doubles, up to max_open_ms)
//
// Callers ask Allow() before sending; a false answer means "fail fast with
// UNAVAILABLE without touching the endpoint". Every request that was allowed
// must be reported with OnSuccess() or OnFailure().
//
// Thread affinity: not thread-safe; one breaker per endpoint per loop thread
// (like the connection it guards). Time comes from the injected Clock.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/clock.h"

namespace strata {

struct CircuitBreakerOptions {
  uint32_t failure_threshold = 5;  // consecutive failures that open the circuit
  int64_t open_ms = 1000;          // first cool-down before a probe
  int64_t max_open_ms = 30000;     // cool-down cap after repeated failed probes
};

class CircuitBreaker {
 public:
  enum class State : uint8_t { kClosed, kOpen, kHalfOpen };

  CircuitBreaker(const CircuitBreakerOptions& options, const Clock* clock);

  // Whether a request may be sent now. In half-open state only one probe is
  // allowed until it is reported.
  bool Allow();
  void OnSuccess();
  void OnFailure();
  // Evidence the endpoint is back (e.g. its connection just reconnected):
  // an open breaker skips the rest of its cool-down, so the next Allow()
  // sends the probe at once instead of after up to max_open_ms.
  void EndCooldown();

  State state() const { return state_; }
  static std::string_view StateName(State s);
  uint64_t times_opened() const { return times_opened_; }
  uint64_t rejected() const { return rejected_; }

 private:
  void Open();

  CircuitBreakerOptions options_;
  const Clock* clock_;
  State state_ = State::kClosed;
  uint32_t consecutive_failures_ = 0;
  int64_t open_until_ms_ = 0;
  int64_t current_open_ms_;
  bool probe_in_flight_ = false;
  uint64_t times_opened_ = 0;
  uint64_t rejected_ = 0;
};

}  // namespace strata
