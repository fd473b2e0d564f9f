// What the bench asks for: which keys (uniform or Zipf over a fixed keyspace),
// how they are spelled, GET vs SET, and the value bytes. The same Workload
// drives every target, so only the codec differs between them.
//
// Thread affinity: a Workload is immutable after construction and may be
// shared; each connection owns its Rng.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace strata::bench {

// xoshiro256** seeded through splitmix64: fast, and good enough for workloads.
class Rng {
 public:
  explicit Rng(uint64_t seed = 1);
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n) (Lemire's multiply-shift; the bias is < n / 2^64).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  // Uniform in [0, 1).
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  static uint64_t SplitMix(uint64_t& state);

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// Zipf over ranks 1..n with P(k) ∝ k^-s, by rejection-inversion (Hörmann &
// Derflinger 1996, as in Apache Commons RNG): O(1) time and memory per
// sample, about 1.1 uniform draws on average, valid for any s > 0.
class ZipfSampler {
 public:
  ZipfSampler(uint64_t n, double s);
  uint64_t Sample(Rng& rng) const;  // in [1, n]

 private:
  double H(double x) const;
  double HIntegral(double x) const;
  double HIntegralInverse(double x) const;

  uint64_t n_;
  double exponent_;
  double h_integral_x1_;
  double h_integral_n_;
  double s_;
};

enum class Dist { kUniform, kZipf };
enum class Op : uint8_t { kGet, kSet };

struct WorkloadSpec {
  uint64_t keyspace = 1000000;
  Dist dist = Dist::kUniform;
  double zipf_s = 0.99;
  double get_ratio = 0.9;
  size_t key_size = 16;
  size_t value_size = 32;
};

class Workload {
 public:
  // REQUIRES: spec validated by ValidateWorkload (key_size fits the keyspace).
  explicit Workload(const WorkloadSpec& spec);

  // Fills `key` (spec.key_size bytes) with key number `index`: "key:" and the
  // index in decimal, zero-padded to the full width ("key:%012d" at 16 bytes).
  void FormatKey(uint64_t index, char* key) const;
  // The key index of the next request: uniform, or Zipf ranks scattered over
  // the keyspace by a fixed bijection so that hot keys are not neighbours.
  uint64_t NextKey(Rng& rng) const;
  Op NextOp(Rng& rng) const { return rng.Unit() < spec_.get_ratio ? Op::kGet : Op::kSet; }

  const WorkloadSpec& spec() const { return spec_; }
  std::string_view value() const { return value_; }

 private:
  WorkloadSpec spec_;
  ZipfSampler zipf_;
  uint64_t scatter_;  // A prime > keyspace: rank * scatter_ mod keyspace is a bijection.
  std::string value_;
};

// Returns "" if the spec is usable, else what is wrong with it.
std::string ValidateWorkload(const WorkloadSpec& spec);

}  // namespace strata::bench
