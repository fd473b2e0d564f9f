#include "proxy/config_policy.h"

#include <algorithm>
#include <functional>
#include <initializer_list>

#include "common/units.h"
#include "proxy/config_text.h"
#include "proxy/config_values.h"

namespace strata::config_internal {
namespace {

// One key of a [[policy]] table: the policy-sized cousin of Option.
struct PolicyKey {
  std::string_view key;
  std::string_view metavar;   // --help: what a value looks like
  std::string_view expected;  // finishes "expected ..."
  std::string_view help;
  std::function<Status(const RawValue&, PolicyConfig*)> set;
  std::function<std::string(const PolicyConfig&)> toml;
};

const std::vector<std::string_view>& WriteModes() {
  static const std::vector<std::string_view> modes = {"default", "behind", "through", "around"};
  return modes;
}

// A new policy key is one entry here (and a member of PolicyConfig).
const std::vector<PolicyKey>& PolicyKeys() {
  static const std::vector<PolicyKey>* const keys = new std::vector<PolicyKey>{
      {"prefix", "TEXT", "a string",
       "keys starting with it use this policy (the longest matching prefix wins)",
       [](const RawValue& v, PolicyConfig* p) { return ReadText(v, &p->prefix); },
       [](const PolicyConfig& p) { return Quote(p.prefix); }},
      {"tiers", "[\"l1\", \"l2\", \"l3\"]", "a list of strings",
       "the tiers these keys live in, an ordered subset of l1, l2, l3; [] = every configured tier",
       [](const RawValue& v, PolicyConfig* p) {
         // Only the TOML array form: "l1,l2" would be a one-item list here.
         if (v.type != RawValue::Type::kList) return Status::BadArgs("");
         return ReadList(v, &p->tiers);
       },
       [](const PolicyConfig& p) { return ListToml(p.tiers); }},
      {"write", "default|behind|through|around", "one of default, behind, through, around",
       "write mode for sets that name none; default = the server's",
       [](const RawValue& v, PolicyConfig* p) { return ReadChoice(v, WriteModes(), &p->write); },
       [](const PolicyConfig& p) { return Quote(p.write); }},
      {"default_ttl", "DURATION", "a duration such as 250ms, 10s or 5m",
       "TTL for sets that give no ttl_ms; 0 = none",
       [](const RawValue& v, PolicyConfig* p) { return ReadDuration(v, &p->default_ttl_ms); },
       [](const PolicyConfig& p) { return DurationToml(p.default_ttl_ms); }},
      {"max_ttl", "DURATION", "a duration such as 250ms, 10s or 5m",
       "cap on every TTL of these keys (set, expire, fills from lower tiers); 0 = none",
       [](const RawValue& v, PolicyConfig* p) { return ReadDuration(v, &p->max_ttl_ms); },
       [](const PolicyConfig& p) { return DurationToml(p.max_ttl_ms); }},
  };
  return *keys;
}

std::string KeyNames() {
  std::vector<std::string_view> names;
  for (const PolicyKey& key : PolicyKeys()) names.push_back(key.key);
  return Join(names, ", ");
}

// 1, 2, 3 for "l1", "l2", "l3"; 0 for anything else.
int TierRank(std::string_view tier) {
  if (tier == "l1") return 1;
  if (tier == "l2") return 2;
  if (tier == "l3") return 3;
  return 0;
}

// The tiers a policy's keys use: its own list, or every configured tier.
std::vector<std::string> EffectiveTiers(const PolicyConfig& policy, const Config& config) {
  if (!policy.tiers.empty()) return policy.tiers;
  std::vector<std::string> tiers = {"l1"};
  if (config.l2.mode != "off") tiers.push_back("l2");
  if (config.l3.enabled) tiers.push_back("l3");
  return tiers;
}

void CheckTiers(const std::string& name, const PolicyConfig& policy, const Config& config,
                std::vector<std::string>* problems) {
  bool seen[4] = {false, false, false, false};
  bool ordered = true;
  int last = 0;
  for (const std::string& tier : policy.tiers) {
    const int rank = TierRank(tier);
    if (rank == 0) {
      problems->push_back(name + ".tiers: unknown tier " + Quote(tier) + " (tiers: l1, l2, l3)");
      continue;
    }
    if (seen[rank]) {
      problems->push_back(name + ".tiers lists " + Quote(tier) + " twice");
      continue;
    }
    seen[rank] = true;
    if (rank < last) ordered = false;
    last = std::max(last, rank);
  }
  if (!ordered) {
    problems->push_back(name + ".tiers must be in the order l1, l2, l3, not " +
                        ListToml(policy.tiers));
  }
  if (seen[2] && config.l2.mode == "off") {
    problems->push_back(name + ".tiers includes \"l2\" but l2.mode is off");
  }
  if (seen[3] && !config.l3.enabled) {
    problems->push_back(name + ".tiers includes \"l3\" but l3.enabled is false");
  }
}

void CheckWrite(const std::string& name, const PolicyConfig& policy, const Config& config,
                std::vector<std::string>* problems) {
  const std::vector<std::string_view>& modes = WriteModes();
  if (std::find(modes.begin(), modes.end(), policy.write) == modes.end()) {
    problems->push_back(name + ".write must be one of " + Join(modes, ", ") + ", not " +
                        Quote(policy.write));
    return;
  }
  if (policy.write != "around") return;
  // "around" skips L1, so something below it must take the write.
  const std::vector<std::string> tiers = EffectiveTiers(policy, config);
  const bool below_l1 =
      std::any_of(tiers.begin(), tiers.end(), [](const std::string& t) { return TierRank(t) > 1; });
  if (!below_l1) {
    problems->push_back(name + ".write \"around\" skips l1 and needs a tier below it, but " +
                        (policy.tiers.empty() ? "the configured tiers are " : "its tiers are ") +
                        ListToml(tiers));
  }
}

void CheckTtls(const std::string& name, const PolicyConfig& policy,
               std::vector<std::string>* problems) {
  if (policy.default_ttl_ms < 0) problems->push_back(name + ".default_ttl must not be negative");
  if (policy.max_ttl_ms < 0) problems->push_back(name + ".max_ttl must not be negative");
  if (policy.default_ttl_ms > 0 && policy.max_ttl_ms > 0 &&
      policy.max_ttl_ms < policy.default_ttl_ms) {
    problems->push_back(name + ".max_ttl (" + FormatDuration(policy.max_ttl_ms) +
                        ") must be at least " + name + ".default_ttl (" +
                        FormatDuration(policy.default_ttl_ms) + ")");
  }
}

}  // namespace

std::string PolicyName(size_t index) { return "policy[" + std::to_string(index) + "]"; }

Status SetPolicyKey(size_t index, std::string_view key, const RawValue& value,
                    PolicyConfig* policy) {
  const std::string name = PolicyName(index) + "." + std::string(key);
  for (const PolicyKey& entry : PolicyKeys()) {
    if (entry.key != key) continue;
    Status status = entry.set(value, policy);
    if (status.ok()) return status;
    const std::string shown = value.type == RawValue::Type::kText ? Quote(value.text) : value.text;
    std::string message =
        "invalid value " + shown + " for " + name + ": expected " + std::string(entry.expected);
    if (!status.message().empty()) message += " (" + status.message() + ")";
    return Status::BadArgs(std::move(message));
  }
  return Status::BadArgs(name + ": unknown key (keys in [[policy]]: " + KeyNames() + ")");
}

std::string PoliciesToml(const std::vector<PolicyConfig>& policies) {
  if (policies.empty()) return "";
  std::string out = "\n# Per-key-prefix policies (TOML only); the longest matching prefix wins.\n";
  for (const PolicyConfig& policy : policies) {
    out += "\n[[policy]]\n";
    for (const PolicyKey& key : PolicyKeys()) {
      out += std::string(key.key) + " = " + key.toml(policy) + "\n";
    }
  }
  return out;
}

std::string PolicyHelp() {
  std::string out =
      "Policies ([[policy]] tables; only in the TOML file: the environment and flags\n"
      "cannot set them). Keys that start with a policy's prefix use it; the longest\n"
      "matching prefix wins. For example:\n"
      "  [[policy]]\n"
      "  prefix = \"emb:\"\n"
      "  tiers = [\"l1\", \"l2\"]\n"
      "  write = \"through\"\n"
      "  default_ttl = \"1h\"\n"
      "  max_ttl = \"1d\"\n"
      "\n"
      "Policy keys:\n";
  const PolicyConfig defaults;
  for (const PolicyKey& key : PolicyKeys()) {
    out += "  " + std::string(key.key) + " = " + std::string(key.metavar) + "\n";
    out += "      " + std::string(key.help) + "\n";
    out += key.key == "prefix" ? std::string("      required\n")
                               : "      default " + key.toml(defaults) + "\n";
  }
  return out;
}

std::vector<std::string> PolicyProblems(const Config& config) {
  std::vector<std::string> problems;
  const std::vector<PolicyConfig>& policies = config.policies;
  for (size_t i = 0; i < policies.size(); ++i) {
    const std::string name = PolicyName(i);
    const PolicyConfig& policy = policies[i];
    if (policy.prefix.empty()) {
      problems.push_back(name + ".prefix is required and must not be empty");
    }
    for (size_t j = 0; j < i && !policy.prefix.empty(); ++j) {
      if (policies[j].prefix != policy.prefix) continue;
      problems.push_back(name + ".prefix " + Quote(policy.prefix) + " repeats " + PolicyName(j));
      break;
    }
    CheckTiers(name, policy, config, &problems);
    CheckWrite(name, policy, config, &problems);
    CheckTtls(name, policy, &problems);
  }
  return problems;
}

}  // namespace strata::config_internal
