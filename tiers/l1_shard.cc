#include "tiers/l1_shard.h"

#include <cstring>

#include "routing/murmur3.h"
#include "tiers/tier.h"

namespace strata {

L1Shard::~L1Shard() {
  for (Fifo& q : fifo_) {
    for (L1Entry* e = q.head; e != nullptr;) {
      L1Entry* next = e->next;
      L1Entry::Destroy(e);
      e = next;
    }
  }
}

L1Entry* L1Shard::Peek(uint64_t hash, std::string_view key, int64_t now_ms) {
  L1Entry* e = index_.Find(hash, key);
  if (e != nullptr && e->expired(now_ms)) {
    Kill(hash, e);
    ++expired_;
    return nullptr;
  }
  return e;
}

L1Entry* L1Shard::Lookup(uint64_t hash, std::string_view key, int64_t now_ms) {
  L1Entry* e = Peek(hash, key, now_ms);
  if (e == nullptr) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  if (e->freq < 3) ++e->freq;
  return e;
}

L1Shard::InsertResult L1Shard::Insert(uint64_t hash, L1Entry* e, uint8_t condition,
                                      int64_t now_ms) {
  L1Entry* old = Peek(hash, e->key(), now_ms);
  // A negative entry is not a key: nx replaces it, xx does not apply to it.
  bool present = old != nullptr && !old->negative();
  auto cond = static_cast<WriteCondition>(condition);
  if (cond == WriteCondition::kIfAbsent && present) return InsertResult::kRejected;
  if (cond == WriteCondition::kIfPresent && !present) return InsertResult::kRejected;
  if (e->negative()) ++negative_;
  if (old != nullptr && old->negative()) --negative_;
  int q = 0;
  if (old != nullptr && old->value_len == e->value_len) {
    // Same size: overwrite in place (the old block holds exactly this many
    // bytes), keeping the entry's place and popularity. Its charge depends
    // only on the lengths, so a marker may become a value or back.
    std::memcpy(old->data() + old->key_len, e->data() + e->key_len, e->value_len);
    old->value_len = e->value_len;
    old->flags = static_cast<uint8_t>((old->flags & ~L1Entry::kNegative) |
                                      (e->flags & L1Entry::kNegative));
    SetExpiry(old, e->expire_at);
    return InsertResult::kAbsorbed;
  }
  if (old != nullptr) {
    // An overwrite keeps the key's popularity and queue.
    e->freq = old->freq;
    q = old->in_main() ? 1 : 0;
    index_.Replace(hash, old, e);
    old->flags |= L1Entry::kDead;
    ++dead_;
    dead_bytes_ += old->charge();
  } else {
    q = GhostTake(hash) ? 1 : 0;
    index_.Insert(hash, e);
  }
  entry_bytes_ += e->charge();
  if (e->expire_at != 0) ++expiring_;
  Push(q, e);
  return InsertResult::kInserted;
}

void L1Shard::Kill(uint64_t hash, L1Entry* e) {
  index_.Remove(hash, e);
  if (e->negative()) --negative_;
  e->flags |= L1Entry::kDead;
  ++dead_;
  dead_bytes_ += e->charge();
}

void L1Shard::SetExpiry(L1Entry* e, int64_t expire_at_ms) {
  if (e->expire_at == 0 && expire_at_ms != 0) ++expiring_;
  if (e->expire_at != 0 && expire_at_ms == 0) --expiring_;
  e->expire_at = expire_at_ms;
}

void L1Shard::Push(int q, L1Entry* e) {
  Fifo& f = fifo_[q];
  e->next = nullptr;
  if (q == 1) e->flags |= L1Entry::kInMain; else e->flags &= ~L1Entry::kInMain;
  if (f.tail != nullptr) f.tail->next = e; else f.head = e;
  f.tail = e;
  f.bytes += e->charge();
  ++f.count;
}

L1Entry* L1Shard::Pop(int q) {
  Fifo& f = fifo_[q];
  L1Entry* e = f.head;
  f.head = e->next;
  if (f.head == nullptr) f.tail = nullptr;
  f.bytes -= e->charge();
  --f.count;
  if (sweep_prev_[q] == e) sweep_prev_[q] = nullptr;
  e->next = nullptr;
  return e;
}

void L1Shard::Free(L1Entry* e) {
  if (e->dead()) {
    --dead_;
    dead_bytes_ -= e->charge();
  }
  entry_bytes_ -= e->charge();
  if (e->expire_at != 0) --expiring_;
  L1Entry::Destroy(e);
}

bool L1Shard::EvictOne(int64_t now_ms) {
  if (dead_bytes_ > 0 && dead_bytes_ * 8 > entry_bytes_) {
    // Garbage is over 1/8 of the shard: reclaim it before evicting live
    // entries. A bounded step of the sweep (which resumes where it stopped)
    // keeps the lock hold short; with that much garbage it usually finds some.
    size_t examined = 0;
    if (Sweep(kReclaimStep, now_ms, &examined) > 0) return true;
  }
  for (;;) {
    Fifo& small = fifo_[0];
    Fifo& main = fifo_[1];
    int q;
    if (small.count > 0 && (small.bytes > small_target_ || main.count == 0)) {
      q = 0;
    } else if (main.count > 0) {
      q = 1;
    } else {
      return false;
    }
    L1Entry* e = Pop(q);
    if (e->dead()) {
      Free(e);
      return true;
    }
    if (e->expired(now_ms)) {
      Kill(KeyHash(e->key()), e);
      ++expired_;
      Free(e);
      return true;
    }
    if (q == 0 && e->freq > 0) {
      e->freq = 0;
      Push(1, e);  // promoted: read while in the small FIFO
      continue;
    }
    if (q == 1 && e->freq > 0) {
      --e->freq;
      Push(1, e);  // reinserted with one less credit
      continue;
    }
    uint64_t hash = KeyHash(e->key());
    if (q == 0) GhostAdd(hash);
    Kill(hash, e);
    ++evictions_;
    Free(e);
    return true;
  }
}

size_t L1Shard::Sweep(size_t budget, int64_t now_ms, size_t* examined) {
  index_.AdvanceResize(16 * budget);
  if (expiring_ == 0 && dead_ == 0) {  // nothing that a walk could reclaim
    if (examined != nullptr) *examined = 0;
    return 0;
  }
  size_t freed = 0;
  size_t seen = 0;
  size_t empty_turns = 0;
  while (seen < budget && empty_turns < 2) {
    Fifo& f = fifo_[sweep_q_];
    L1Entry*& prev = sweep_prev_[sweep_q_];
    L1Entry* cur = prev != nullptr ? prev->next : f.head;
    if (cur == nullptr) {  // end of this queue: continue with the other one
      prev = nullptr;
      sweep_q_ ^= 1;
      ++empty_turns;
      continue;
    }
    empty_turns = 0;
    ++seen;
    bool expired = !cur->dead() && cur->expired(now_ms);
    if (!cur->dead() && !expired) {
      prev = cur;
      continue;
    }
    if (expired) {
      Kill(KeyHash(cur->key()), cur);
      ++expired_;
    }
    // Unlink cur from the middle of the singly linked FIFO.
    if (prev != nullptr) prev->next = cur->next; else f.head = cur->next;
    if (f.tail == cur) f.tail = prev;
    f.bytes -= cur->charge();
    --f.count;
    Free(cur);
    ++freed;
  }
  if (examined != nullptr) *examined = seen;
  return freed;
}

// The ghost table remembers fingerprints of keys evicted from the small FIFO.
// It is direct-mapped (a newer fingerprint overwrites an older one in its
// slot), sized to the shard's key count when eviction first happens, and
// charged to the budget. Nothing is allocated before the cache is full.
bool L1Shard::GhostTake(uint64_t hash) {
  if (ghost_.empty()) return false;
  uint32_t fp = static_cast<uint32_t>(hash >> 8) | 1;
  uint32_t& slot = ghost_[fp & (ghost_.size() - 1)];
  if (slot != fp) return false;
  slot = 0;
  return true;
}

void L1Shard::GhostAdd(uint64_t hash) {
  size_t want = 64;
  while (want < index_.size()) want <<= 1;
  if (ghost_.size() < want / 2 || ghost_.empty()) {
    std::vector<uint32_t>(want, 0).swap(ghost_);
  }
  uint32_t fp = static_cast<uint32_t>(hash >> 8) | 1;
  ghost_[fp & (ghost_.size() - 1)] = fp;
}

L1ShardStats L1Shard::stats() const {
  L1ShardStats s;
  s.items = index_.size();
  s.bytes = used_bytes();
  s.hits = hits_;
  s.misses = misses_;
  s.evictions = evictions_;
  s.expired = expired_;
  s.dead = dead_;
  s.negative_hits = negative_hits_;
  s.negative_items = negative_;
  return s;
}

}  // namespace strata
