#include "tiers/l1_index.h"

#include <cassert>
#include <cstring>

#include "routing/murmur3.h"

namespace strata {

L1Index::L1Index() : slots_(16, 0), mask_(15) {}

L1Entry* L1Index::Find(uint64_t hash, std::string_view key) const {
  const uint64_t tag = Tag(hash);
  for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
    uint64_t s = slots_[i];
    if (s == 0) return nullptr;
    if ((s >> 48) == tag) {
      L1Entry* e = Ptr(s);
      if (e->key_len == key.size() && std::memcmp(e->data(), key.data(), key.size()) == 0) {
        return e;
      }
    }
  }
}

size_t L1Index::SlotOf(uint64_t hash, L1Entry* e) const {
  for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
    assert(slots_[i] != 0 && "entry must be present");
    if (Ptr(slots_[i]) == e) return i;
  }
}

void L1Index::InsertNoGrow(uint64_t hash, L1Entry* e) {
  assert((reinterpret_cast<uintptr_t>(e) & ~kPtrMask) == 0);
  size_t i = hash & mask_;
  while (slots_[i] != 0) i = (i + 1) & mask_;
  slots_[i] = Pack(hash, e);
}

void L1Index::Insert(uint64_t hash, L1Entry* e) {
  if ((size_ + 1) * 4 > slots_.size() * 3) Grow();
  InsertNoGrow(hash, e);
  ++size_;
}

void L1Index::Replace(uint64_t hash, L1Entry* old_entry, L1Entry* e) {
  slots_[SlotOf(hash, old_entry)] = Pack(hash, e);
}

void L1Index::Remove(uint64_t hash, L1Entry* e) {
  size_t hole = SlotOf(hash, e);
  slots_[hole] = 0;
  --size_;
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

void L1Index::Grow() {
  std::vector<uint64_t> old;
  old.swap(slots_);
  slots_.assign(old.size() * 2, 0);
  mask_ = slots_.size() - 1;
  for (uint64_t s : old) {
    if (s != 0) {
      L1Entry* e = Ptr(s);
      InsertNoGrow(KeyHash(e->key()), e);
    }
  }
}

}  // namespace strata
