#include "common/histogram.h"

#include <algorithm>

namespace strata {
namespace {

constexpr std::array<uint64_t, kHistogramBuckets> kEdges = [] {
  std::array<uint64_t, kHistogramBuckets> t{};
  t[0] = 0;
  t[1] = 1;
  uint64_t p = 1;
  for (int k = 0; k <= 10; ++k, p *= 10) {
    for (int d = 1; d <= 9; ++d) t[1 + 9 * k + d] = uint64_t(d + 1) * p;
  }
  t[kHistogramOverflowBucket] = ~0ull;
  return t;
}();

static_assert(kEdges[kHistogramOverflowBucket - 1] == kHistogramMaxEdge);

}  // namespace

uint64_t HistogramBucketEdge(int i) { return kEdges[i]; }

bool IsHistogramEdge(uint64_t edge) {
  return edge <= kHistogramMaxEdge && kEdges[HistogramBucketFor(edge)] == edge;
}

void HistogramData::Merge(const HistogramData& other) {
  for (int i = 0; i < kHistogramBuckets; ++i) counts[i] += other.counts[i];
  sum += other.sum;
  count += other.count;
}

uint64_t HistogramData::CountAtOrBelow(uint64_t edge) const {
  uint64_t n = 0;
  for (int i = 0; i < kHistogramBuckets && kEdges[i] <= edge; ++i) n += counts[i];
  return n;
}

double HistogramData::Percentile(double q) const {
  if (count == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  double rank = q * double(count);
  uint64_t below = 0;
  for (int i = 0; i < kHistogramBuckets; ++i) {
    uint64_t c = counts[i];
    if (c == 0 || double(below + c) < rank) {
      below += c;
      continue;
    }
    if (i == 0) return 0;
    if (i == kHistogramOverflowBucket) return double(kHistogramMaxEdge);
    double lo = double(kEdges[i - 1]), hi = double(kEdges[i]);
    return lo + (hi - lo) * (rank - double(below)) / double(c);
  }
  return double(kHistogramMaxEdge);  // unreachable while count == sum of counts
}

HistogramData Histogram::Snapshot() const {
  HistogramData d;
  for (int i = 0; i < kHistogramBuckets; ++i) {
    d.counts[i] = counts_[i].load(std::memory_order_relaxed);
    d.count += d.counts[i];
  }
  d.sum = sum_.load(std::memory_order_relaxed);
  return d;
}

}  // namespace strata
