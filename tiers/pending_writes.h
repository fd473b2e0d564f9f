// PendingWrites: acknowledged write-behind writes that the drain has not yet
// confirmed in every tier below L1, by key (the newest per key).
//
// It is what makes write-behind read-your-writes: a get that misses L1 asks
// here before asking L2/L3 (PendingTier below), so an acknowledged value is
// returned even after L1 evicted it, and an acknowledged delete hides the
// old value that Redis or RocksDB still hold. The drain removes an entry
// once the write it holds (or a newer one) is confirmed.
//
// Locking. 64 shards, each a spin lock over an open-addressing table. The
// write-behind path holds a key's shard lock across "check condition, append
// to the WAL, record here, write L1", so writes of one key from different
// loops reach the WAL, this map and L1 in the same order.
//
// Layout. A key's 64-bit murmur3 hash (KeyHash, computed once per write and
// kept in its WriteRecord) picks the shard (low 6 bits) and the home slot
// (the bits above). Slots hold the hash and the entry inline (linear probing,
// at most half full; deletion shifts the run back, so there are no
// tombstones); a probe compares hashes and reads a key's bytes only on a
// hash match, and the drain's confirm recognizes its own record by pointer.
//
// Thread affinity: any thread. Memory: bounded by the WAL backlog bound
// (wal.max_bytes), since every entry is also an unconfirmed WAL record; an
// entry shares its records with the drain queue (WriteRecord).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/spinlock.h"
#include "tiers/tier.h"

namespace strata {

// One journaled write: its key and value in a single allocation, shared by
// the drain queue and the pending map (reference counted: whichever lets go
// last frees it). A write costs one allocation here, not a copy per holder.
// Immutable once published, except `withdrawn` (guarded by the drain queue's
// mutex). Any thread.
class WriteRecord {
 public:
  enum class Op : uint8_t { kSet, kDelete, kExpire };

  // Returns a record with `refs` owners (each calls Unref once).
  // `hash` is KeyHash(key) (the caller has usually computed it already).
  static WriteRecord* Make(Op op, std::string_view key, std::string_view value,
                           int64_t expire_at_ms, uint8_t mask, uint32_t refs, uint64_t hash);
  WriteRecord(const WriteRecord&) = delete;
  WriteRecord& operator=(const WriteRecord&) = delete;

  void Ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Unref() {
    if (Release()) Free();
  }
  // Drops a reference without freeing: true if it was the last one, and the
  // caller now owns the memory (to Free, possibly on another thread).
  [[nodiscard]] bool Release() { return refs_.fetch_sub(1, std::memory_order_acq_rel) == 1; }
  // REQUIRES: no references left (Release returned true).
  void Free();

  std::string_view key() const { return {data(), key_size_}; }
  std::string_view value() const { return {data() + key_size_, value_size_}; }

  uint64_t seq = 0;  // set once, before the record is shared
  const uint64_t hash;  // KeyHash(key())
  const Op op;
  const uint8_t mask;        // which tiers (write_behind.h's TierMask)
  bool withdrawn = false;    // under the drain queue's mutex: its journal write failed
  const int64_t expire_at_ms;  // kSet: 0 = none; kExpire: the new expiry

 private:
  WriteRecord(Op op, uint32_t key_size, uint32_t value_size, int64_t expire_at_ms, uint8_t mask,
              uint32_t refs, uint64_t hash)
      : hash(hash),
        op(op),
        mask(mask),
        expire_at_ms(expire_at_ms),
        refs_(refs),
        key_size_(key_size),
        value_size_(value_size) {}
  ~WriteRecord() = default;
  const char* data() const { return reinterpret_cast<const char*>(this + 1); }
  char* data() { return reinterpret_cast<char*>(this + 1); }

