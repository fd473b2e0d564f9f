// CycleClock: a cheap monotonic timestamp for latency histograms on hot
// paths. On x86-64 it reads the TSC (rdtsc, ~7 ns here) instead of
// clock_gettime (~40 ns on this VM); elsewhere it falls back to MonotonicNs().
// Deltas convert to nanoseconds with a factor measured once against
// CLOCK_MONOTONIC (about 2 ms, on first use). Linux only exposes the TSC as
// its clocksource when it is invariant (constant rate across cores and power
// states); with another clocksource the fallback is used.
//
// Thread affinity: any thread. Ownership: none (process-wide state).
#pragma once

#include <cstdint>

namespace strata {

class CycleClock {
 public:
  // An opaque tick count; only differences mean anything.
  static uint64_t Now();
  // Nanoseconds between two Now() values (0 if `end` < `start`).
  static uint64_t ToNs(uint64_t start, uint64_t end);
  // Whether Now() reads the TSC (false: MonotonicNs()).
  static bool UsesTsc();
};

}  // namespace strata
