// L1Index: an open-addressing hash table from key to L1Entry*, one per shard.
//
// Linear probing; a slot is 8 bytes: the entry pointer (low 48 bits; x86-64
// and AArch64 user pointers fit) and a 16-bit tag from the key's hash, so a
// probe rarely touches an entry that does not match. Deletion shifts later
// entries back (no tombstones in the live table).
//
// Growth is incremental (as Redis's dict rehash): at 3/4 load a table twice
// the size is allocated (calloc: large tables get lazily zeroed pages) and
// every later Insert or Remove moves a few slots of the old table into it.
// Lookups search the new table, then the old one. Moved old slots become
// tombstones so the old table's probe runs stay intact until it is freed.
// No single operation rehashes a whole table, so growing from empty to
// millions of entries does not stall the shard (bench/l1: l1-growth).
// Below 1/8 load the table shrinks the same way, so memory charged for the
// index follows the number of entries down as well as up.
//
// Thread affinity: none; the owning shard serialises access with its lock.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

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

  // Moves up to `slots` old slots of a resize in progress, and starts a
  // shrink if the table is under 1/8 full. Inserts and removes do this as
  // they go; the background sweep calls it too, so that a cache that stops
  // changing mid-resize does not keep both tables (or an oversized one).
  void AdvanceResize(size_t slots);

  size_t size() const { return size_; }
  bool resizing() const { return old_ != nullptr; }
  // Bytes of the slot arrays (both while resizing), charged to the L1 budget.
  uint64_t memory_bytes() const { return (cap_ + old_cap_) * sizeof(uint64_t); }

 private:
  struct FreeDeleter {
    void operator()(uint64_t* p) const { std::free(p); }
  };
  using Slots = std::unique_ptr<uint64_t[], FreeDeleter>;

  static constexpr uint64_t kPtrMask = (uint64_t(1) << 48) - 1;
  static constexpr uint64_t kMoved = 1;  // old-table tombstone (no entry is at address 1)
  static constexpr size_t kStepSlots = 8;  // old slots moved per mutation
  static constexpr size_t kMinSlots = 16;
  static uint64_t Tag(uint64_t hash) { return (hash >> 32) & 0xffff; }
  static uint64_t Pack(uint64_t hash, L1Entry* e) {
    return (Tag(hash) << 48) | (reinterpret_cast<uintptr_t>(e) & kPtrMask);
  }
  static L1Entry* Ptr(uint64_t slot) { return reinterpret_cast<L1Entry*>(slot & kPtrMask); }
  static Slots Allocate(size_t n);

  // Index of e's slot in (table, mask), or SIZE_MAX if absent.
  static size_t SlotOf(const uint64_t* table, size_t mask, uint64_t hash, const L1Entry* e);
  static L1Entry* Probe(const uint64_t* table, size_t mask, uint64_t hash, std::string_view key);
  void Place(uint64_t hash, L1Entry* e);  // into the new table, no growth check
  void StartResize(size_t new_cap);
  void MaybeShrink();
  void Step(size_t slots);  // moves up to `slots` old slots

  Slots slots_;
  size_t cap_ = 0;
  size_t mask_ = 0;
  Slots old_;  // non-null while resizing
  size_t old_cap_ = 0;
  size_t old_pos_ = 0;  // next old slot to move
  size_t size_ = 0;     // entries in both tables
};

}  // namespace strata
