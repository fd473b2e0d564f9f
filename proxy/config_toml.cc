// ApplyToml: the adapter between toml++ and the option table. The only file
// that includes toml++; it knows no option by name, only "section.key", and
// hands the keys of [[policy]] tables to config_policy.h.
//
// Thread affinity: none (pure function of its arguments).

// toml++ is compiled header-only with TOML_EXCEPTIONS=0 (proxy/CMakeLists.txt).
#include <toml++/toml.h>

#include <sstream>
#include <string>
#include <vector>

#include "proxy/config.h"
#include "proxy/config_options.h"
#include "proxy/config_policy.h"

namespace strata {
namespace {

using config_internal::RawValue;

// "file.toml:3:7: message".
Status At(std::string_view origin, const toml::source_region& where, std::string_view message) {
  std::string text(origin.empty() ? "<config>" : origin);
  text += ":" + std::to_string(where.begin.line) + ":" + std::to_string(where.begin.column);
  text += ": ";
  text += message;
  return Status::BadArgs(std::move(text));
}

std::string AsToml(const toml::node& node) {
  if (node.is_table()) return "a table";
  std::ostringstream out;
  node.visit([&out](const auto& n) { out << n; });
  return out.str();
}

int IntegerBase(const toml::value<int64_t>& integer) {
  const toml::value_flags flags = integer.flags();
  if ((flags & toml::value_flags::format_as_octal) != toml::value_flags::none) return 8;
  if ((flags & toml::value_flags::format_as_hexadecimal) != toml::value_flags::none) return 16;
  if ((flags & toml::value_flags::format_as_binary) != toml::value_flags::none) return 2;
  return 10;
}

// An array whose items are all strings becomes a list; any other array is
// passed on as kOther so that the option rejects it with its usual message.
void FillArray(const toml::array& array, RawValue* raw) {
  raw->type = RawValue::Type::kList;
  for (const toml::node& item : array) {
    const std::optional<std::string> text = item.value_exact<std::string>();
    if (!text) {
      raw->type = RawValue::Type::kOther;
      raw->list.clear();
      return;
    }
    raw->list.push_back(*text);
  }
}

RawValue ToRawValue(const toml::node& node) {
  RawValue raw;
  if (const auto* text = node.as_string()) {
    raw.text = text->get();
    return raw;
  }
  raw.text = AsToml(node);
  raw.type = RawValue::Type::kOther;
  if (const auto* integer = node.as_integer()) {
    raw.type = RawValue::Type::kInteger;
    raw.integer = integer->get();
    raw.integer_base = IntegerBase(*integer);
  } else if (const auto* boolean = node.as_boolean()) {
    raw.type = RawValue::Type::kBool;
    raw.boolean = boolean->get();
  } else if (const auto* array = node.as_array()) {
    FillArray(*array, &raw);
  }
  return raw;
}

Status ApplySection(std::string_view section, const toml::table& table, std::string_view origin,
                    Config* config) {
  for (const auto& [key, node] : table) {
    const std::string name = std::string(section) + "." + std::string(key.str());
    Status status = config_internal::SetOption(name, ToRawValue(node), config);
    if (!status.ok()) return At(origin, key.source(), status.message());
  }
  return Status::Ok();
}

// [[policy]]: an array of tables, each a PolicyConfig. A document that has
// them replaces any policies set before; one that has none keeps them.
Status ApplyPolicies(const toml::node& node, std::string_view origin, Config* config) {
  const toml::array* array = node.as_array();
  if (array == nullptr) {
    return At(origin, node.source(),
              "policy must be an array of tables: write [[policy]], not [policy]");
  }
  std::vector<PolicyConfig> policies;
  for (const toml::node& item : *array) {
    const size_t index = policies.size();
    const toml::table* table = item.as_table();
    if (table == nullptr) {
      return At(origin, item.source(),
                config_internal::PolicyName(index) + " must be a table (write [[policy]])");
    }
    PolicyConfig& policy = policies.emplace_back();
    for (const auto& [key, value] : *table) {
      Status status = config_internal::SetPolicyKey(index, key.str(), ToRawValue(value), &policy);
      if (!status.ok()) return At(origin, key.source(), status.message());
    }
  }
  config->policies = std::move(policies);
  return Status::Ok();
}

}  // namespace

Status ApplyToml(std::string_view text, std::string_view origin, Config* config) {
  toml::parse_result result = toml::parse(text, origin);
  if (!result) {
    const toml::parse_error& error = result.error();
    return At(origin, error.source(), error.description());
  }
  // Work on a copy so that a bad file leaves *config untouched.
  Config updated = *config;
  for (const auto& [key, node] : result.table()) {
    const std::string section(key.str());
    if (section == "policy") {
      Status status = ApplyPolicies(node, origin, &updated);
      if (!status.ok()) return status;
      continue;
    }
    if (!node.is_table()) {
      return At(origin, node.source(),
                "key " + section + " must be inside a [section] (write [server], then its keys)");
    }
    if (!config_internal::IsSection(section)) {
      return At(origin, node.source(), "unknown section [" + section + "]");
    }
    Status status = ApplySection(section, *node.as_table(), origin, &updated);
    if (!status.ok()) return status;
  }
  *config = std::move(updated);
  return Status::Ok();
}

}  // namespace strata
