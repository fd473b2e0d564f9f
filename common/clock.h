// Clock: the one source of "now" for TTLs and timeouts.
//
// Production code uses SystemClock (wall time for absolute expiries, which
// travel to Redis and disk). Tests use ManualClock and advance it instead of
// sleeping, so TTL tests are deterministic (RocksDB's MockSystemClock idea).
//
// Thread affinity: NowMs() may be called from any thread. ManualClock::Advance
// and Set may race with readers; the value is atomic.
#pragma once

#include <atomic>
#include <cstdint>

namespace strata {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t NowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override;
  static SystemClock* Default();
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  int64_t NowMs() const override { return now_.load(std::memory_order_relaxed); }
  void Advance(int64_t ms) { now_.fetch_add(ms, std::memory_order_relaxed); }
  void Set(int64_t ms) { now_.store(ms, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

// Monotonic nanoseconds, for measuring durations (latency, timeouts).
int64_t MonotonicNs();

}  // namespace strata
