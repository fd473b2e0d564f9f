// A log-linear latency histogram in the manner of HdrHistogram: values below
// 256 are exact, above that every power-of-two range is split into 128
// linear buckets, so a reported value is within 1/128 (< 0.8%) of the truth.
// Recording is an index computation and an increment; no allocation after
// construction. Values are nanoseconds, but nothing here depends on the unit.
//
// Thread affinity: not thread-safe; one per load loop. Copyable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace strata::bench {

class Histogram {
 public:
  Histogram();

  void Record(uint64_t value) {
    ++counts_[Index(value)];
    ++count_;
    sum_ += value;
    if (value > max_) max_ = value;
    if (value < min_) min_ = value;
  }
  void Reset();
  void Merge(const Histogram& other);

  uint64_t count() const { return count_; }
  uint64_t max() const { return count_ ? max_ : 0; }
  uint64_t min() const { return count_ ? min_ : 0; }
  double Mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
  // The smallest recorded value v such that a fraction q (0..1) of the
  // samples are <= v, reported as the highest value that shares v's bucket
  // (HdrHistogram's "highest equivalent value"), never above max().
  uint64_t Percentile(double q) const;

  static size_t Index(uint64_t value) {
    if (value < (uint64_t{1} << (kSubBits + 1))) return static_cast<size_t>(value);
    const int msb = 63 - __builtin_clzll(value);
    const int shift = msb - kSubBits;
    return static_cast<size_t>((shift + 1) << kSubBits) +
           static_cast<size_t>((value >> shift) - (uint64_t{1} << kSubBits));
  }
  // Highest value that maps to bucket `index`.
  static uint64_t HighestEquivalent(size_t index);

 private:
  static constexpr int kSubBits = 7;  // 128 linear buckets per power of two.
  static constexpr size_t kBuckets = (64 - kSubBits + 1) << kSubBits;

  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = UINT64_MAX;
};

}  // namespace strata::bench
