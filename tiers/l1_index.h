// L1Index: an open-addressing hash table from key to L1Entry*, one per shard.
//
// Linear probing; a slot is 8 bytes: the entry pointer (low 48 bits; x86-64
// and AArch64 user pointers fit) and a 16-bit tag from the key's hash, so a
// probe rarely touches an entry that does not match. Deletion shifts later
// entries back (no tombstones). The table doubles at 3/4 load; each shard's
// table is small (a shard holds 1/256 of the keys by default), so a resize
// copies tens of KiB and does not stall requests on other shards.
//
// Thread affinity: none; the owning shard serialises access with its lock.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tiers/l1_entry.h"

namespace strata {

class L1Index {
 public:
  L1Index();

  // Returns the entry with this key, or nullptr.
  L1Entry* Find(uint64_t hash, std::string_view key) const;
  // REQUIRES: no entry with e's key is present.
  void Insert(uint64_t hash, L1Entry* e);
  // Replaces the entry with the same key (old must be present) by e.
  void Replace(uint64_t hash, L1Entry* old_entry, L1Entry* e);
  // Removes e (which must be present).
  void Remove(uint64_t hash, L1Entry* e);

  size_t size() const { return size_; }
  // Bytes of the slot array, charged against the L1 budget.
  uint64_t memory_bytes() const { return slots_.capacity() * sizeof(uint64_t); }

 private:
  static constexpr uint64_t kPtrMask = (uint64_t(1) << 48) - 1;
  static uint64_t Tag(uint64_t hash) { return (hash >> 32) & 0xffff; }
  static uint64_t Pack(uint64_t hash, L1Entry* e) {
    return (Tag(hash) << 48) | (reinterpret_cast<uintptr_t>(e) & kPtrMask);
  }
  static L1Entry* Ptr(uint64_t slot) { return reinterpret_cast<L1Entry*>(slot & kPtrMask); }
  size_t SlotOf(uint64_t hash, L1Entry* e) const;
  void Grow();
  void InsertNoGrow(uint64_t hash, L1Entry* e);

  std::vector<uint64_t> slots_;
  size_t mask_;
  size_t size_ = 0;
};

}  // namespace strata
