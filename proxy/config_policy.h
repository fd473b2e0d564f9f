// [[policy]] tables: per-key-prefix tier lists, write modes and TTL bounds.
// Their keys form a second, small table beside config.cc's option table:
// config_toml.cc hands each key of each [[policy]] table here, ToToml and
// HelpText render them, Validate checks them. Only the TOML file sets
// policies; environment variables and flags cannot (a list of tables has no
// one-line spelling worth supporting).
//
// Internal to proxy/config*.cc. Thread affinity: none; pure functions and an
// immutable table built on first use.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "proxy/config.h"
#include "proxy/config_options.h"

namespace strata::config_internal {

// "policy[2]": how messages name the policy at `index` (0-based, file order).
std::string PolicyName(size_t index);

// Sets `key` of the policy at `index` from a TOML value. Errors:
//   policy[0].foo: unknown key (keys in [[policy]]: prefix, tiers, ...)
//   invalid value "sometimes" for policy[0].write: expected one of default, ...
Status SetPolicyKey(size_t index, std::string_view key, const RawValue& value,
                    PolicyConfig* policy);

// The policies as [[policy]] tables that ApplyToml reads back; "" if none.
std::string PoliciesToml(const std::vector<PolicyConfig>& policies);

// The --help paragraph on [[policy]] tables and their keys.
std::string PolicyHelp();

// Every problem with config.policies, each naming the policy and key:
//   policy[2].prefix "emb:" repeats policy[0]
std::vector<std::string> PolicyProblems(const Config& config);

}  // namespace strata::config_internal