  std::atomic<uint32_t> refs_;
  const uint32_t key_size_;
  const uint32_t value_size_;
};

// A key's pending state, copied out for a reader.
struct PendingWrite {
  using Op = WriteRecord::Op;
  uint64_t seq = 0;
  Op op = Op::kSet;
  std::string value;         // kSet
  int64_t expire_at_ms = 0;  // kSet: 0 = none; kExpire: the new expiry
};

class PendingWrites {
 public:
  // A key's newest unconfirmed write, with an expire folded into the set
  // before it. Holds a reference to each record it points to.
  struct Entry {
    WriteRecord* key_rec = nullptr;  // holds the key's bytes; nullptr = free slot
    WriteRecord* val_rec = nullptr;  // kSet: the record holding the value
    uint64_t seq = 0;                // the newest write folded in
    WriteRecord::Op op = WriteRecord::Op::kSet;
    int64_t expire_at_ms = 0;
    // It replaced an unconfirmed write of the key (which the drain queue
    // still holds): if this one fails, that one is the key's state again.
    bool has_older = false;
    std::string_view value() const { return val_rec ? val_rec->value() : std::string_view(); }
  };
  class Shard {
   public:
    SpinLock mu;
    bool empty() const { return used_ == 0; }  // REQUIRES: mu held

   private:
    friend class PendingWrites;
    struct Slot {
      uint64_t hash;
      Entry e;
    };
    std::vector<Slot> slots_;  // a power of two long, or empty
    size_t used_ = 0;
  };

  PendingWrites() = default;
  ~PendingWrites();
  PendingWrites(const PendingWrites&) = delete;
  PendingWrites& operator=(const PendingWrites&) = delete;

  static uint64_t HashOf(std::string_view key);
  Shard& ShardOf(uint64_t hash) { return shards_[hash & (kShards - 1)]; }
  Shard& ShardFor(std::string_view key) { return ShardOf(HashOf(key)); }

  // REQUIRES: shard.mu held, hash = HashOf(key). Returns the entry or nullptr.
  static const Entry* FindLocked(Shard& shard, std::string_view key, uint64_t hash);
  // REQUIRES: shard.mu held (the shard of r->hash). Records `r` (taking the
  // references it keeps) unless a newer write is there. An expire over a
  // pending set merges into it (the set with the new expiry).
  void PutLocked(Shard& shard, WriteRecord* r);

  // REQUIRES: shard.mu held. Removes the entry if it is exactly write `seq`.
  bool EraseIfSeqLocked(Shard& shard, std::string_view key, uint64_t seq);

  // Copies the entry for `key` into *out; false if none.
  bool Lookup(std::string_view key, PendingWrite* out);
  // The drain confirmed every write of r's key up to `seq`: forget the
  // entry if it is not newer.
  void Confirm(const WriteRecord* r, uint64_t seq);

  uint64_t size() const { return size_.load(std::memory_order_relaxed); }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

 private:
  using Slot = Shard::Slot;
  // The slot holding `key` (recognized by `rec` if it is the entry's key
  // record), or -1; then *free (if given) is the empty slot that ended the
  // probe, where the key would go (SIZE_MAX: no table yet).
  static ptrdiff_t FindSlot(const Shard& shard, std::string_view key, uint64_t hash,
                            const WriteRecord* rec, size_t* free = nullptr);
  // The first empty slot from the home of `hash` (the table has one).
  static size_t FreeSlot(const std::vector<Slot>& slots, uint64_t hash);
  static void Resize(Shard& shard, size_t slots);
  // Makes `r` the entry's state: op, expiry, value record (a set's).
  static void TakeValue(Entry& e, WriteRecord* r);
  void EraseSlot(Shard& shard, size_t i);

  static constexpr size_t kShards = 64;
  static constexpr size_t kMinSlots = 16;
  Shard shards_[kShards];
  std::atomic<uint64_t> size_{0};
  std::atomic<int64_t> bytes_{0};
};

// The pending writes as a tier between L1 and L2: a pending set is a hit, a
// pending delete is "known absent" (GetResult::negative, so the chain stops
// instead of asking Redis for the old value), a pending expire-only entry
// defers to the tiers below. Writes are no-ops that report success: the
// write-behind path, not the chain, records pending writes. Any thread;
// callbacks inline.
class PendingTier final : public Tier {
 public:
  PendingTier(PendingWrites* pending, Clock* clock) : pending_(pending), clock_(clock) {}
  std::string_view name() const override { return "pending"; }
  void Get(std::string_view key, GetCallback done) override;
  void Set(std::string_view key, std::string_view value, const WriteOptions& options,
           WriteCallback done) override;
  void Delete(std::string_view key, WriteCallback done) override;
  void Expire(std::string_view key, int64_t expire_at_ms, WriteCallback done) override;
  void Ttl(std::string_view key, TtlCallback done) override;

 private:
  PendingWrites* pending_;
  Clock* clock_;
};

}  // namespace strata
