#include "tiers/l1_index.h"

#include <cassert>
#include <cstring>
#include <new>

#include "routing/murmur3.h"

namespace strata {

L1Index::Slots L1Index::Allocate(size_t n) {
  auto* p = static_cast<uint64_t*>(std::calloc(n, sizeof(uint64_t)));
  if (p == nullptr) throw std::bad_alloc();  // as std::vector would; L1 cannot continue
  return Slots(p);
}

L1Index::L1Index() : slots_(Allocate(kMinSlots)), cap_(kMinSlots), mask_(kMinSlots - 1) {}

L1Entry* L1Index::Probe(const uint64_t* table, size_t mask, uint64_t hash,
                        std::string_view key) {
  const uint64_t tag = Tag(hash);
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    uint64_t s = table[i];
    if (s == 0) return nullptr;
    if (s != kMoved && (s >> 48) == tag) {
      L1Entry* e = Ptr(s);
      if (e->key_len == key.size() && std::memcmp(e->data(), key.data(), key.size()) == 0) {
        return e;
      }
    }
  }
}

L1Entry* L1Index::Find(uint64_t hash, std::string_view key) const {
  L1Entry* e = Probe(slots_.get(), mask_, hash, key);
  if (e == nullptr && old_ != nullptr) e = Probe(old_.get(), old_cap_ - 1, hash, key);
  return e;
}

size_t L1Index::SlotOf(const uint64_t* table, size_t mask, uint64_t hash, const L1Entry* e) {
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    if (table[i] == 0) return SIZE_MAX;
    if (table[i] != kMoved && Ptr(table[i]) == e) return i;
  }
}

void L1Index::Place(uint64_t hash, L1Entry* e) {
  assert((reinterpret_cast<uintptr_t>(e) & ~kPtrMask) == 0);
  size_t i = hash & mask_;
  while (slots_[i] != 0) i = (i + 1) & mask_;
  slots_[i] = Pack(hash, e);
}

void L1Index::StartResize(size_t new_cap) {
  // A resize still running when another is due would need a third table;
  // finish it first (growth cannot hit this with kStepSlots >= 3, see Insert).
  if (old_ != nullptr) Step(old_cap_);
  old_ = std::move(slots_);
  old_cap_ = cap_;
  old_pos_ = 0;
  cap_ = new_cap;
  mask_ = cap_ - 1;
  slots_ = Allocate(cap_);
}

void L1Index::Step(size_t n) {
  if (old_ == nullptr) return;
  size_t end = old_pos_ + n < old_cap_ ? old_pos_ + n : old_cap_;
  for (; old_pos_ < end; ++old_pos_) {
    uint64_t s = old_[old_pos_];
    if (s == 0 || s == kMoved) continue;
    L1Entry* e = Ptr(s);
    Place(KeyHash(e->key()), e);
    old_[old_pos_] = kMoved;
  }
  if (old_pos_ == old_cap_) {
    old_.reset();
    old_cap_ = 0;
  }
}

void L1Index::MaybeShrink() {
  // Shrink (incrementally, like growth) once the table is under 1/8 full,
  // so a cache emptied by deletes or expiry gives its index memory back.
  // The new table starts at most 1/4 full, far from the 3/4 growth point.
  if (old_ != nullptr || cap_ <= kMinSlots || size_ * 8 >= cap_) return;
  size_t want = kMinSlots;
  while (want < size_ * 4) want *= 2;
  if (want < cap_) StartResize(want);
}

void L1Index::AdvanceResize(size_t slots) {
  Step(slots);
  MaybeShrink();
}

void L1Index::Insert(uint64_t hash, L1Entry* e) {
  Step(kStepSlots);
  // The new table starts at 3/8 load and must absorb the old table's
  // entries before it reaches 3/4: with 8 slots moved per insert, the old
  // table (cap/2 slots) is done after cap/16 inserts, well before that.
  if ((size_ + 1) * 4 > cap_ * 3) StartResize(cap_ * 2);
  Place(hash, e);
  ++size_;
}

void L1Index::Replace(uint64_t hash, L1Entry* old_entry, L1Entry* e) {
  size_t i = SlotOf(slots_.get(), mask_, hash, old_entry);
  if (i != SIZE_MAX) {
    slots_[i] = Pack(hash, e);
    return;
  }
  i = SlotOf(old_.get(), old_cap_ - 1, hash, old_entry);
  assert(i != SIZE_MAX && "entry must be present");
  old_[i] = Pack(hash, e);
}

void L1Index::Remove(uint64_t hash, L1Entry* e) {
  Step(kStepSlots);
  --size_;
  MaybeShrink();
  size_t hole = SlotOf(slots_.get(), mask_, hash, e);
  if (hole == SIZE_MAX) {
    // Still in the old table: a tombstone keeps its probe runs intact.
    size_t i = SlotOf(old_.get(), old_cap_ - 1, hash, e);
    assert(i != SIZE_MAX && "entry must be present");
    old_[i] = kMoved;
    return;
  }
  slots_[hole] = 0;
  // Backward-shift: move later members of the probe run into the hole when
  // their home slot is not inside (hole, j].
  for (size_t j = (hole + 1) & mask_; slots_[j] != 0; j = (j + 1) & mask_) {
    L1Entry* m = Ptr(slots_[j]);
    size_t home = KeyHash(m->key()) & mask_;
    bool movable = (j > hole) ? (home <= hole || home > j) : (home <= hole && home > j);
    if (movable) {
      slots_[hole] = slots_[j];
      slots_[j] = 0;
      hole = j;
    }
  }
}

}  // namespace strata
