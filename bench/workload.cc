#include "bench/workload.h"

#include <cmath>
#include <cstring>

namespace strata::bench {
namespace {

constexpr std::string_view kKeyPrefix = "key:";

int DecimalDigits(uint64_t v) {
  int d = 1;
  while (v >= 10) {
    v /= 10;
    ++d;
  }
  return d;
}

bool IsPrime(uint64_t v) {
  if (v < 2) return false;
  for (uint64_t d = 2; d * d <= v; ++d) {
    if (v % d == 0) return false;
  }
  return true;
}

// log1p(x)/x and expm1(x)/x, accurate near 0.
double Helper1(double x) {
  return std::fabs(x) > 1e-8 ? std::log1p(x) / x : 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}
double Helper2(double x) {
  return std::fabs(x) > 1e-8 ? std::expm1(x) / x
                             : 1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x));
}

}  // namespace

uint64_t Rng::SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Rng::Rng(uint64_t seed) {
  for (uint64_t& s : s_) s = SplitMix(seed);
}

ZipfSampler::ZipfSampler(uint64_t n, double s) : n_(n < 1 ? 1 : n), exponent_(s) {
  h_integral_x1_ = HIntegral(1.5) - 1.0;
  h_integral_n_ = HIntegral(static_cast<double>(n_) + 0.5);
  s_ = 2.0 - HIntegralInverse(HIntegral(2.5) - H(2.0));
}

double ZipfSampler::H(double x) const { return std::exp(-exponent_ * std::log(x)); }

double ZipfSampler::HIntegral(double x) const {
  const double log_x = std::log(x);
  return Helper2((1.0 - exponent_) * log_x) * log_x;
}

double ZipfSampler::HIntegralInverse(double x) const {
  double t = x * (1.0 - exponent_);
  if (t < -1.0) t = -1.0;  // Rounding can push t just past the pole.
  return std::exp(Helper1(t) * x);
}

uint64_t ZipfSampler::Sample(Rng& rng) const {
  for (;;) {
    const double u = h_integral_n_ + rng.Unit() * (h_integral_x1_ - h_integral_n_);
    const double x = HIntegralInverse(u);
    double kd = std::floor(x + 0.5);
    if (kd < 1.0) kd = 1.0;
    if (kd > static_cast<double>(n_)) kd = static_cast<double>(n_);
    const uint64_t k = static_cast<uint64_t>(kd);
    if (kd - x <= s_ || u >= HIntegral(kd + 0.5) - H(kd)) return k;
  }
}

std::string ValidateWorkload(const WorkloadSpec& spec) {
  if (spec.keyspace < 1) return "--keyspace must be at least 1";
  if (spec.keyspace > (uint64_t{1} << 40)) return "--keyspace is over 2^40";
  const size_t digits = static_cast<size_t>(DecimalDigits(spec.keyspace - 1));
  if (spec.key_size < kKeyPrefix.size() + digits) {
    return "--key-size " + std::to_string(spec.key_size) + " cannot hold \"key:\" and " +
           std::to_string(digits) + " digits for --keyspace " + std::to_string(spec.keyspace);
  }
  if (spec.key_size > 4096) return "--key-size is over 4096";
  if (spec.value_size > (size_t{64} << 20)) return "--value-size is over 64 MiB";
  if (!(spec.get_ratio >= 0.0 && spec.get_ratio <= 1.0)) return "--get-ratio must be in 0..1";
  if (spec.dist == Dist::kZipf && !(spec.zipf_s > 0.0 && spec.zipf_s < 100.0)) {
    return "--zipf-s must be > 0";
  }
  return "";
}

Workload::Workload(const WorkloadSpec& spec)
    : spec_(spec), zipf_(spec.keyspace, spec.zipf_s), value_(spec.value_size, 'v') {
  scatter_ = spec.keyspace + 1;
  while (!IsPrime(scatter_)) ++scatter_;
  // A recognisable, non-constant payload (servers must not be able to
  // special-case a run of one byte).
  for (size_t i = 0; i < value_.size(); ++i) value_[i] = static_cast<char>('a' + i % 26);
}

void Workload::FormatKey(uint64_t index, char* key) const {
  memcpy(key, kKeyPrefix.data(), kKeyPrefix.size());
  char* p = key + spec_.key_size;
  char* const digits_begin = key + kKeyPrefix.size();
  while (p > digits_begin) {
    *--p = static_cast<char>('0' + index % 10);
    index /= 10;
  }
}

uint64_t Workload::NextKey(Rng& rng) const {
  if (spec_.dist == Dist::kUniform) return rng.Below(spec_.keyspace);
  const uint64_t rank = zipf_.Sample(rng) - 1;  // 0 = hottest
  return static_cast<uint64_t>((static_cast<unsigned __int128>(rank) * scatter_) % spec_.keyspace);
}

}  // namespace strata::bench
