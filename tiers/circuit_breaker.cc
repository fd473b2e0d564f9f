#include "tiers/circuit_breaker.h"

#include <algorithm>

namespace strata {

CircuitBreaker::CircuitBreaker(const CircuitBreakerOptions& options, const Clock* clock)
    : options_(options), clock_(clock), current_open_ms_(options.open_ms) {}

bool CircuitBreaker::Allow() {
  switch (state_) {
    case State::kClosed:
      return true;
    case State::kOpen:
      if (clock_->NowMs() < open_until_ms_) {
        ++rejected_;
        return false;
      }
      state_ = State::kHalfOpen;
      probe_in_flight_ = false;
      [[fallthrough]];
    case State::kHalfOpen:
      if (probe_in_flight_) {
        ++rejected_;
        return false;
      }
      probe_in_flight_ = true;
      return true;
  }
  return false;
}

void CircuitBreaker::OnSuccess() {
  consecutive_failures_ = 0;
  if (state_ != State::kClosed) {
    state_ = State::kClosed;
    probe_in_flight_ = false;
    current_open_ms_ = options_.open_ms;  // a healthy endpoint starts over
  }
}

void CircuitBreaker::OnFailure() {
  if (state_ == State::kHalfOpen) {
    // The probe failed: back off longer before the next one.
    current_open_ms_ = std::min(current_open_ms_ * 2, options_.max_open_ms);
    Open();
    return;
  }
  if (state_ == State::kOpen) return;  // a request allowed before opening
  if (++consecutive_failures_ >= options_.failure_threshold) Open();
}

void CircuitBreaker::EndCooldown() {
  if (state_ == State::kOpen) open_until_ms_ = 0;
}

void CircuitBreaker::Open() {
  state_ = State::kOpen;
  probe_in_flight_ = false;
  consecutive_failures_ = 0;
  open_until_ms_ = clock_->NowMs() + current_open_ms_;
  ++times_opened_;
}

std::string_view CircuitBreaker::StateName(State s) {
  switch (s) {
    case State::kClosed: return "closed";
    case State::kOpen: return "open";
    case State::kHalfOpen: return "half_open";
  }
  return "unknown";
}

}  // namespace strata
