// L1Shard: one shard of the L1 cache: an index, S3-FIFO queues and a TTL sweep.
//
// Eviction is S3-FIFO (Yang et al., SOSP'23): new keys enter a small FIFO
// (10% of the shard's share of l1.max_bytes); a key that is read while there
// is promoted to the main FIFO when it reaches the head, otherwise it is
// evicted and its fingerprint goes to a ghost table; a key found in the ghost
// table on insert goes straight to main. Main is a FIFO with reinsertion: an
// entry with a non-zero access counter is moved to the tail with the counter
// decremented. Hits only bump a 2-bit counter (no list surgery), which keeps
// the read path short; on a Zipf(0.99) trace it beats LRU by several points
// (bench/l1/l1-eviction-sim; numbers in bench/l1/RESULTS.md).
//
// Deletion and expiry mark an entry dead and unindex it at once; its memory
// is freed when the FIFO dequeues it, when the sweep (Sweep) walks past it,
// or when eviction finds that dead entries hold a large share of the shard,
// whichever comes first. Dead bytes stay charged until then, so the budget is
// never exceeded. An overwrite with a value of the same length is done in
// place (fixed-size values, e.g. embeddings, make no garbage).
//
// Negative entries (L1Entry::kNegative) are markers without value bytes. The
// shard stores, evicts and expires them like any entry; only the write
// conditions (Insert) and the callers of Lookup/Peek treat them as absent.
//
// Memory per entry with a 16-byte key and 32-byte value: an 80-byte malloc
// chunk (24-byte header + key + value + malloc's 8) plus an 8-byte index slot
// at 3/8..3/4 load (about 11-21 bytes): 91-101 bytes, 43-53 over the payload.
//
// Thread affinity: every method REQUIRES mu() held by the caller (L1Cache).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/spinlock.h"
#include "tiers/l1_entry.h"
#include "tiers/l1_index.h"

namespace strata {

struct L1ShardStats {
  uint64_t items = 0;
  uint64_t bytes = 0;  // charged bytes: entries (live and dead) + index + ghost
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;
  uint64_t expired = 0;
  uint64_t dead = 0;  // unindexed entries still waiting to be freed
  uint64_t negative_hits = 0;   // lookups that found a live negative entry (not in hits)
  uint64_t negative_items = 0;  // indexed negative entries (included in items)
};

class L1Shard {
 public:
  explicit L1Shard(uint64_t small_target_bytes) : small_target_(small_target_bytes) {}
  ~L1Shard();
  L1Shard(const L1Shard&) = delete;
  L1Shard& operator=(const L1Shard&) = delete;

  SpinLock& mu() { return mu_; }

  // Advances on every write, delete and expire that reaches the shard (not
  // on fills); a fill carries the value seen at its Get and is dropped if
  // it changed. Never 0.
  uint64_t write_epoch() const { return write_epoch_; }
  void BumpWriteEpoch() { ++write_epoch_; }

  // Returns the live entry for key, counting a hit or a miss. An expired
  // entry is unindexed (counted as expired) and reported as a miss. A live
  // negative entry is returned and counted as a hit: the caller has to test
  // for it anyway, and then calls CountNegativeHit(), so a plain hit or miss
  // pays for no extra test here.
  L1Entry* Lookup(uint64_t hash, std::string_view key, int64_t now_ms);
  // Moves the hit that Lookup just counted to negative_hits.
  void CountNegativeHit() {
    --hits_;
    ++negative_hits_;
  }
  // Like Lookup but counts nothing and does not touch the access counter.
  // May return a negative entry.
  L1Entry* Peek(uint64_t hash, std::string_view key, int64_t now_ms);

  enum class InsertResult {
    kRejected,  // nx/xx not met; the caller still owns e
    kInserted,  // e is now owned by the shard
    kAbsorbed,  // e's key already had an entry with a value of the same length, which was
                // overwritten in place; the caller still owns (and frees) e
  };
  // Inserts e (already filled) unless `condition` says otherwise. Either
  // entry may be negative; a negative entry in the index counts as absent for
  // the condition (nx replaces it, xx does not apply), and kAbsorbed may turn
  // a marker into a value of the same length or back.
  InsertResult Insert(uint64_t hash, L1Entry* e, uint8_t condition, int64_t now_ms);
  // Unindexes e; its memory is reclaimed later (see class comment).
  void Kill(uint64_t hash, L1Entry* e);
  // Changes a live entry's expiry (0 = never). Works on negative entries too;
  // L1Cache does not call it for them.
  void SetExpiry(L1Entry* e, int64_t expire_at_ms);

  // Frees one entry's worth of memory by the S3-FIFO rules. Returns false if
  // the shard holds no entries at all. When a large part of the shard's bytes
  // are dead (deleted or overwritten entries not yet dequeued), it reclaims
  // all of those first, so garbage never pushes out live entries.
  bool EvictOne(int64_t now_ms);

  // Examines up to `budget` queued entries from where the last call stopped,
  // freeing dead and expired ones. Returns how many it freed; *examined gets
  // how many it looked at.
  size_t Sweep(size_t budget, int64_t now_ms, size_t* examined);

  uint64_t used_bytes() const {
    return entry_bytes_ + index_.memory_bytes() + ghost_.capacity() * sizeof(uint32_t);
  }
  // Bytes changed since the last call (for the cache-wide total).
  int64_t TakeUsedDelta() {
    uint64_t u = used_bytes();
    int64_t d = static_cast<int64_t>(u - reported_);
    reported_ = u;
    return d;
  }
  L1ShardStats stats() const;

 private:
  static constexpr size_t kReclaimStep = 128;
  struct Fifo {
    L1Entry* head = nullptr;
    L1Entry* tail = nullptr;
    uint64_t bytes = 0;
    uint64_t count = 0;
  };
  void Push(int q, L1Entry* e);
  L1Entry* Pop(int q);
  void Free(L1Entry* e);
  bool GhostTake(uint64_t hash);
  void GhostAdd(uint64_t hash);

  SpinLock mu_;
  L1Index index_;
  Fifo fifo_[2];  // 0 = small, 1 = main
  std::vector<uint32_t> ghost_;
  uint64_t small_target_;
  uint64_t entry_bytes_ = 0;
  uint64_t reported_ = 0;
  uint64_t dead_ = 0;
  uint64_t dead_bytes_ = 0;
  // Queued entries (live or dead) with an expiry: with none and no dead
  // entries, Sweep has nothing to find and returns at once.
  uint64_t expiring_ = 0;
  // Sweep position: the entry before the next one to examine in queue
  // sweep_q_ (nullptr = at its head).
  L1Entry* sweep_prev_[2] = {nullptr, nullptr};
  int sweep_q_ = 0;
  uint64_t negative_ = 0;  // indexed negative entries
  uint64_t write_epoch_ = 1;
  uint64_t hits_ = 0, misses_ = 0, evictions_ = 0, expired_ = 0, negative_hits_ = 0;
};

}  // namespace strata
