// TierMetrics: what one loop saw of one tier through its chains: lookups by
// result and their latency (from the call into the tier to its answer,
// nanoseconds). The server sums the loops' copies on scrape.
//
// Thread affinity: written only by the loop thread that owns it (relaxed
// load + store, no read-modify-write); read from any thread.
// Ownership: plain values, owned by the loop (Worker); chains borrow them.
#pragma once

#include <atomic>
#include <cstdint>

#include "common/histogram.h"

namespace strata {

// A counter with one writer thread and any number of readers.
class LoopCounter {
 public:
  void Add(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t Get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

struct TierMetrics {
  LoopCounter hits;
  LoopCounter misses;    // including "known absent" (negative) answers
  LoopCounter errors;
  Histogram get_latency;  // ns per lookup, any result
};

// One loop's metrics for the three cache tiers.
struct LoopTierMetrics {
  TierMetrics l1;
  TierMetrics l2;
  TierMetrics l3;
};

}  // namespace strata
