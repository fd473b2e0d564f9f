// L1Cache: the in-process tier: sharded, memory-bounded, TTL-aware.
//
// Keys are spread over a power-of-two number of shards by the top bits of
// their murmur3 hash (routing/murmur3.h); each shard has its own spin lock,
// index and S3-FIFO queues (l1_shard.h), so two loop threads meet on a lock
// only when they touch the same shard, and never sleep on it. There is no
// global lock: the only shared word is the atomic byte total.
//
// Memory. l1.max_bytes bounds everything the cache allocates for entries:
// each entry's malloc chunk (header + key + value), the index slots and the
// ghost tables. Each shard owns an equal share; an insert first evicts from
// its own shard while that shard is over its share, then (only if the total
// is still over, e.g. after a large value) from other shards over theirs.
//
// Expiry is absolute (ms since the epoch). Expired entries are never
// returned; Sweep() reclaims their memory in small batches per shard (each
// batch holds the shard lock for tens of microseconds at the default 64
// entries), from a background timer; a later call resumes at the next shard.
//
// Negative caching. Insert with WriteOptions::negative stores a marker that
// the key is absent below L1 (tier.h has the rules). The marker is an entry
// without value bytes, charged, evicted and expired like any other, but it is
// never a key: Lookup returns false for it (and says so through *negative),
// TtlMs says -2, Erase drops it and returns false, SetExpiry leaves it alone
// and returns false.
//
// Thread affinity: all methods are safe from any thread. Tier callbacks are
// invoked inline, after the shard lock is released; a Get callback's value
// view points into a per-thread buffer that is valid until the callback
// returns or the thread calls into L1 again.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "tiers/l1_shard.h"
#include "tiers/tier.h"

namespace strata {

struct L1Options {
  uint64_t max_bytes = 256ull << 20;
  uint32_t shards = 0;  // 0 = automatic; otherwise a power of two
  Clock* clock = nullptr;  // nullptr = SystemClock
};

struct L1Stats {
  uint64_t items = 0;
  uint64_t bytes = 0;
  uint64_t max_bytes = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;
  uint64_t expired = 0;
  uint64_t dead = 0;
  uint64_t negative_hits = 0;   // lookups that found a negative entry; not in hits or misses
  uint64_t negative_items = 0;  // negative entries, included in items
};

class L1Cache final : public Tier {
 public:
  explicit L1Cache(const L1Options& options);
  ~L1Cache() override;

  // --- Synchronous API (the Tier methods below wrap it) ---

  // If key is present and live, copies its value into *value (if non-null)
  // and its expiry into *expire_at, and returns true. If a live negative entry
  // is found instead, returns false, touches neither, and sets *negative (if
  // non-null) to true; *negative is left alone otherwise.
  // *fill_token (if non-null) receives the key's shard write epoch, for a
  // later conditional fill (WriteOptions::fill_token).
  bool Lookup(std::string_view key, std::string* value, int64_t* expire_at = nullptr,
              bool* negative = nullptr, uint64_t* fill_token = nullptr);
  // Stores key=value, or with options.negative a negative entry (value is
  // ignored). Returns TooLarge if the entry could never fit in l1.max_bytes;
  // otherwise ok, with *applied false if nx/xx was not met (a negative entry
  // counts as absent for both).
  Status Insert(std::string_view key, std::string_view value, const WriteOptions& options,
                bool* applied);
  // Returns whether a live entry existed. Also removes a negative entry (and
  // returns false for it).
  bool Erase(std::string_view key);
  // expire_at_ms <= now deletes. Returns whether a live entry existed; a
  // negative entry is left as it is.
  bool SetExpiry(std::string_view key, int64_t expire_at_ms);
  // Redis PTTL meaning: remaining ms, -1 no expiry, -2 missing (or negative).
  int64_t TtlMs(std::string_view key);

  // Reclaims dead and expired entries: examines up to batch_per_shard entries
  // per shard, shard after shard from where the last call stopped (more in a
  // shard where most of a batch had expired), until max_total entries have
  // been examined or every shard has been visited once. Returns the number of
  // entries freed. REQUIRES: not called from two threads at once.
  size_t Sweep(size_t batch_per_shard, size_t max_total);

  L1Stats GetStats() const;
  uint64_t used_bytes() const { return used_.load(std::memory_order_relaxed); }
  uint32_t shard_count() const { return nshards_; }

  // --- Tier ---
  std::string_view name() const override { return "l1"; }
  bool AnswersInline() const override { return true; }
  void Get(std::string_view key, GetCallback done) override;
  void Set(std::string_view key, std::string_view value, const WriteOptions& options,
           WriteCallback done) override;
  void Delete(std::string_view key, WriteCallback done) override;
  void Expire(std::string_view key, int64_t expire_at_ms, WriteCallback done) override;
  void Ttl(std::string_view key, TtlCallback done) override;

 private:
  // Shards take hash bits 52..63; the index uses the low bits, its tags bits
  // 32..47 and the ghost table bits 8..39, so the choices stay independent.
  static constexpr uint32_t kMaxShards = 4096;
  L1Shard& ShardFor(uint64_t hash) { return *shards_[(hash >> 52) & (nshards_ - 1)]; }
  int64_t Now() const { return clock_->NowMs(); }
  void Account(L1Shard& shard) {
    used_.fetch_add(static_cast<uint64_t>(shard.TakeUsedDelta()), std::memory_order_relaxed);
  }
  bool OverBudget() const { return used_.load(std::memory_order_relaxed) > max_bytes_; }
  void EvictFromOtherShards();

  Clock* clock_;
  uint64_t max_bytes_;
  uint64_t share_bytes_;
  uint32_t nshards_;
  std::unique_ptr<std::unique_ptr<L1Shard>[]> shards_;
  std::atomic<uint64_t> used_{0};
  std::atomic<uint32_t> evict_hand_{0};
  uint32_t sweep_shard_ = 0;  // Sweep() is called from one thread at a time
};

}  // namespace strata
