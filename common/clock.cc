#include "common/clock.h"

#include <time.h>

namespace strata {

int64_t SystemClock::NowMs() const {
  struct timespec ts;
  // CLOCK_REALTIME_COARSE costs a few ns (vDSO, no syscall) and has ~1-4 ms
  // resolution; TTL expiry is specified at ms resolution, so use the precise one.
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

SystemClock* SystemClock::Default() {
  static SystemClock clock;
  return &clock;
}

int64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace strata
