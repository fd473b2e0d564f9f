// Tier: the one interface every cache tier implements (L1 memory, L2 Redis,
// L3 RocksDB, and test fakes). The chain (tiers/chain.h) knows nothing else
// about a tier.
//
// Asynchrony. Every operation takes a callback that fires exactly once, with
// the result. A tier may call it inline, before the operation returns (L1
// always does), or later on the calling loop thread (L2 answers when Redis
// replies, L3 when a worker thread finishes a disk read). Callers must
// therefore not hold locks across a call and must not assume either order.
//
// Thread affinity. A tier object may be shared by all loop threads (L1) or be
// per-loop (L2 keeps hiredis connections per loop). A tier that completes
// asynchronously invokes the callback on the loop thread that issued the call.
//
// Ownership. Keys and values passed in are borrowed for the duration of the
// call only; a tier that needs them later copies them. GetResult::value is a
// view that is valid only inside the callback: copy it to keep it.
//
// Time. Expiries are absolute, in milliseconds since the Unix epoch, with 0
// meaning "never expires". They travel unchanged between tiers.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "common/status.h"

namespace strata {

enum class WriteCondition : uint8_t {
  kAlways,
  kIfAbsent,   // nx
  kIfPresent,  // xx
};

struct WriteOptions {
  int64_t expire_at_ms = 0;  // 0 = no expiry
  WriteCondition condition = WriteCondition::kAlways;
  // Negative caching (L1 only; other tiers never receive it): remember that
  // the key is known to be absent below until expire_at_ms. The value is
  // ignored. A negative entry is not a key: Get reports !found with
  // negative = true, Ttl says -2, Delete/Expire say it did not exist, nx
  // writes replace it and xx writes do not apply.
  bool negative = false;
  // Fills only (the chain copying a lower tier's answer up): apply only if
  // no write, delete or expire reached this tier's copy of the key since the
  // Get that returned this token (GetResult::fill_token); 0 = unconditional.
  // Without it, a fill racing a delete on another loop could bring the
  // deleted value back.
  uint64_t fill_token = 0;
};

struct GetResult {
  Status status;           // !ok: the tier failed (a miss is ok() && !found)
  bool found = false;
  // !found because the tier remembers the key as absent below it (negative
  // caching): the chain stops here and reports a miss.
  bool negative = false;
  std::string_view value;  // valid only inside the callback
  int64_t expire_at_ms = 0;
  // False when the answer may predate a write of the key issued since the
  // lookup began (L2 detaches a lookup on writes): return it, but do not
  // copy it into the tiers above, where it could outlive the write.
  bool fillable = true;
  // On a miss, a tier that supports conditional fills (L1) returns a token
  // to pass back in WriteOptions::fill_token; 0 = none.
  uint64_t fill_token = 0;
};

struct WriteResult {
  Status status;
  // Set: whether the write happened (false when nx/xx was not met).
  // Delete/Expire: whether the key existed.
  bool applied = false;
};

struct TtlResult {
  Status status;
  // Redis PTTL meaning: remaining ms, -1 = no expiry, -2 = no such key.
  int64_t ttl_ms = -2;
};

using GetCallback = std::function<void(const GetResult&)>;
using WriteCallback = std::function<void(const WriteResult&)>;
using TtlCallback = std::function<void(const TtlResult&)>;

class Tier {
 public:
  virtual ~Tier() = default;

  // Short lowercase name used in metrics and logs ("l1", "l2", "l3").
  virtual std::string_view name() const = 0;

  // True if every callback runs before the call returns (L1): callers may
  // then pass callbacks that borrow their stack.
  virtual bool AnswersInline() const { return false; }

  virtual void Get(std::string_view key, GetCallback done) = 0;
  virtual void Set(std::string_view key, std::string_view value, const WriteOptions& options,
                   WriteCallback done) = 0;
  virtual void Delete(std::string_view key, WriteCallback done) = 0;
  // expire_at_ms <= now deletes the key (Redis EXPIRE with a non-positive TTL).
  // REQUIRES: expire_at_ms != 0.
  virtual void Expire(std::string_view key, int64_t expire_at_ms, WriteCallback done) = 0;
  virtual void Ttl(std::string_view key, TtlCallback done) = 0;
};

}  // namespace strata
