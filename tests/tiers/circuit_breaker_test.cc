#include "tiers/circuit_breaker.h"

#include <catch2/catch.hpp>

namespace strata {
namespace {

using State = CircuitBreaker::State;

TEST_CASE("circuit breaker opens after N consecutive failures, not scattered ones") {
  ManualClock clock;
  CircuitBreaker b({.failure_threshold = 3, .open_ms = 100, .max_open_ms = 1000}, &clock);
  for (int i = 0; i < 10; ++i) {  // failures interleaved with successes never open it
    REQUIRE(b.Allow());
    b.OnFailure();
    REQUIRE(b.Allow());
    b.OnFailure();
    REQUIRE(b.Allow());
    b.OnSuccess();
  }
  CHECK(b.state() == State::kClosed);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(b.Allow());
    b.OnFailure();
  }
  CHECK(b.state() == State::kOpen);
  CHECK(b.times_opened() == 1);
  CHECK_FALSE(b.Allow());
  CHECK(b.rejected() == 1);
}

TEST_CASE("circuit breaker: one half-open probe after the cool-down; success closes") {
  ManualClock clock;
  CircuitBreaker b({.failure_threshold = 1, .open_ms = 100, .max_open_ms = 1000}, &clock);
  REQUIRE(b.Allow());
  b.OnFailure();
  clock.Advance(99);
  CHECK_FALSE(b.Allow());
  clock.Advance(1);
  CHECK(b.Allow());        // the probe
  CHECK(b.state() == State::kHalfOpen);
  CHECK_FALSE(b.Allow());  // only one probe at a time
  b.OnSuccess();
  CHECK(b.state() == State::kClosed);
  CHECK(b.Allow());
  CHECK(b.Allow());
}

TEST_CASE("circuit breaker: failed probes double the cool-down up to the cap, success resets it") {
  ManualClock clock;
  CircuitBreaker b({.failure_threshold = 1, .open_ms = 100, .max_open_ms = 350}, &clock);
  REQUIRE(b.Allow());
  b.OnFailure();  // open for 100 ms
  // Each failed probe re-opens with the cool-down doubled, capped at 350.
  for (int64_t cooldown : {100, 200, 350, 350}) {
    clock.Advance(cooldown - 1);
    CHECK_FALSE(b.Allow());
    clock.Advance(1);
    REQUIRE(b.Allow());  // the probe
    b.OnFailure();
  }
  CHECK(b.times_opened() == 5);
  // A successful probe closes the circuit and resets the cool-down.
  clock.Advance(350);
  REQUIRE(b.Allow());
  b.OnSuccess();
  REQUIRE(b.Allow());
  b.OnFailure();
  clock.Advance(99);
  CHECK_FALSE(b.Allow());
  clock.Advance(1);
  CHECK(b.Allow());
}

TEST_CASE("circuit breaker: late failures of requests allowed before opening are ignored") {
  ManualClock clock;
  CircuitBreaker b({.failure_threshold = 2, .open_ms = 100, .max_open_ms = 1000}, &clock);
  REQUIRE(b.Allow());
  REQUIRE(b.Allow());
  REQUIRE(b.Allow());
  b.OnFailure();
  b.OnFailure();  // opens
  b.OnFailure();  // a third in-flight request failing does not extend the cool-down
  CHECK(b.times_opened() == 1);
  clock.Advance(100);
  CHECK(b.Allow());
}

}  // namespace
}  // namespace strata

namespace strata {
namespace {

TEST_CASE("circuit breaker: EndCooldown lets the probe go at once; a closed breaker ignores it") {
  ManualClock clock;
  CircuitBreaker b({.failure_threshold = 1, .open_ms = 30000, .max_open_ms = 30000}, &clock);
  b.EndCooldown();
  CHECK(b.state() == CircuitBreaker::State::kClosed);
  REQUIRE(b.Allow());
  b.OnFailure();
  CHECK_FALSE(b.Allow());
  b.EndCooldown();  // e.g. the connection just reconnected
  CHECK(b.Allow());        // the probe, long before 30 s
  CHECK_FALSE(b.Allow());  // only one
  b.OnSuccess();
  CHECK(b.state() == CircuitBreaker::State::kClosed);
}

}  // namespace
}  // namespace strata
