#include "tiers/l1_cache.h"

#include <mutex>

#include "routing/murmur3.h"

namespace strata {
namespace {

uint32_t AutoShards() { return 256; }

int Log2(uint32_t n) {
  int r = 0;
  while ((1u << r) < n) ++r;
  return r;
}

}  // namespace

L1Cache::L1Cache(const L1Options& options)
    : clock_(options.clock != nullptr ? options.clock : SystemClock::Default()),
      max_bytes_(options.max_bytes) {
  uint32_t want = options.shards != 0 ? options.shards : AutoShards();
  if (want > kMaxShards) want = kMaxShards;
  nshards_ = 1u << Log2(want);
  share_bytes_ = max_bytes_ / nshards_;
  shards_ = std::make_unique<std::unique_ptr<L1Shard>[]>(nshards_);
  for (uint32_t i = 0; i < nshards_; ++i) {
    shards_[i] = std::make_unique<L1Shard>(share_bytes_ / 10);
    Account(*shards_[i]);
  }
}

L1Cache::~L1Cache() = default;

bool L1Cache::Lookup(std::string_view key, std::string* value, int64_t* expire_at,
                     bool* negative, uint64_t* fill_token) {
  uint64_t h = KeyHash(key);
  L1Shard& s = ShardFor(h);
  std::lock_guard<SpinLock> lock(s.mu());
  L1Entry* e = s.Lookup(h, key, Now());
  Account(s);
  if (fill_token != nullptr) *fill_token = s.write_epoch();
  if (e == nullptr) return false;
  if (e->negative()) [[unlikely]] {  // the only test a plain hit pays for markers
    s.CountNegativeHit();
    if (negative != nullptr) *negative = true;
    return false;
  }
  if (value != nullptr) value->assign(e->value());
  if (expire_at != nullptr) *expire_at = e->expire_at;
  return true;
}

Status L1Cache::Insert(std::string_view key, std::string_view value,
                       const WriteOptions& options, bool* applied) {
  *applied = false;
  if (options.negative) value = {};  // a marker carries no value bytes
  uint64_t charge = L1Entry::ChargeFor(key.size(), value.size());
  if (charge > max_bytes_ || key.size() > 0xffff) {
    return Status::TooLarge("entry of " + std::to_string(charge) + " bytes exceeds l1.max_bytes " +
                            std::to_string(max_bytes_));
  }
  // Allocate and copy outside the lock; the critical section is only the
  // index update and eviction.
  L1Entry* e = L1Entry::Create(key, value, options.expire_at_ms);
  if (e == nullptr) return Status::Internal("out of memory allocating an L1 entry");
  if (options.negative) e->flags |= L1Entry::kNegative;
  uint64_t h = KeyHash(key);
  L1Shard& s = ShardFor(h);
  std::unique_lock<SpinLock> lock(s.mu());
  if (options.fill_token != 0) {
    if (options.fill_token != s.write_epoch()) {  // written since the fill's Get
      lock.unlock();
      L1Entry::Destroy(e);
      return Status::Ok();
    }
  } else if (!options.negative) {
    s.BumpWriteEpoch();
  }
  int64_t now = Now();
  L1Shard::InsertResult r = s.Insert(h, e, static_cast<uint8_t>(options.condition), now);
  if (r != L1Shard::InsertResult::kInserted) {
    Account(s);
    lock.unlock();
    *applied = r == L1Shard::InsertResult::kAbsorbed;
    L1Entry::Destroy(e);  // outside the critical section
    return Status::Ok();
  }
  *applied = true;
  Account(s);
  while (OverBudget() && s.used_bytes() > share_bytes_ && s.EvictOne(now)) Account(s);
  Account(s);
  lock.unlock();
  if (OverBudget()) EvictFromOtherShards();
  return Status::Ok();
}

void L1Cache::EvictFromOtherShards() {
  // The total is over budget, so some shard is over its share (the shares
  // add up to the budget). Visit shards round-robin and evict from those.
  for (uint32_t n = 0; n < nshards_ && OverBudget(); ++n) {
    uint32_t i = evict_hand_.fetch_add(1, std::memory_order_relaxed) & (nshards_ - 1);
    L1Shard& s = *shards_[i];
    std::lock_guard<SpinLock> lock(s.mu());
    int64_t now = Now();
    while (OverBudget() && s.used_bytes() > share_bytes_ && s.EvictOne(now)) Account(s);
    Account(s);
  }
}

bool L1Cache::Erase(std::string_view key) {
  uint64_t h = KeyHash(key);
  L1Shard& s = ShardFor(h);
  std::lock_guard<SpinLock> lock(s.mu());
  s.BumpWriteEpoch();
  L1Entry* e = s.Peek(h, key, Now());
  bool existed = e != nullptr && !e->negative();  // a negative entry goes, but was no key
  if (e != nullptr) s.Kill(h, e);
  Account(s);
  return existed;
}

bool L1Cache::SetExpiry(std::string_view key, int64_t expire_at_ms) {
  uint64_t h = KeyHash(key);
  L1Shard& s = ShardFor(h);
  std::lock_guard<SpinLock> lock(s.mu());
  s.BumpWriteEpoch();
  int64_t now = Now();
  L1Entry* e = s.Peek(h, key, now);
  if (e != nullptr && e->negative()) e = nullptr;  // not a key: nothing to expire
  if (e != nullptr) {
    if (expire_at_ms <= now) s.Kill(h, e); else s.SetExpiry(e, expire_at_ms);
  }
  Account(s);
  return e != nullptr;
}

int64_t L1Cache::TtlMs(std::string_view key) {
  uint64_t h = KeyHash(key);
  L1Shard& s = ShardFor(h);
  std::lock_guard<SpinLock> lock(s.mu());
  int64_t now = Now();
  L1Entry* e = s.Peek(h, key, now);
  Account(s);
  if (e == nullptr || e->negative()) return -2;
  if (e->expire_at == 0) return -1;
  return e->expire_at - now;
}

size_t L1Cache::Sweep(size_t batch_per_shard, size_t max_total) {
  size_t freed_total = 0;
  size_t examined_total = 0;
  // Resume at the shard after the last one visited, so a budget smaller than
  // one batch per shard still reaches every shard in turn.
  for (uint32_t n = 0; n < nshards_ && examined_total < max_total; ++n) {
    L1Shard& s = *shards_[sweep_shard_];
    sweep_shard_ = (sweep_shard_ + 1) & (nshards_ - 1);
    // Like Redis's active expiry: keep going in a shard while most of what
    // we look at turns out to be reclaimable.
    for (;;) {
      size_t examined = 0, freed = 0;
      {
        std::lock_guard<SpinLock> lock(s.mu());
        freed = s.Sweep(batch_per_shard, Now(), &examined);
        Account(s);
      }
      freed_total += freed;
      examined_total += examined;
      if (examined == 0 || freed * 4 < examined || examined_total >= max_total) break;
    }
  }
  return freed_total;
}

L1Stats L1Cache::GetStats() const {
  L1Stats out;
  for (uint32_t i = 0; i < nshards_; ++i) {
    L1Shard& s = *shards_[i];
    std::lock_guard<SpinLock> lock(s.mu());
    L1ShardStats st = s.stats();
    out.items += st.items;
    out.hits += st.hits;
    out.misses += st.misses;
    out.evictions += st.evictions;
    out.expired += st.expired;
    out.dead += st.dead;
    out.negative_hits += st.negative_hits;
    out.negative_items += st.negative_items;
  }
  out.bytes = used_bytes();
  out.max_bytes = max_bytes_;
  return out;
}

void L1Cache::Get(std::string_view key, GetCallback done) {
  thread_local std::string scratch;
  GetResult r;
  r.found = Lookup(key, &scratch, &r.expire_at_ms, &r.negative, &r.fill_token);
  if (r.found) r.value = scratch;
  done(r);
  if (scratch.capacity() > (1u << 20)) std::string().swap(scratch);  // don't pin big buffers
}

void L1Cache::Set(std::string_view key, std::string_view value, const WriteOptions& options,
                  WriteCallback done) {
  WriteResult r;
  r.status = Insert(key, value, options, &r.applied);
  done(r);
}

void L1Cache::Delete(std::string_view key, WriteCallback done) {
  WriteResult r;
  r.applied = Erase(key);
  done(r);
}

void L1Cache::Expire(std::string_view key, int64_t expire_at_ms, WriteCallback done) {
  WriteResult r;
  r.applied = SetExpiry(key, expire_at_ms);
  done(r);
}

void L1Cache::Ttl(std::string_view key, TtlCallback done) {
  TtlResult r;
  r.ttl_ms = TtlMs(key);
  done(r);
}

}  // namespace strata
