#include "tiers/pending_writes.h"

#include <cstring>
#include <mutex>
#include <new>
#include <utility>

#include "routing/murmur3.h"

namespace strata {

// ---------------------------------------------------------------- WriteRecord

WriteRecord* WriteRecord::Make(Op op, std::string_view key, std::string_view value,
                               int64_t expire_at_ms, uint8_t mask, uint32_t refs) {
  void* mem = ::operator new(sizeof(WriteRecord) + key.size() + value.size());
  auto* r = new (mem) WriteRecord(op, static_cast<uint32_t>(key.size()),
                                  static_cast<uint32_t>(value.size()), expire_at_ms, mask, refs);
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
int64_t Charge(std::string_view key, const PendingWrites::Entry& e) {
  return static_cast<int64_t>(key.size() + e.value().size() + sizeof(PendingWrites::Entry) + 32);
}
}  // namespace

PendingWrites::~PendingWrites() {
  for (Shard& s : shards_) {
    while (!s.map.empty()) EraseLocked(s, s.map.begin());
  }
}

PendingWrites::Shard& PendingWrites::ShardFor(std::string_view key) {
  return shards_[KeyHash(key) & (kShards - 1)];
}

const PendingWrites::Entry* PendingWrites::FindLocked(Shard& shard, std::string_view key) {
  auto it = shard.map.find(key);
  return it == shard.map.end() ? nullptr : &it->second;
}

void PendingWrites::PutLocked(Shard& shard, WriteRecord* r) {
  using Op = WriteRecord::Op;
  const std::string_view key = r->key();
  auto it = shard.map.find(key);
  if (it == shard.map.end()) {
    Entry e;
    r->Ref();
    e.key_rec = r;  // the map's key views its bytes
    if (r->op == Op::kSet) {
      r->Ref();
      e.val_rec = r;
    }
    e.seq = r->seq;
    e.op = r->op;
    e.expire_at_ms = r->expire_at_ms;
    it = shard.map.emplace(key, e).first;
    size_.fetch_add(1, std::memory_order_relaxed);
    bytes_.fetch_add(Charge(key, it->second), std::memory_order_relaxed);
    return;
  }
  Entry& cur = it->second;
  if (cur.seq >= r->seq) return;  // a newer write is already recorded
  bytes_.fetch_sub(Charge(key, cur), std::memory_order_relaxed);
  cur.seq = r->seq;
  cur.has_older = true;
  if (r->op == Op::kExpire) {
    // Over a set: the value stays, only its expiry changes. Over a delete:
    // expiring a deleted key changes nothing. Over an expire: the new one.
    if (cur.op != Op::kDelete) cur.expire_at_ms = r->expire_at_ms;
  } else {
    if (cur.val_rec != nullptr) cur.val_rec->Unref();
    cur.val_rec = nullptr;
    if (r->op == Op::kSet) {
      r->Ref();
      cur.val_rec = r;
    }
    cur.op = r->op;
    cur.expire_at_ms = r->expire_at_ms;
  }
  bytes_.fetch_add(Charge(key, cur), std::memory_order_relaxed);
}

void PendingWrites::EraseLocked(Shard& shard, Map::iterator it) {
  Entry e = it->second;
  bytes_.fetch_sub(Charge(it->first, e), std::memory_order_relaxed);
  size_.fetch_sub(1, std::memory_order_relaxed);
  shard.map.erase(it);  // before the key's storage may go
  if (e.val_rec != nullptr) e.val_rec->Unref();
  e.key_rec->Unref();
}

bool PendingWrites::EraseIfSeqLocked(Shard& shard, std::string_view key, uint64_t seq) {
  auto it = shard.map.find(key);
  if (it == shard.map.end() || it->second.seq != seq) return false;
  EraseLocked(shard, it);
  return true;
}

bool PendingWrites::Lookup(std::string_view key, PendingWrite* out) {
  Shard& s = ShardFor(key);
  std::lock_guard<SpinLock> lock(s.mu);
  if (s.map.empty()) return false;
  const Entry* e = FindLocked(s, key);
  if (e == nullptr) return false;
  out->seq = e->seq;
  out->op = e->op;
  out->value.assign(e->value());
  out->expire_at_ms = e->expire_at_ms;
  return true;
}

void PendingWrites::Confirm(std::string_view key, uint64_t seq) {
  Shard& s = ShardFor(key);
  std::lock_guard<SpinLock> lock(s.mu);
  auto it = s.map.find(key);
  if (it == s.map.end() || it->second.seq > seq) return;
  EraseLocked(s, it);
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
