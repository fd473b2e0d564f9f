// Cache policies replayed by l1-eviction-sim, all behind one shape: feed key
// ids in order, count hits after the warm-up.
//
//  - LruSim: item-counted LRU, the textbook reference (an intrusive doubly
//    linked list over key ids: same policy as std::list + hash map, faster).
//  - S3FifoSim: item-counted S3-FIFO as in Yang et al. (SOSP'23): small FIFO
//    of 10% of the items, main FIFO with reinsertion (2-bit counter), ghost
//    FIFO remembering as many evicted keys as main holds.
//  - L1Replay: Strata's real L1Cache, byte-budgeted, with 16-byte keys and
//    32-byte values so that every item costs the same.
//
// Thread affinity: single-threaded.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "bench/l1/keys.h"
#include "common/clock.h"
#include "tiers/l1_cache.h"

namespace strata::l1bench {

struct ReplayResult {
  uint64_t hits = 0;
  uint64_t requests = 0;  // counted (after warm-up)
  double mean_items = 0;  // items held, sampled during the counted part
  double seconds = 0;
  double hit_ratio() const { return requests ? double(hits) / double(requests) : 0; }
};

class LruSim {
 public:
  LruSim(uint32_t keys, uint64_t capacity);
  bool Access(uint32_t key);  // true on a hit; inserts on a miss
  uint64_t size() const { return size_; }

 private:
  void Unlink(uint32_t k);
  void PushFront(uint32_t k);
  uint64_t capacity_, size_ = 0;
  uint32_t sentinel_;
  std::vector<uint32_t> prev_, next_;
  std::vector<uint8_t> in_;
};

class S3FifoSim {
 public:
  S3FifoSim(uint32_t keys, uint64_t capacity);
  bool Access(uint32_t key);
  uint64_t size() const { return small_.size() + main_.size(); }

 private:
  void EvictOne();
  bool GhostTake(uint32_t k);
  uint64_t capacity_, small_cap_, ghost_cap_;
  std::deque<uint32_t> small_, main_;
  std::vector<uint8_t> where_;  // 0 absent, 1 small, 2 main
  std::vector<uint8_t> freq_;
  std::vector<uint64_t> ghost_at_;  // 1-based ghost sequence number; 0 = never
  uint64_t ghost_seq_ = 0;
};

// Items a fresh L1Cache with this budget holds at steady state, measured by
// inserting distinct keys until it has evicted for a while.
uint64_t L1ItemsAtBudget(uint64_t max_bytes, uint32_t shards);
// The budget under which L1 holds `items` items (within ~0.2%), found by
// filling and rescaling. *held gets the measured item count.
uint64_t L1BudgetForItems(uint64_t items, uint32_t shards, uint64_t* held);

template <typename Policy>
ReplayResult Replay(Policy& policy, const std::vector<uint32_t>& trace, uint64_t warmup);
ReplayResult ReplayL1(const std::vector<uint32_t>& trace, uint64_t warmup, uint64_t max_bytes,
                      uint32_t shards);

}  // namespace strata::l1bench
