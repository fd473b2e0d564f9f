// Histogram: a fixed-bucket, log-linear (decimal) histogram of uint64 values,
// cheap enough to record every request's latency on the loop thread.
//
// Buckets. Every d·10^k (d = 1..9, k = 0..10) and 10^11 is a bucket edge, so
// the Prometheus `le` boundaries 1/2/5·10^k are exact. Buckets are closed
// above, like `le`: bucket i holds the values v with
//     HistogramBucketEdge(i-1) < v <= HistogramBucketEdge(i)
// i.e. v goes into the bucket whose upper edge is the smallest edge >= v.
//     bucket 0      {0}
//     bucket 1      {1}
//     bucket 1+9k+d (d·10^k, (d+1)·10^k]     k = 0..10, d = 1..9
//     bucket 101    (10^11, UINT64_MAX]       overflow; edge reported as UINT64_MAX
// In nanoseconds the top finite edge is 100 s; in records, 10^11 records.
// Relative bucket width is 10-100%, so a percentile read back is within one
// bucket of the truth (linear interpolation usually does much better).
//
// Thread affinity. Record() is single-writer: one thread owns the histogram
// and bumps counts with a relaxed load+store (no lock prefix). RecordShared()
// uses fetch_add for histograms written by several threads; do not mix the
// two on one histogram. Snapshot() may run on any thread at any time; it
// reads each bucket with a relaxed load, so a snapshot taken during writes
// can miss the newest records, and `sum` may disagree with the buckets by a
// record or two. `count` is always the sum of the buckets, so the rendered
// `+Inf` bucket equals `_count` exactly.
//
// Ownership: plain value types; Histogram is neither copyable nor movable
// (its atomics are read by other threads through a stable address).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "common/clock.h"  // MonotonicNs(): record latencies as MonotonicNs() deltas

namespace strata {

inline constexpr int kHistogramBuckets = 102;
inline constexpr int kHistogramOverflowBucket = kHistogramBuckets - 1;
// Largest finite bucket edge: values above it land in the overflow bucket.
inline constexpr uint64_t kHistogramMaxEdge = 100'000'000'000ull;

// Upper (inclusive) edge of bucket i: 0, 1, 2, ..., 10, 20, ..., 10^11, and
// UINT64_MAX for the overflow bucket. REQUIRES: 0 <= i < kHistogramBuckets.
uint64_t HistogramBucketEdge(int i);

// True if `edge` is the upper edge of some bucket (0, any d·10^k with k <= 10,
// or 10^11), i.e. CountAtOrBelow(edge) is exact.
bool IsHistogramEdge(uint64_t edge);

namespace histogram_internal {

// Values 0..16 map directly.
inline constexpr std::array<uint8_t, 17> kSmall = [] {
  std::array<uint8_t, 17> t{};
  for (int v = 0; v <= 16; ++v) t[v] = uint8_t(v <= 10 ? v : 11);
  return t;
}();

// Lower bound, in u = v - 1, of bucket i (1 <= i <= 101); [102] is a sentinel.
inline constexpr std::array<uint64_t, kHistogramBuckets + 1> kLowU = [] {
  std::array<uint64_t, kHistogramBuckets + 1> t{};
  uint64_t p = 1;
  for (int k = 0; k <= 10; ++k, p *= 10) {
    for (int d = 1; d <= 9; ++d) t[1 + 9 * k + d] = uint64_t(d) * p;
  }
  t[kHistogramOverflowBucket] = kHistogramMaxEdge;
  t[kHistogramBuckets] = ~0ull;
  return t;
}();

// For u >= 16 below 2^37: cell (bit length b, next 4 bits) -> the bucket of
// the cell's smallest u. A cell is narrower than any bucket it touches (cell
// width <= u/16, bucket width > u/10), so it spans at most two buckets and
// one compare against kLowU finishes the job. Row r is bit length r + 4.
inline constexpr int kCellRows = 33;  // bit lengths 4..36 (2^37 > 10^11)
inline constexpr std::array<uint8_t, kCellRows * 16> kCells = [] {
  std::array<uint8_t, kCellRows * 16> t{};
  for (int r = 0; r < kCellRows; ++r) {
    for (int m = 0; m < 16; ++m) {
      uint64_t u = uint64_t(16 + m) << r;  // smallest u of the cell
      int i = 1;
      while (i + 1 < kHistogramBuckets && kLowU[i + 1] <= u) ++i;
      t[r * 16 + m] = uint8_t(i);
    }
  }
  return t;
}();

}  // namespace histogram_internal

// Index of the bucket holding v. A few instructions: two small-table loads,
// one compare, no division.
inline int HistogramBucketFor(uint64_t v) {
  using namespace histogram_internal;
  if (v <= 16) return kSmall[v];
  uint64_t u = v - 1;
  if (u >= (1ull << 37)) return kHistogramOverflowBucket;
  int r = 63 - __builtin_clzll(u) - 4;  // 0..32
  int i = kCells[r * 16 + int((u >> r) & 15)];
  return i + int(u >= kLowU[i + 1]);
}

// A histogram's counts as plain data: the result of Snapshot(), merged
// across per-thread histograms at scrape time.
struct HistogramData {
  std::array<uint64_t, kHistogramBuckets> counts{};
  uint64_t sum = 0;    // sum of recorded values, in the recorded unit (wraps)
  uint64_t count = 0;  // always the sum of `counts`

  void Merge(const HistogramData& other);
  // Records with value <= edge. Exact when IsHistogramEdge(edge); otherwise
  // counts only the buckets whose upper edge is <= edge (a lower bound).
  uint64_t CountAtOrBelow(uint64_t edge) const;
  // The q-quantile (q in [0, 1], clamped), interpolating linearly inside the
  // bucket that holds rank q·count (as Prometheus' histogram_quantile does).
  // 0 for an empty histogram; a rank in the overflow bucket reports 10^11.
  double Percentile(double q) const;
  double Mean() const { return count ? double(sum) / double(count) : 0; }
};

class Histogram {
 public:
  Histogram() = default;
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Single-writer record. REQUIRES: only one thread ever calls Record() on
  // this histogram (and nobody calls RecordShared()).
  void Record(uint64_t v) {
    auto& c = counts_[HistogramBucketFor(v)];
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    sum_.store(sum_.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
  }

  // Multi-writer record: any thread, any number of them.
  void RecordShared(uint64_t v) {
    counts_[HistogramBucketFor(v)].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
  }

  // Any thread.
  HistogramData Snapshot() const;

 private:
  std::array<std::atomic<uint64_t>, kHistogramBuckets> counts_{};
  std::atomic<uint64_t> sum_{0};
};

}  // namespace strata
