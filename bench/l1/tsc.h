// Cheap timestamps for per-operation latency: the TSC (constant and
// non-stop on this VM: /proc/cpuinfo has constant_tsc, nonstop_tsc, and the
// kernel's clocksource is tsc), calibrated once against CLOCK_MONOTONIC.
//
// Thread affinity: none.
#pragma once

#include <x86intrin.h>

#include <cstdint>
#include <ctime>

namespace strata::l1bench {

inline uint64_t TscStart() {
  _mm_lfence();  // don't let the timed work start before the read
  return __rdtsc();
}
inline uint64_t TscEnd() {
  unsigned aux;
  uint64_t t = __rdtscp(&aux);  // waits for the timed work to finish
  _mm_lfence();
  return t;
}

inline int64_t MonoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// CPU time of the calling thread (a syscall, ~0.3 us: not for every op).
// Unlike wall time it excludes time spent descheduled, which on this shared
// VM otherwise dominates any maximum.
inline int64_t ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// TSC ticks per nanosecond, measured over ~200 ms.
inline double TscPerNs() {
  int64_t n0 = MonoNs();
  uint64_t t0 = __rdtsc();
  while (MonoNs() - n0 < 200'000'000) {
  }
  int64_t n1 = MonoNs();
  uint64_t t1 = __rdtsc();
  return double(t1 - t0) / double(n1 - n0);
}

}  // namespace strata::l1bench
