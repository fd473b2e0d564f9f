#include "tiers/pending_writes.h"

#include <mutex>
#include <utility>

#include "routing/murmur3.h"

namespace strata {

namespace {
int64_t Charge(std::string_view key, const PendingWrite& w) {
  return static_cast<int64_t>(key.size() + w.value.size() + sizeof(PendingWrite) + 32);
}
}  // namespace

PendingWrites::Shard& PendingWrites::ShardFor(std::string_view key) {
  return shards_[KeyHash(key) & (kShards - 1)];
}

const PendingWrite* PendingWrites::FindLocked(Shard& shard, std::string_view key) {
  auto it = shard.map.find(key);
  return it == shard.map.end() ? nullptr : &it->second;
}

void PendingWrites::PutLocked(Shard& shard, std::string_view key, PendingWrite w) {
  auto it = shard.map.find(key);
  const bool inserted = it == shard.map.end();
  if (inserted) it = shard.map.try_emplace(std::string(key)).first;
  PendingWrite& cur = it->second;
  if (!inserted) {
    if (cur.seq >= w.seq) return;  // a newer write is already recorded
    bytes_.fetch_sub(Charge(key, cur), std::memory_order_relaxed);
    w.has_older = true;
    if (w.op == PendingWrite::Op::kExpire && cur.op == PendingWrite::Op::kSet) {
      // The value stays; only its expiry changes.
      w.op = PendingWrite::Op::kSet;
      w.value = std::move(cur.value);
    } else if (w.op == PendingWrite::Op::kExpire && cur.op == PendingWrite::Op::kDelete) {
      w.op = PendingWrite::Op::kDelete;  // expiring a deleted key changes nothing
    }
  } else {
    size_.fetch_add(1, std::memory_order_relaxed);
  }
  cur = std::move(w);
  bytes_.fetch_add(Charge(key, cur), std::memory_order_relaxed);
}

bool PendingWrites::EraseIfSeqLocked(Shard& shard, std::string_view key, uint64_t seq) {
  auto it = shard.map.find(key);
  if (it == shard.map.end() || it->second.seq != seq) return false;
  bytes_.fetch_sub(Charge(key, it->second), std::memory_order_relaxed);
  size_.fetch_sub(1, std::memory_order_relaxed);
  shard.map.erase(it);
  return true;
}

bool PendingWrites::Lookup(std::string_view key, PendingWrite* out) {
  Shard& s = ShardFor(key);
  std::lock_guard<SpinLock> lock(s.mu);
  if (s.map.empty()) return false;
  const PendingWrite* w = FindLocked(s, key);
  if (w == nullptr) return false;
  *out = *w;
  return true;
}

void PendingWrites::Confirm(std::string_view key, uint64_t seq) {
  Shard& s = ShardFor(key);
  std::lock_guard<SpinLock> lock(s.mu);
  auto it = s.map.find(key);
  if (it == s.map.end() || it->second.seq > seq) return;
  bytes_.fetch_sub(Charge(key, it->second), std::memory_order_relaxed);
  size_.fetch_sub(1, std::memory_order_relaxed);
  s.map.erase(it);
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
