// Zipf IRM traces for the eviction simulator: seeded, reproducible.
//
// Rank r (0-based) is requested with probability proportional to
// 1/(r+1)^alpha, independently per request (the independent reference
// model). Ranks map to key ids through a random permutation, which can be
// redrawn every `reshuffle_every` requests to model popularity churn.
//
// Thread affinity: none (plain functions and values).
#pragma once

#include <cstdint>
#include <vector>

namespace strata::l1bench {

// splitmix64: small, fast, good enough for workload generation.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double Unit() { return double(Next() >> 11) * 0x1.0p-53; }
  uint64_t Below(uint64_t n) { return uint64_t((unsigned __int128)Next() * n >> 64); }
};

// The normalised Zipf probabilities p[r] of ranks 0..n-1.
std::vector<double> ZipfProbabilities(uint32_t n, double alpha);

struct TraceSpec {
  uint32_t keys = 1'000'000;
  uint64_t requests = 20'000'000;
  double alpha = 0.99;
  uint64_t seed = 42;
  uint64_t reshuffle_every = 0;  // 0 = fixed popularity
};

// The key id of every request, in order.
std::vector<uint32_t> MakeTrace(const TraceSpec& spec);

// Che's approximation of the LRU hit ratio for capacity c (items) under IRM.
double CheLruHitRatio(const std::vector<double>& p, uint64_t c);

// Mass of the c most popular ranks: the best any policy can do under IRM.
double StaticOptimum(const std::vector<double>& p, uint64_t c);

}  // namespace strata::l1bench
