#include "bench/histogram.h"

#include <algorithm>
#include <cmath>

namespace strata::bench {

Histogram::Histogram() : counts_(kBuckets, 0) {}

void Histogram::Reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = sum_ = max_ = 0;
  min_ = UINT64_MAX;
}

void Histogram::Merge(const Histogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
  min_ = std::min(min_, other.min_);
}

uint64_t Histogram::HighestEquivalent(size_t index) {
  constexpr size_t kSub = size_t{1} << kSubBits;
  if (index < 2 * kSub) return index;
  const int shift = static_cast<int>(index >> kSubBits) - 1;
  const uint64_t sub = (index & (kSub - 1)) + kSub;
  const uint64_t low = sub << shift;
  return low + ((uint64_t{1} << shift) - 1);
}

uint64_t Histogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  uint64_t target = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  if (target == 0) target = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= target) return std::min(HighestEquivalent(i), max_);
  }
  return max_;
}

}  // namespace strata::bench
