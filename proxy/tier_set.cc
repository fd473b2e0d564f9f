#include "proxy/tier_set.h"

#include <algorithm>
#include <string>
#include <utility>

namespace strata {
namespace {

WriteMode ParseMode(const std::string& w) {
  if (w == "behind") return WriteMode::kBehind;
  if (w == "through") return WriteMode::kThrough;
  if (w == "around") return WriteMode::kAround;
  return WriteMode::kDefault;
}

// The tier names a policy uses, in order; empty list = every configured one.
std::vector<std::string> TierNames(const Config& config, const std::vector<std::string>& listed) {
  if (!listed.empty()) return listed;
  std::vector<std::string> names{"l1"};
  if (config.l2.mode != "off") names.push_back("l2");
  if (config.l3.enabled) names.push_back("l3");
  return names;
}

uint8_t MaskOf(const std::vector<std::string>& names) {
  uint8_t m = 0;
  for (const auto& n : names) {
    if (n == "l1") m |= kTierL1;
    if (n == "l2") m |= kTierL2;
    if (n == "l3") m |= kTierL3;
  }
  return m;
}

}  // namespace

StatusOr<L2Options> L2OptionsFromConfig(const Config& config) {
  const L2Config& c = config.l2;
  L2Options o;
  if (c.mode == "standalone") o.mode = L2Options::Mode::kStandalone;
  else if (c.mode == "sharded") o.mode = L2Options::Mode::kSharded;
  else if (c.mode == "cluster") o.mode = L2Options::Mode::kCluster;
  else return Status::BadArgs("l2.mode: \"" + c.mode + "\" does not configure an L2");
  for (size_t i = 0; i < c.endpoints.size(); ++i) {
    auto ep = ParseRedisEndpoint(c.endpoints[i]);
    if (!ep.ok()) {
      return Status::BadArgs("l2.endpoints[" + std::to_string(i) + "]: " + ep.status().message());
    }
    o.endpoints.push_back(std::move(ep).value());
  }
  o.key_prefix = c.key_prefix;
  o.hash_tags = c.hash_tags;
  o.vnodes = static_cast<int>(c.vnodes);
  o.connect_timeout_ms = c.connect_timeout_ms;
  o.command_timeout_ms = c.command_timeout_ms;
  o.reconnect_base_ms = c.reconnect_base_ms;
  o.reconnect_max_ms = c.reconnect_max_ms;
  o.breaker.failure_threshold = c.breaker_failures;
  o.breaker.open_ms = c.breaker_open_ms;
  o.breaker.max_open_ms = c.breaker_max_open_ms;
  o.read_from_replicas = c.read_from_replicas;
  o.topology_refresh_ms = c.topology_refresh_ms;
  o.max_redirects = static_cast<int>(c.max_redirects);
  o.max_retries = static_cast<int>(c.max_retries);
  o.retry_base_ms = c.retry_base_ms;
  return o;
}

Status CheckTierConfig(const Config& config) {
  if (config.l2.mode != "off") {
    auto o = L2OptionsFromConfig(config);
    if (!o.ok()) return o.status();
  }
  return Status::Ok();
}

std::function<uint8_t(std::string_view)> TierMaskFn(const Config& config) {
  std::vector<std::pair<std::string, uint8_t>> prefixes;
  for (const PolicyConfig& pc : config.policies) {
    prefixes.emplace_back(pc.prefix, MaskOf(TierNames(config, pc.tiers)));
  }
  std::stable_sort(prefixes.begin(), prefixes.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  uint8_t fallback = MaskOf(TierNames(config, {}));
  return [prefixes = std::move(prefixes), fallback](std::string_view key) {
    for (const auto& [prefix, mask] : prefixes) {
      if (key.substr(0, prefix.size()) == prefix) return mask;
    }
    return fallback;
  };
}

StatusOr<std::unique_ptr<TierSet>> TierSet::Build(const Config& config, const SharedTiers& shared,
                                                  uv_loop_t* loop, L2Counters* l2_counters,
                                                  LoopTierMetrics* metrics) {
  L1Cache* l1 = shared.l1;
  if (Status s = CheckTierConfig(config); !s.ok()) return s;
  std::unique_ptr<TierSet> set(new TierSet());
  if (config.l2.mode != "off") {
    auto o = L2OptionsFromConfig(config);
    if (!o.ok()) return o.status();
    o.value().counters = l2_counters;
    auto l2 = L2Tier::Create(loop, std::move(o).value());
    if (!l2.ok()) return l2.status();
    set->l2_ = std::move(l2).value();
  }
  if (shared.l3 != nullptr) {
    set->l3_ = std::make_unique<L3Tier>(shared.l3, shared.io_pool, loop);
  }
  if (shared.pending != nullptr) {
    set->pending_ = std::make_unique<PendingTier>(shared.pending, SystemClock::Default());
  }
  auto make_chain = [&](const std::vector<std::string>& names, int64_t max_ttl_ms) -> Chain* {
    std::vector<Tier*> tiers;
    std::vector<TierMetrics*> measured;
    auto add = [&](Tier* t, TierMetrics* m) {
      tiers.push_back(t);
      measured.push_back(m);
    };
    bool pending_added = false;
    for (const auto& n : names) {
      if (n == "l1") add(l1, metrics != nullptr ? &metrics->l1 : nullptr);
      // Acknowledged writes not yet below L1 answer before L2/L3 do.
      if (n != "l1" && set->pending_ && !pending_added) {
        add(set->pending_.get(), nullptr);
        pending_added = true;
      }
      if (n == "l2" && set->l2_) add(set->l2_.get(), metrics != nullptr ? &metrics->l2 : nullptr);
      if (n == "l3" && set->l3_) add(set->l3_.get(), metrics != nullptr ? &metrics->l3 : nullptr);
    }
    ChainOptions co;
    co.metrics = std::move(measured);
    co.max_ttl_ms = max_ttl_ms;
    if (!tiers.empty() && tiers[0] == l1) {
      co.l1_max_ttl_ms = config.l1.max_ttl_ms;
      co.negative_ttl_ms = config.l1.negative_ttl_ms;
    }
    set->chains_.push_back(std::make_unique<Chain>(std::move(tiers), co));
    return set->chains_.back().get();
  };
  Policy fallback;
  fallback.chain = make_chain(TierNames(config, {}), 0);
  fallback.journal = shared.write_behind != nullptr && MaskOf(TierNames(config, {})) != kTierL1;
  std::vector<Policy> policies;
  for (const PolicyConfig& pc : config.policies) {
    Policy p;
    p.prefix = pc.prefix;
    p.journal = shared.write_behind != nullptr && MaskOf(TierNames(config, pc.tiers)) != kTierL1;
    p.chain = make_chain(TierNames(config, pc.tiers), pc.max_ttl_ms);
    p.write = ParseMode(pc.write);
    p.default_ttl_ms = pc.default_ttl_ms;
    p.max_ttl_ms = pc.max_ttl_ms;
    policies.push_back(std::move(p));
  }
  set->policies_ = std::make_unique<PolicyTable>(std::move(fallback), std::move(policies));
  return set;
}

}  // namespace strata
