// TierSet: one loop's view of the tiers: the shared L1, this loop's own L2
// (hiredis connections belong to a loop), the chains each policy uses and
// the policy table that picks among them.
//
// Thread affinity: built, used and destroyed on the loop thread that owns
// `loop`. L2 counters may be read from any thread.
// Ownership: owns its L2 tier, chains and policy table; borrows L1. After
// destruction the loop must run once more (L2 frees handles in close
// callbacks).
#pragma once

#include <memory>
#include <vector>

#include <uv.h>

#include "common/status.h"
#include "proxy/config.h"
#include "proxy/policy.h"
#include "tiers/chain.h"
#include "tiers/l1_cache.h"
#include "tiers/l2_tier.h"
#include "tiers/l3_tier.h"
#include "tiers/pending_writes.h"
#include "tiers/write_behind.h"

namespace strata {

// L2 options from the configuration; BadArgs naming the key at fault.
// Only meaningful when config.l2.mode != "off".
StatusOr<L2Options> L2OptionsFromConfig(const Config& config);

// Checks what only a build of the tiers can tell without connecting
// anywhere (e.g. that every endpoint parses).
Status CheckTierConfig(const Config& config);

// The tiers (TierMask bits) a key's writes go to, from its policy.
std::function<uint8_t(std::string_view)> TierMaskFn(const Config& config);

// What the loops share and TierSet borrows: built once by the server.
struct SharedTiers {
  L1Cache* l1 = nullptr;
  L3Store* l3 = nullptr;             // nullptr = no L3
  IoPool* io_pool = nullptr;         // for L3
  PendingWrites* pending = nullptr;  // with write-behind
  WriteBehind* write_behind = nullptr;
};

class TierSet {
 public:
  // `l2_counters` (borrowed, may be null) receives the L2 tier's counts;
  // `metrics` (borrowed, may be null) each tier's lookups as the chains see
  // them.
  static StatusOr<std::unique_ptr<TierSet>> Build(const Config& config, const SharedTiers& shared,
                                                  uv_loop_t* loop, L2Counters* l2_counters,
                                                  LoopTierMetrics* metrics = nullptr);

  const PolicyTable& policies() const { return *policies_; }
  L2Tier* l2() const { return l2_.get(); }

 private:
  TierSet() = default;
  std::unique_ptr<L2Tier> l2_;
  std::unique_ptr<L3Tier> l3_;
  std::unique_ptr<PendingTier> pending_;
  std::vector<std::unique_ptr<Chain>> chains_;
  std::unique_ptr<PolicyTable> policies_;
};

}  // namespace strata
