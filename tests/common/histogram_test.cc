#include "common/histogram.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <thread>
#include <vector>

namespace strata {
namespace {

// The documented rule, the slow way: the bucket whose upper edge is the
// smallest edge >= v.
int ReferenceBucket(uint64_t v) {
  int i = 0;
  while (HistogramBucketEdge(i) < v) ++i;
  return i;
}

TEST_CASE("histogram edges are 0, 1..10, 20..100, ..., 1e11 and overflow", "[histogram]") {
  CHECK(HistogramBucketEdge(0) == 0);
  CHECK(HistogramBucketEdge(1) == 1);
  CHECK(HistogramBucketEdge(2) == 2);
  CHECK(HistogramBucketEdge(10) == 10);
  CHECK(HistogramBucketEdge(11) == 20);
  CHECK(HistogramBucketEdge(19) == 100);
  CHECK(HistogramBucketEdge(20) == 200);
  CHECK(HistogramBucketEdge(100) == 100'000'000'000ull);
  CHECK(HistogramBucketEdge(kHistogramOverflowBucket) == std::numeric_limits<uint64_t>::max());
  for (int i = 1; i < kHistogramBuckets; ++i) {
    INFO("bucket " << i);
    CHECK(HistogramBucketEdge(i - 1) < HistogramBucketEdge(i));
  }
}

TEST_CASE("every d*10^k is an upper bucket edge, and the next value starts a bucket",
          "[histogram]") {
  CHECK(HistogramBucketFor(0) == 0);
  CHECK(HistogramBucketFor(1) == 1);
  uint64_t p = 1;
  for (int k = 0; k <= 10; ++k, p *= 10) {
    for (uint64_t d = 1; d <= 9; ++d) {
      uint64_t e = d * p;
      INFO("edge " << e);
      int b = HistogramBucketFor(e);
      CHECK(HistogramBucketEdge(b) == e);
      CHECK(HistogramBucketFor(e + 1) == b + 1);
      CHECK(IsHistogramEdge(e));
      if (e > 1) CHECK(HistogramBucketFor(e - 1) == (e <= 10 ? b - 1 : b));
    }
  }
  CHECK(HistogramBucketFor(kHistogramMaxEdge) == kHistogramOverflowBucket - 1);
  CHECK(HistogramBucketFor(kHistogramMaxEdge + 1) == kHistogramOverflowBucket);
  CHECK(HistogramBucketFor(std::numeric_limits<uint64_t>::max()) == kHistogramOverflowBucket);
  CHECK(IsHistogramEdge(0));
  CHECK(IsHistogramEdge(kHistogramMaxEdge));
  CHECK_FALSE(IsHistogramEdge(11));
  CHECK_FALSE(IsHistogramEdge(250));
  CHECK_FALSE(IsHistogramEdge(kHistogramMaxEdge * 2));
  CHECK_FALSE(IsHistogramEdge(std::numeric_limits<uint64_t>::max()));
}

TEST_CASE("HistogramBucketFor agrees with the reference rule", "[histogram]") {
  for (uint64_t v = 0; v <= 200'000; ++v) {
    if (HistogramBucketFor(v) != ReferenceBucket(v)) FAIL("v = " << v);
  }
  // Around every power of two (the lookup's cell boundaries) and every edge.
  for (int b = 0; b < 64; ++b) {
    uint64_t x = uint64_t(1) << b;
    for (uint64_t v : {x - 1, x, x + 1}) {
      if (HistogramBucketFor(v) != ReferenceBucket(v)) FAIL("v = " << v);
    }
  }
  for (int i = 0; i + 1 < kHistogramBuckets; ++i) {
    uint64_t e = HistogramBucketEdge(i);
    for (uint64_t v : {e - 1, e, e + 1}) {
      if (v > e + 1) continue;  // e - 1 wrapped
      if (HistogramBucketFor(v) != ReferenceBucket(v)) FAIL("v = " << v);
    }
  }
  std::mt19937_64 rng(42);
  for (int n = 0; n < 1'000'000; ++n) {
    uint64_t v = rng() >> (rng() % 64);  // spread over all magnitudes
    if (HistogramBucketFor(v) != ReferenceBucket(v)) FAIL("v = " << v);
  }
}

TEST_CASE("record, count, sum and CountAtOrBelow", "[histogram]") {
  Histogram h;
  HistogramData empty = h.Snapshot();
  CHECK(empty.count == 0);
  CHECK(empty.sum == 0);
  CHECK(empty.Percentile(0.5) == 0);

  for (uint64_t v : {0, 1, 2, 5, 6, 10, 11, 20, 1000}) h.Record(v);
  HistogramData d = h.Snapshot();
  CHECK(d.count == 9);
  CHECK(d.sum == 1055);
  CHECK(d.CountAtOrBelow(0) == 1);
  CHECK(d.CountAtOrBelow(1) == 2);
  CHECK(d.CountAtOrBelow(5) == 4);
  CHECK(d.CountAtOrBelow(10) == 6);
  CHECK(d.CountAtOrBelow(20) == 8);
  CHECK(d.CountAtOrBelow(500) == 8);
  CHECK(d.CountAtOrBelow(1000) == 9);
  CHECK(d.CountAtOrBelow(std::numeric_limits<uint64_t>::max()) == 9);

  h.Record(std::numeric_limits<uint64_t>::max());
  d = h.Snapshot();
  CHECK(d.counts[kHistogramOverflowBucket] == 1);
  CHECK(d.CountAtOrBelow(kHistogramMaxEdge) == 9);
  CHECK(d.count == 10);
}

TEST_CASE("percentiles of 1..1,000,000 uniform", "[histogram]") {
  Histogram h;
  for (uint64_t v = 1; v <= 1'000'000; ++v) h.Record(v);
  HistogramData d = h.Snapshot();
  REQUIRE(d.count == 1'000'000);
  CHECK(d.sum == 500'000'500'000ull);
  for (double q : {0.5, 0.9, 0.99, 0.999, 0.1, 0.01}) {
    double want = q * 1e6;
    INFO("q = " << q << " got " << d.Percentile(q));
    CHECK(d.Percentile(q) == Approx(want).epsilon(0.12));
  }
  CHECK(d.Percentile(0.5) == Approx(500'000).epsilon(0.001));
  CHECK(d.Percentile(1.0) == Approx(1'000'000).epsilon(0.001));
  CHECK(d.Percentile(2.0) == d.Percentile(1.0));  // clamped
  CHECK(d.Mean() == Approx(500'000.5));
}

TEST_CASE("percentile of a constant and of overflow values", "[histogram]") {
  Histogram h;
  for (int i = 0; i < 100; ++i) h.Record(250);  // bucket (200, 300]
  HistogramData d = h.Snapshot();
  CHECK(d.Percentile(0.5) >= 200);
  CHECK(d.Percentile(0.5) <= 300);
  CHECK(d.Percentile(0.99) == Approx(299).epsilon(0.01));

  Histogram o;
  o.Record(kHistogramMaxEdge * 5);
  CHECK(o.Snapshot().Percentile(0.5) == double(kHistogramMaxEdge));

  Histogram z;
  z.Record(0);
  CHECK(z.Snapshot().Percentile(0.99) == 0);
}

TEST_CASE("merge adds per-thread snapshots", "[histogram]") {
  Histogram a, b;
  for (uint64_t v = 1; v <= 500; ++v) a.Record(v);
  for (uint64_t v = 501; v <= 1000; ++v) b.Record(v);
  HistogramData m = a.Snapshot();
  m.Merge(b.Snapshot());
  Histogram all;
  for (uint64_t v = 1; v <= 1000; ++v) all.Record(v);
  HistogramData want = all.Snapshot();
  CHECK(m.count == want.count);
  CHECK(m.sum == want.sum);
  CHECK(m.counts == want.counts);
  CHECK(m.Percentile(0.5) == want.Percentile(0.5));
}

TEST_CASE("RecordShared from 4 threads loses nothing", "[histogram]") {
  Histogram h;
  constexpr int kThreads = 4, kPer = 200'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < kPer; ++i) h.RecordShared(uint64_t(t * 1000 + i % 1000));
    });
  }
  for (auto& t : threads) t.join();
  HistogramData d = h.Snapshot();
  CHECK(d.count == uint64_t(kThreads) * kPer);
  uint64_t want_sum = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPer; ++i) want_sum += uint64_t(t * 1000 + i % 1000);
  }
  CHECK(d.sum == want_sum);
  CHECK(d.CountAtOrBelow(1000) == uint64_t(kPer) + kPer / 1000);  // thread 0, and 1000 itself
}

TEST_CASE("Record cost (informational, not asserted)", "[histogram]") {
  // Latency-like values: 1 us .. 100 ms, log-uniform, precomputed so the
  // loop measures Record and a load, not the generator.
  std::mt19937_64 rng(7);
  std::vector<uint64_t> values(1 << 16);
  for (uint64_t& v : values) v = uint64_t(1000.0 * std::pow(10.0, 5.0 * double(rng() % 10000) / 1e4));
  Histogram h;
  constexpr int kRounds = 160;  // ~10M records
  int64_t start = MonotonicNs();
  for (int r = 0; r < kRounds; ++r) {
    for (uint64_t v : values) h.Record(v);
  }
  int64_t ns = MonotonicNs() - start;
  double per = double(ns) / (double(kRounds) * double(values.size()));
  WARN("Histogram::Record: " << per << " ns/record over " << kRounds * values.size()
                             << " records");
  CHECK(h.Snapshot().count == uint64_t(kRounds) * values.size());
}

}  // namespace
}  // namespace strata
