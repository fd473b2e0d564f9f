// Test support: a private libuv loop driven by the test thread. RunUntil()
// runs it until a condition holds or a deadline passes (every wait in a test
// is bounded); a 2 ms tick timer keeps each uv_run(ONCE) short so the
// deadline is checked often. The destructor runs the loop until every handle
// is closed and then closes it (CHECKing that nothing is left open).
// Catch2 only (uses CHECK).
#pragma once

#include <uv.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>

namespace strata::testing {

class Loop {
 public:
  using SteadyClock = std::chrono::steady_clock;

  Loop() {
    uv_loop_init(&loop_);
    uv_timer_init(&loop_, &tick_);
  }
  ~Loop() {
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);  // runs close callbacks; all handles must be gone
    CHECK(uv_loop_close(&loop_) == 0);
  }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  uv_loop_t* get() { return &loop_; }

  // Runs the loop until cond() or timeout; returns cond().
  bool RunUntil(const std::function<bool()>& cond, int timeout_ms = 3000) {
    auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
    uv_timer_start(&tick_, [](uv_timer_t*) {}, 2, 2);  // bounds each uv_run
    while (!cond() && SteadyClock::now() < deadline) uv_run(&loop_, UV_RUN_ONCE);
    uv_timer_stop(&tick_);
    return cond();
  }
  void RunFor(int ms) {
    RunUntil([] { return false; }, ms);
  }

 private:
  uv_loop_t loop_;
  uv_timer_t tick_;
};

}  // namespace strata::testing
