// PolicyTable: which chain, write mode and TTL rules apply to a key, chosen
// by the longest matching `[[policy]]` prefix (config.h, PolicyConfig), or
// the default policy (every configured tier, the request's own write mode).
//
// Thread affinity: built on one loop thread for that loop's chains and used
// only there; immutable after Build.
// Ownership: the table owns its policies; the chains are borrowed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tiers/chain.h"

namespace strata {

struct Policy {
  std::string prefix;  // "" for the default policy
  Chain* chain = nullptr;
  WriteMode write = WriteMode::kDefault;  // used when a request names no mode
  int64_t default_ttl_ms = 0;             // for sets without ttl_ms; 0 = none
  int64_t max_ttl_ms = 0;                 // caps every TTL; 0 = none
  // Writes go through the write-behind journal (there is a tier below L1
  // and wal.enabled); else through the chain.
  bool journal = false;

  bool has_ttl_rules() const { return default_ttl_ms > 0 || max_ttl_ms > 0; }
  // The expiry a write should carry: the request's (0 = none), else the
  // default TTL, capped by max_ttl.
  int64_t ExpiryFor(int64_t requested_expire_at_ms, int64_t now_ms) const {
    int64_t at = requested_expire_at_ms;
    if (at == 0 && default_ttl_ms > 0) at = now_ms + default_ttl_ms;
    if (max_ttl_ms > 0 && (at == 0 || at > now_ms + max_ttl_ms)) at = now_ms + max_ttl_ms;
    return at;
  }
  WriteMode ModeFor(WriteMode requested) const {
    return requested == WriteMode::kDefault ? write : requested;
  }
};

class PolicyTable {
 public:
  PolicyTable(Policy fallback, std::vector<Policy> policies);

  const Policy& Match(std::string_view key) const {
    if (policies_.empty()) return fallback_;
    return MatchSlow(key);
  }
  const Policy& fallback() const { return fallback_; }

 private:
  const Policy& MatchSlow(std::string_view key) const;

  Policy fallback_;
  std::vector<Policy> policies_;  // longest prefix first
};

}  // namespace strata
