// l1-eviction-sim: hit ratio of LRU, reference S3-FIFO and Strata's real
// L1Cache on Zipf IRM traces, at equal item capacity.
//
//   l1-eviction-sim [--requests=20000000] [--warmup=2000000] [--keys=1000000]
//                   [--alpha=0.99] [--seed=42] [--reshuffle-every=R]
//
// The L1 budget is found by filling (L1BudgetForItems): the bytes per item
// include the 80-byte malloc chunk, the index slots and the ghost table,
// whose sizes step with power-of-two tables, so measuring is more exact than
// computing. R defaults to requests/4 (5M at full size).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench/l1/eviction_policies.h"
#include "bench/l1/zipf.h"

using namespace strata;
using namespace strata::l1bench;

namespace {

bool Flag(const char* arg, const char* name, const char** value) {
  size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  *value = arg + n + 1;
  return true;
}

void Row(const char* trace, const char* size, const char* policy, const std::string& budget,
         const ReplayResult& r, double ref) {
  char refs[32] = "";
  if (ref > 0) std::snprintf(refs, sizeof refs, "%.1f", ref * 100);
  std::printf("| %-11s | %-4s | %-22s | %-22s | %9.0f | %6.2f%% | %-6s | %5.1f |\n", trace, size,
              policy, budget.c_str(), r.mean_items, r.hit_ratio() * 100, refs, r.seconds);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  TraceSpec spec;
  uint64_t warmup = 2'000'000;
  uint64_t reshuffle = 0;
  for (int i = 1; i < argc; ++i) {
    const char* v;
    if (Flag(argv[i], "--requests", &v)) spec.requests = std::strtoull(v, nullptr, 10);
    else if (Flag(argv[i], "--warmup", &v)) warmup = std::strtoull(v, nullptr, 10);
    else if (Flag(argv[i], "--keys", &v)) spec.keys = uint32_t(std::strtoul(v, nullptr, 10));
    else if (Flag(argv[i], "--alpha", &v)) spec.alpha = std::strtod(v, nullptr);
    else if (Flag(argv[i], "--seed", &v)) spec.seed = std::strtoull(v, nullptr, 10);
    else if (Flag(argv[i], "--reshuffle-every", &v)) reshuffle = std::strtoull(v, nullptr, 10);
    else {
      std::fprintf(stderr, "unknown argument %s (see the comment at the top of eviction_sim.cc)\n",
                   argv[i]);
      return 2;
    }
  }
  if (warmup >= spec.requests || spec.keys < 100) {
    std::fprintf(stderr, "need warmup < requests and keys >= 100\n");
    return 2;
  }
  if (reshuffle == 0) reshuffle = spec.requests / 4;

  std::printf("keys=%u requests=%llu warmup=%llu alpha=%.2f seed=%llu reshuffle_every=%llu\n\n",
              spec.keys, (unsigned long long)spec.requests, (unsigned long long)warmup,
              spec.alpha, (unsigned long long)spec.seed, (unsigned long long)reshuffle);
  std::vector<double> p = ZipfProbabilities(spec.keys, spec.alpha);

  std::printf("| trace       | size | policy                 | budget                 | items ~   "
              "| hit     | ref %%  | sec   |\n");
  std::printf("|-------------|------|------------------------|------------------------|-----------"
              "|---------|--------|-------|\n");

  struct Variant {
    const char* name;
    uint64_t reshuffle;
    std::vector<int> percents;
  };
  const Variant variants[] = {{"zipf", 0, {1, 10}}, {"reshuffled", reshuffle, {10}}};
  for (const Variant& var : variants) {
    TraceSpec ts = spec;
    ts.reshuffle_every = var.reshuffle;
    std::vector<uint32_t> trace = MakeTrace(ts);
    for (int pct : var.percents) {
      uint64_t cap = uint64_t(spec.keys) * uint64_t(pct) / 100;
      char size[8];
      std::snprintf(size, sizeof size, "%d%%", pct);
      const bool fixed = var.reshuffle == 0;
      // Reference points from shared/BENCHMARKING.md (full-size traces only).
      const bool full = spec.keys == 1'000'000 && spec.requests == 20'000'000 &&
                        warmup == 2'000'000 && spec.alpha == 0.99;
      double ref_lru = full && fixed ? (pct == 1 ? 0.566 : 0.766) : 0;
      double ref_s3 = !full ? 0 : fixed ? (pct == 1 ? 0.647 : 0.810) : 0.788;

      if (fixed) {
        ReplayResult che;
        che.mean_items = double(cap);
        che.hits = uint64_t(CheLruHitRatio(p, cap) * 1e9);
        che.requests = 1'000'000'000;
        Row(var.name, size, "LRU (Che approx.)", "-", che, ref_lru);
      }
      {
        LruSim lru(spec.keys, cap);
        Row(var.name, size, "LRU sim", std::to_string(cap) + " items", Replay(lru, trace, warmup),
            ref_lru);
      }
      {
        S3FifoSim s3(spec.keys, cap);
        Row(var.name, size, "S3-FIFO sim", std::to_string(cap) + " items",
            Replay(s3, trace, warmup), ref_s3);
      }
      for (uint32_t shards : {256u, 1u}) {
        if (!fixed && shards == 1) continue;
        uint64_t held = 0;
        uint64_t budget = L1BudgetForItems(cap, shards, &held);
        char policy[40], b[40];
        std::snprintf(policy, sizeof policy, "Strata L1, %u shard%s", shards,
                      shards == 1 ? "" : "s");
        std::snprintf(b, sizeof b, "%llu B (%.1f/it)", (unsigned long long)budget,
                      double(budget) / double(held));
        Row(var.name, size, policy, b, ReplayL1(trace, warmup, budget, shards), 0);
      }
      if (fixed) {
        ReplayResult opt;
        opt.mean_items = double(cap);
        opt.hits = uint64_t(StaticOptimum(p, cap) * 1e9);
        opt.requests = 1'000'000'000;
        Row(var.name, size, "static optimum (top-C)", "-", opt,
            full ? (pct == 1 ? 0.664 : 0.830) : 0);
      }
    }
  }
  return 0;
}
