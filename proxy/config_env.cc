// Settings from the environment: STRATA_<SECTION>_<KEY>=VALUE.
#include <string>
#include <string_view>

#include "proxy/config_options.h"
#include "proxy/config_sources.h"
#include "proxy/config_text.h"

namespace strata::config_internal {
namespace {

const Option* FindOptionByEnvVar(std::string_view var) {
  for (const Option& option : Options()) {
    if (EnvVarName(option.name) == var) return &option;
  }
  return nullptr;
}

// STRATA_<SECTION>_<KEY> for a known section -> "section.key"; else empty.
std::string OptionNameForUnknownVar(std::string_view var) {
  for (std::string_view section : Sections()) {
    const std::string prefix = EnvVarName(std::string(section) + ".");
    if (!var.starts_with(prefix)) continue;
    std::string name = std::string(section) + ".";
    for (char c : var.substr(prefix.size())) name += Lower(c);
    return name;
  }
  return "";
}

}  // namespace

Status ApplyEnvironment(const char* const* envp, Config* config) {
  for (; envp != nullptr && *envp != nullptr; ++envp) {
    const std::string_view entry(*envp);
    const size_t eq = entry.find('=');
    if (eq == std::string_view::npos || !entry.starts_with("STRATA_")) continue;
    const std::string_view var = entry.substr(0, eq);
    const Option* option = FindOptionByEnvVar(var);
    if (option == nullptr) {
      if (var.starts_with("STRATA_POLICY_")) {
        return Status::BadArgs(std::string(var) +
                               ": [[policy]] tables can only be set in the config file");
      }
      const std::string guess = OptionNameForUnknownVar(var);
      if (guess.empty()) continue;  // not one of ours, e.g. STRATA_HOME
      return Status::BadArgs("unknown environment variable " + std::string(var) + ": " +
                             UnknownKey(guess).message());
    }
    Status status = Apply(*option, RawValue::Text(entry.substr(eq + 1)), config);
    if (!status.ok()) return Status::BadArgs(std::string(var) + ": " + status.message());
  }
  return Status::Ok();
}

}  // namespace strata::config_internal
