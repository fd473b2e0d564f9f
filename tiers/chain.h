// Chain: applies Strata's read and write policies across the tiers.
//
// Tiers are ordered from fastest to slowest (L1, then L2, then L3). A get asks
// each in turn; the first hit wins and fills the tiers above it with the
// entry's remaining TTL (capped by l1.max_ttl for L1). Writes go to every
// tier in order and are acknowledged after the last one confirms (write
// through); "around" skips the first (in-memory) tier. Write-behind through
// the WAL arrives with wal/ (issue 5); until then "behind" behaves as
// "through", which is strictly safer.
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

namespace strata {

enum class WriteMode : uint8_t { kDefault, kBehind, kThrough, kAround };

struct ChainOptions {
  int64_t l1_max_ttl_ms = 0;  // 0 = no cap
  Clock* clock = nullptr;     // nullptr = SystemClock
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
  void GetFrom(size_t i, std::string_view key, GetCallback done);
  void SetFrom(size_t i, std::string_view key, std::string_view value,
               const WriteOptions& options, WriteCallback done);
  void DeleteFrom(size_t i, std::string_view key, bool existed, WriteCallback done);
  void ExpireFrom(size_t i, std::string_view key, int64_t expire_at_ms, bool existed,
                  WriteCallback done);
  void Fill(size_t above, std::string_view key, const GetResult& hit);

  std::vector<Tier*> tiers_;
  ChainOptions options_;
  Clock* clock_;
};

}  // namespace strata
