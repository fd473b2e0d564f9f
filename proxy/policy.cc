#include "proxy/policy.h"

#include <algorithm>
#include <utility>

namespace strata {

PolicyTable::PolicyTable(Policy fallback, std::vector<Policy> policies)
    : fallback_(std::move(fallback)), policies_(std::move(policies)) {
  std::stable_sort(policies_.begin(), policies_.end(), [](const Policy& a, const Policy& b) {
    return a.prefix.size() > b.prefix.size();
  });
}

const Policy& PolicyTable::MatchSlow(std::string_view key) const {
  // A handful of prefixes in practice: a linear scan, longest first.
  for (const Policy& p : policies_) {
    if (key.substr(0, p.prefix.size()) == p.prefix) return p;
  }
  return fallback_;
}

}  // namespace strata
