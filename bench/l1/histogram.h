// LogLinearHistogram: counts of non-negative integers (here: TSC ticks) in
// buckets that are linear within each power of two (32 per octave, so any
// reported quantile is within ~3% of the true value). Fixed size, no
// allocation when recording, mergeable.
//
// Thread affinity: none; one writer at a time (use one per thread and Merge).
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace strata::l1bench {

class LogLinearHistogram {
 public:
  static constexpr int kSubBits = 5;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = (64 - kSubBits + 1) * kSub;

  void Record(uint64_t v) {
    ++counts_[Index(v)];
    ++total_;
    if (v > max_) max_ = v;
  }
  void Merge(const LogLinearHistogram& o) {
    for (int i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    if (o.max_ > max_) max_ = o.max_;
  }
  uint64_t count() const { return total_; }
  uint64_t max() const { return max_; }
  // The upper bound of the bucket holding quantile q (0..1); max() for q=1.
  uint64_t Quantile(double q) const {
    if (total_ == 0) return 0;
    uint64_t rank = uint64_t(q * double(total_));
    if (rank >= total_) return max_;
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen > rank) {
        uint64_t hi = UpperBound(i);
        return hi < max_ ? hi : max_;
      }
    }
    return max_;
  }
  // How many recorded values were >= v (rounded to bucket boundaries).
  uint64_t CountAtLeast(uint64_t v) const {
    uint64_t n = 0;
    for (int i = Index(v); i < kBuckets; ++i) n += counts_[i];
    return n;
  }

 private:
  static int Index(uint64_t v) {
    if (v < kSub) return int(v);
    int msb = 63 - std::countl_zero(v);
    int shift = msb - kSubBits;
    return (shift + 1) * kSub + int((v >> shift) & (kSub - 1));
  }
  static uint64_t UpperBound(int i) {
    if (i < kSub) return uint64_t(i);
    int shift = i / kSub - 1;
    uint64_t base = (uint64_t(kSub) + uint64_t(i % kSub)) << shift;
    return base + ((uint64_t(1) << shift) - 1);
  }

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};

}  // namespace strata::l1bench
