// Chain: applies Strata's read and write policies across the tiers.
//
// Tiers are ordered from fastest to slowest (L1, then L2, then L3).
//
// Reads. A get asks each tier in turn; the first hit wins and fills the
// tiers above it (only where the key is absent, so a fill never overwrites a
// newer write; in the first tier only if no write reached the key's shard
// since the miss, so a fill never resurrects a deleted value) with the
// entry's remaining TTL, capped by l1.max_ttl for L1.
// A tier that fails is skipped: the read goes on to the next tier, and if
// every tier after the first answering one failed, the answer is a miss
// (the failure is counted by the tier). Only when no tier answered at all is
// the failure returned. With negative_ttl_ms > 0, a key that every tier
// reported missing is remembered in the first tier as absent for that long
// (WriteOptions::negative), and later gets stop there.
//
// Writes (write-through) go to the slowest tier first, which decides nx/xx,
// and then, once it confirmed and applied, to the faster ones
// unconditionally; the ack comes after the last. If a tier fails, the tiers
// above it are invalidated (the key deleted) so that no tier serves a value
// the client was told was not written. "around" writes every tier but the
// first and deletes the key from the first. Write-behind through the WAL
// arrives with wal/ (issue 5); until then "behind" behaves as "through",
// which is strictly safer. Deletes and expires go to every tier, fastest
// first.
//
// With a single tier every call forwards straight to it with the caller's
// callback: no copy, no allocation.
//
// Thread affinity: methods are called on loop threads; callbacks fire on the
// same thread (see tier.h). Tiers are borrowed and must outlive the chain.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "tiers/tier.h"
#include "tiers/tier_metrics.h"

namespace strata {

enum class WriteMode : uint8_t { kDefault, kBehind, kThrough, kAround };

struct ChainOptions {
  int64_t l1_max_ttl_ms = 0;    // caps fills into the first tier; 0 = no cap
  int64_t max_ttl_ms = 0;       // caps fills into every tier (a policy's max_ttl); 0 = no cap
  int64_t negative_ttl_ms = 0;  // 0 = no negative caching
  Clock* clock = nullptr;       // nullptr = SystemClock
  // Per tier (same index as the tiers; shorter or nullptr = not measured):
  // where this loop counts each tier's lookups and their latency.
  std::vector<TierMetrics*> metrics = {};
};

class Chain {
 public:
  // tiers[0] is the in-memory tier. REQUIRES: !tiers.empty()
  Chain(std::vector<Tier*> tiers, const ChainOptions& options);

  void Get(std::string_view key, GetCallback done);
  // With kAround and only one tier there is nowhere to write: UNAVAILABLE.
  void Set(std::string_view key, std::string_view value, const WriteOptions& options,
           WriteMode mode, WriteCallback done);
  void Delete(std::string_view key, WriteCallback done);
  void Expire(std::string_view key, int64_t expire_at_ms, WriteCallback done);
  void Ttl(std::string_view key, TtlCallback done);

  size_t tier_count() const { return tiers_.size(); }

 private:
  // `answered`: some tier above i gave a real (ok) answer; `failed`: some
  // tier above i failed.
  // `token`: the first tier's fill token from its miss (see WriteOptions).
  void GetFrom(size_t i, std::string_view key, bool answered, bool failed, uint64_t token,
               GetCallback done);
  void SetFrom(size_t i, size_t first, std::string_view key, std::string_view value,
               const WriteOptions& options, WriteCallback done);
  void Invalidate(size_t first, size_t end, std::string_view key);
  void DeleteFrom(size_t i, std::string_view key, bool existed, WriteCallback done);
  void ExpireFrom(size_t i, std::string_view key, int64_t expire_at_ms, bool existed,
                  WriteCallback done);
  void TtlFrom(size_t i, std::string_view key, bool answered, TtlCallback done);
  void Fill(size_t above, std::string_view key, const GetResult& hit, uint64_t token);
  void RememberMissing(std::string_view key, uint64_t token);

  std::vector<Tier*> tiers_;
  ChainOptions options_;
  Clock* clock_;
};

}  // namespace strata
