#include "tiers/pending_writes.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <new>
#include <utility>

#include "routing/murmur3.h"

namespace strata {

// ---------------------------------------------------------------- WriteRecord

WriteRecord* WriteRecord::Make(Op op, std::string_view key, std::string_view value,
                               int64_t expire_at_ms, uint8_t mask, uint32_t refs, uint64_t hash) {
  void* mem = ::operator new(sizeof(WriteRecord) + key.size() + value.size());
  auto* r = new (mem) WriteRecord(op, static_cast<uint32_t>(key.size()),
                                  static_cast<uint32_t>(value.size()), expire_at_ms, mask, refs,
                                  hash);
  if (!key.empty()) std::memcpy(r->data(), key.data(), key.size());
  if (!value.empty()) std::memcpy(r->data() + key.size(), value.data(), value.size());
  return r;
}

void WriteRecord::Free() {
  this->~WriteRecord();
  ::operator delete(this);
}

// ---------------------------------------------------------------- PendingWrites

namespace {

int64_t Charge(const PendingWrites::Entry& e) {
  return static_cast<int64_t>(e.key_rec->key().size() + e.value().size() +
                              sizeof(PendingWrites::Entry) + 16);
}

// The hash's low bits pick the shard; the bits above them, the home slot.
size_t Home(uint64_t hash, size_t mask) { return static_cast<size_t>(hash >> 6) & mask; }

}  // namespace

PendingWrites::~PendingWrites() {
  for (Shard& s : shards_) {
    for (Slot& sl : s.slots_) {
      if (sl.e.key_rec == nullptr) continue;
      if (sl.e.val_rec != nullptr) sl.e.val_rec->Unref();
      sl.e.key_rec->Unref();
    }
  }
}

uint64_t PendingWrites::HashOf(std::string_view key) { return KeyHash(key); }

ptrdiff_t PendingWrites::FindSlot(const Shard& shard, std::string_view key, uint64_t hash,
                                  const WriteRecord* rec, size_t* free) {
  if (free != nullptr) *free = SIZE_MAX;
  if (shard.slots_.empty()) return -1;
  const size_t mask = shard.slots_.size() - 1;
  for (size_t i = Home(hash, mask);; i = (i + 1) & mask) {
    const Slot& sl = shard.slots_[i];
    if (sl.e.key_rec == nullptr) {
      if (free != nullptr) *free = i;
      return -1;
    }
    if (sl.e.key_rec == rec || (sl.hash == hash && sl.e.key_rec->key() == key)) {
      return static_cast<ptrdiff_t>(i);
    }
  }
}

size_t PendingWrites::FreeSlot(const std::vector<Slot>& slots, uint64_t hash) {
  const size_t mask = slots.size() - 1;
  size_t i = Home(hash, mask);
  while (slots[i].e.key_rec != nullptr) i = (i + 1) & mask;
  return i;
}

void PendingWrites::Resize(Shard& shard, size_t slots) {
  std::vector<Slot> old(slots, Slot{0, Entry()});
  old.swap(shard.slots_);
  for (const Slot& sl : old) {
    if (sl.e.key_rec != nullptr) shard.slots_[FreeSlot(shard.slots_, sl.hash)] = sl;
  }
}

void PendingWrites::TakeValue(Entry& e, WriteRecord* r) {
  if (e.val_rec != nullptr) e.val_rec->Unref();
  e.val_rec = nullptr;
  if (r->op == WriteRecord::Op::kSet) {
    r->Ref();
    e.val_rec = r;
  }
  e.op = r->op;
  e.expire_at_ms = r->expire_at_ms;
}

const PendingWrites::Entry* PendingWrites::FindLocked(Shard& shard, std::string_view key,
                                                      uint64_t hash) {
  const ptrdiff_t i = FindSlot(shard, key, hash, nullptr);
  return i < 0 ? nullptr : &shard.slots_[static_cast<size_t>(i)].e;
}

void PendingWrites::PutLocked(Shard& shard, WriteRecord* r) {
  using Op = WriteRecord::Op;
  size_t free = SIZE_MAX;
  const ptrdiff_t found = FindSlot(shard, r->key(), r->hash, nullptr, &free);
  if (found < 0) {
    if ((shard.used_ + 1) * 2 > shard.slots_.size()) {
      Resize(shard, std::max(kMinSlots, shard.slots_.size() * 2));
      free = FreeSlot(shard.slots_, r->hash);  // the probe's stop moved
    }
    Slot& sl = shard.slots_[free];
    sl.hash = r->hash;
    Entry& e = sl.e;
    e = Entry();
    r->Ref();
    e.key_rec = r;
    e.seq = r->seq;
    TakeValue(e, r);  // an expire too: the entry is that expire
    ++shard.used_;
    size_.fetch_add(1, std::memory_order_relaxed);
    bytes_.fetch_add(Charge(e), std::memory_order_relaxed);
    return;
  }
  Entry& cur = shard.slots_[static_cast<size_t>(found)].e;
  if (cur.seq >= r->seq) return;  // a newer write is already recorded
  bytes_.fetch_sub(Charge(cur), std::memory_order_relaxed);
  cur.seq = r->seq;
  cur.has_older = true;
  if (r->op == Op::kExpire) {
    // Over a set: the value stays, only its expiry changes. Over a delete:
    // expiring a deleted key changes nothing. Over an expire: the new one.
    if (cur.op != Op::kDelete) cur.expire_at_ms = r->expire_at_ms;
  } else {
    TakeValue(cur, r);
  }
  bytes_.fetch_add(Charge(cur), std::memory_order_relaxed);
}

void PendingWrites::EraseSlot(Shard& shard, size_t i) {
  const Entry e = shard.slots_[i].e;
  bytes_.fetch_sub(Charge(e), std::memory_order_relaxed);
  size_.fetch_sub(1, std::memory_order_relaxed);
  // Backward shift: move later members of the probe run into the hole while
  // the hole lies between their home and where they sit, so that every key
  // stays reachable from its home without tombstones.
  const size_t mask = shard.slots_.size() - 1;
  size_t hole = i;
  for (size_t j = (i + 1) & mask; shard.slots_[j].e.key_rec != nullptr; j = (j + 1) & mask) {
    const size_t home = Home(shard.slots_[j].hash, mask);
    const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    shard.slots_[hole] = shard.slots_[j];
    hole = j;
  }
  shard.slots_[hole].e = Entry();
  --shard.used_;
  if (shard.used_ == 0) {
    std::vector<Slot>().swap(shard.slots_);
  } else if (shard.slots_.size() > kMinSlots && shard.used_ * 8 < shard.slots_.size()) {
    Resize(shard, shard.slots_.size() / 2);  // a burst is over: give memory back
  }
  if (e.val_rec != nullptr) e.val_rec->Unref();
  e.key_rec->Unref();  // last: the slot no longer views its key
}

bool PendingWrites::EraseIfSeqLocked(Shard& shard, std::string_view key, uint64_t seq) {
  const ptrdiff_t i = FindSlot(shard, key, HashOf(key), nullptr);
  if (i < 0 || shard.slots_[static_cast<size_t>(i)].e.seq != seq) return false;
  EraseSlot(shard, static_cast<size_t>(i));
  return true;
}

bool PendingWrites::Lookup(std::string_view key, PendingWrite* out) {
  const uint64_t h = HashOf(key);
  Shard& s = ShardOf(h);
  std::lock_guard<SpinLock> lock(s.mu);
  const Entry* e = FindLocked(s, key, h);
  if (e == nullptr) return false;
  out->seq = e->seq;
  out->op = e->op;
  out->value.assign(e->value());
  out->expire_at_ms = e->expire_at_ms;
  return true;
}

void PendingWrites::Confirm(const WriteRecord* r, uint64_t seq) {
  Shard& s = ShardOf(r->hash);
  std::lock_guard<SpinLock> lock(s.mu);
  const ptrdiff_t i = FindSlot(s, r->key(), r->hash, r);
  if (i < 0 || s.slots_[static_cast<size_t>(i)].e.seq > seq) return;
  EraseSlot(s, static_cast<size_t>(i));
}

// ---------------------------------------------------------------- PendingTier

void PendingTier::Get(std::string_view key, GetCallback done) {
  GetResult r;
  PendingWrite w;
  if (pending_->size() != 0 && pending_->Lookup(key, &w)) {
    if (w.op == PendingWrite::Op::kSet) {
      if (w.expire_at_ms == 0 || w.expire_at_ms > clock_->NowMs()) {
        r.found = true;
        r.value = w.value;
        r.expire_at_ms = w.expire_at_ms;
      } else {
        r.negative = true;  // the acknowledged value has expired: absent
      }
    } else if (w.op == PendingWrite::Op::kDelete) {
      r.negative = true;  // deleted, whatever the tiers below still hold
    }
  }
  done(r);
}

void PendingTier::Set(std::string_view, std::string_view, const WriteOptions&,
                      WriteCallback done) {
  done(WriteResult{Status::Ok(), true});
}

void PendingTier::Delete(std::string_view, WriteCallback done) {
  done(WriteResult{Status::Ok(), false});
}

void PendingTier::Expire(std::string_view, int64_t, WriteCallback done) {
  done(WriteResult{Status::Ok(), false});
}

void PendingTier::Ttl(std::string_view key, TtlCallback done) {
  TtlResult r;  // -2: ask the tiers below
  PendingWrite w;
  if (pending_->size() != 0 && pending_->Lookup(key, &w) && w.op == PendingWrite::Op::kSet) {
    int64_t now = clock_->NowMs();
    if (w.expire_at_ms == 0) r.ttl_ms = -1;
    else if (w.expire_at_ms > now) r.ttl_ms = w.expire_at_ms - now;
  }
  done(r);
}

}  // namespace strata
