#include "bench/l1/eviction_policies.h"

#include <chrono>
#include <cstring>

namespace strata::l1bench {
namespace {

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Sample the item count this many times during the counted part.
constexpr uint64_t kSamples = 64;

}  // namespace

// --- LRU ---

LruSim::LruSim(uint32_t keys, uint64_t capacity)
    : capacity_(capacity), sentinel_(keys), prev_(keys + 1), next_(keys + 1), in_(keys, 0) {
  prev_[sentinel_] = next_[sentinel_] = sentinel_;
}

void LruSim::Unlink(uint32_t k) {
  next_[prev_[k]] = next_[k];
  prev_[next_[k]] = prev_[k];
}

void LruSim::PushFront(uint32_t k) {
  prev_[k] = sentinel_;
  next_[k] = next_[sentinel_];
  prev_[next_[sentinel_]] = k;
  next_[sentinel_] = k;
}

bool LruSim::Access(uint32_t k) {
  if (in_[k]) {
    Unlink(k);
    PushFront(k);
    return true;
  }
  if (size_ == capacity_) {
    uint32_t victim = prev_[sentinel_];
    Unlink(victim);
    in_[victim] = 0;
    --size_;
  }
  PushFront(k);
  in_[k] = 1;
  ++size_;
  return false;
}

// --- S3-FIFO ---

S3FifoSim::S3FifoSim(uint32_t keys, uint64_t capacity)
    : capacity_(capacity),
      small_cap_(capacity / 10 > 0 ? capacity / 10 : 1),
      ghost_cap_(capacity - small_cap_),
      where_(keys, 0),
      freq_(keys, 0),
      ghost_at_(keys, 0) {}

bool S3FifoSim::GhostTake(uint32_t k) {
  uint64_t at = ghost_at_[k];
  if (at == 0 || ghost_seq_ - at >= ghost_cap_) return false;
  ghost_at_[k] = 0;
  return true;
}

void S3FifoSim::EvictOne() {
  for (;;) {
    if (!small_.empty() && (small_.size() >= small_cap_ || main_.empty())) {
      uint32_t k = small_.front();
      small_.pop_front();
      if (freq_[k] > 0) {  // read while in small: promote
        freq_[k] = 0;
        where_[k] = 2;
        main_.push_back(k);
        continue;
      }
      where_[k] = 0;
      ghost_at_[k] = ++ghost_seq_;
      return;
    }
    uint32_t k = main_.front();
    main_.pop_front();
    if (freq_[k] > 0) {
      --freq_[k];
      main_.push_back(k);
      continue;
    }
    where_[k] = 0;
    return;
  }
}

bool S3FifoSim::Access(uint32_t k) {
  if (where_[k] != 0) {
    if (freq_[k] < 3) ++freq_[k];
    return true;
  }
  while (size() >= capacity_) EvictOne();
  freq_[k] = 0;
  if (GhostTake(k)) {
    where_[k] = 2;
    main_.push_back(k);
  } else {
    where_[k] = 1;
    small_.push_back(k);
  }
  return false;
}

template <typename Policy>
ReplayResult Replay(Policy& policy, const std::vector<uint32_t>& trace, uint64_t warmup) {
  auto t0 = std::chrono::steady_clock::now();
  ReplayResult r;
  uint64_t every = (trace.size() - warmup) / kSamples + 1, samples = 0;
  double items = 0;
  for (uint64_t i = 0; i < trace.size(); ++i) {
    bool hit = policy.Access(trace[i]);
    if (i >= warmup) {
      r.hits += hit;
      ++r.requests;
      if ((i - warmup) % every == 0) items += double(policy.size()), ++samples;
    }
  }
  r.mean_items = samples ? items / double(samples) : 0;
  r.seconds = Since(t0);
  return r;
}

template ReplayResult Replay<LruSim>(LruSim&, const std::vector<uint32_t>&, uint64_t);
template ReplayResult Replay<S3FifoSim>(S3FifoSim&, const std::vector<uint32_t>&, uint64_t);

// --- Strata's L1 ---

uint64_t L1ItemsAtBudget(uint64_t max_bytes, uint32_t shards) {
  ManualClock clock;
  L1Cache cache(L1Options{max_bytes, shards, &clock});
  // Keep inserting distinct keys until three budgets' worth have gone in:
  // by then every shard has evicted and allocated its ghost table.
  uint64_t inserts = 3 * (max_bytes / L1Entry::ChargeFor(16, kValueBytes)) + 1000;
  char key[16];
  for (uint64_t i = 0; i < inserts; ++i) {
    KeyOf(uint32_t(i), key);
    bool applied;
    (void)cache.Insert({key, 16}, {kValue, kValueBytes}, WriteOptions{}, &applied);
  }
  return cache.GetStats().items;
}

uint64_t L1BudgetForItems(uint64_t items, uint32_t shards, uint64_t* held) {
  uint64_t budget = items * L1Entry::ChargeFor(16, kValueBytes);
  uint64_t got = 0;
  for (int iter = 0; iter < 8; ++iter) {
    got = L1ItemsAtBudget(budget, shards);
    double err = double(got) / double(items) - 1;
    if (err > -0.002 && err < 0.002) break;
    budget = uint64_t(double(budget) * double(items) / double(got));
  }
  *held = got;
  return budget;
}

ReplayResult ReplayL1(const std::vector<uint32_t>& trace, uint64_t warmup, uint64_t max_bytes,
                      uint32_t shards) {
  auto t0 = std::chrono::steady_clock::now();
  ManualClock clock;
  L1Cache cache(L1Options{max_bytes, shards, &clock});
  ReplayResult r;
  uint64_t every = (trace.size() - warmup) / kSamples + 1, samples = 0;
  double items = 0;
  char key[16];
  for (uint64_t i = 0; i < trace.size(); ++i) {
    KeyOf(trace[i], key);
    std::string_view k(key, 16);
    bool hit = cache.Lookup(k, nullptr);
    if (!hit) {
      bool applied;
      (void)cache.Insert(k, {kValue, kValueBytes}, WriteOptions{}, &applied);
    }
    if (i >= warmup) {
      r.hits += hit;
      ++r.requests;
      if ((i - warmup) % every == 0) items += double(cache.GetStats().items), ++samples;
    }
  }
  r.mean_items = samples ? items / double(samples) : 0;
  r.seconds = Since(t0);
  return r;
}

}  // namespace strata::l1bench
