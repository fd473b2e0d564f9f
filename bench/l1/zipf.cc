#include "bench/l1/zipf.h"

#include <cmath>
#include <numeric>

namespace strata::l1bench {

std::vector<double> ZipfProbabilities(uint32_t n, double alpha) {
  std::vector<double> p(n);
  double sum = 0;
  for (uint32_t r = 0; r < n; ++r) sum += p[r] = std::pow(double(r + 1), -alpha);
  for (double& x : p) x /= sum;
  return p;
}

namespace {

// Walker's alias method: O(1) per sample, so a 20M-request trace is cheap.
struct AliasTable {
  std::vector<double> prob;
  std::vector<uint32_t> alias;

  explicit AliasTable(const std::vector<double>& p) : prob(p.size()), alias(p.size()) {
    const size_t n = p.size();
    std::vector<uint32_t> small, large;
    std::vector<double> scaled(n);
    for (size_t i = 0; i < n; ++i) {
      scaled[i] = p[i] * double(n);
      (scaled[i] < 1.0 ? small : large).push_back(uint32_t(i));
    }
    while (!small.empty() && !large.empty()) {
      uint32_t s = small.back(), l = large.back();
      small.pop_back();
      prob[s] = scaled[s];
      alias[s] = l;
      scaled[l] -= 1.0 - scaled[s];
      if (scaled[l] < 1.0) {
        large.pop_back();
        small.push_back(l);
      }
    }
    for (uint32_t i : large) prob[i] = 1.0, alias[i] = i;
    for (uint32_t i : small) prob[i] = 1.0, alias[i] = i;  // rounding leftovers
  }

  uint32_t Sample(Rng& rng) const {
    uint32_t i = uint32_t(rng.Below(prob.size()));
    return rng.Unit() < prob[i] ? i : alias[i];
  }
};

void Shuffle(std::vector<uint32_t>& v, Rng& rng) {
  for (size_t i = v.size() - 1; i > 0; --i) std::swap(v[i], v[rng.Below(i + 1)]);
}

}  // namespace

std::vector<uint32_t> MakeTrace(const TraceSpec& spec) {
  AliasTable table(ZipfProbabilities(spec.keys, spec.alpha));
  Rng rng(spec.seed);
  std::vector<uint32_t> key_of_rank(spec.keys);
  std::iota(key_of_rank.begin(), key_of_rank.end(), 0u);
  Shuffle(key_of_rank, rng);
  std::vector<uint32_t> trace(spec.requests);
  for (uint64_t i = 0; i < spec.requests; ++i) {
    if (spec.reshuffle_every != 0 && i != 0 && i % spec.reshuffle_every == 0) {
      Shuffle(key_of_rank, rng);
    }
    trace[i] = key_of_rank[table.Sample(rng)];
  }
  return trace;
}

double CheLruHitRatio(const std::vector<double>& p, uint64_t c) {
  // Characteristic time T solves sum_i (1 - exp(-p_i T)) = c; bisect on T.
  auto occupancy = [&](double t) {
    double s = 0;
    for (double x : p) s += -std::expm1(-x * t);
    return s;
  };
  double lo = 0, hi = 1;
  while (occupancy(hi) < double(c)) hi *= 2;
  for (int i = 0; i < 60; ++i) {
    double mid = (lo + hi) / 2;
    (occupancy(mid) < double(c) ? lo : hi) = mid;
  }
  double hit = 0;
  for (double x : p) hit += x * -std::expm1(-x * hi);
  return hit;
}

double StaticOptimum(const std::vector<double>& p, uint64_t c) {
  double s = 0;
  for (uint64_t r = 0; r < c && r < p.size(); ++r) s += p[r];
  return s;
}

}  // namespace strata::l1bench
