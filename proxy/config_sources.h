// The sources that give settings as text: the environment (config_env.cc)
// and the command line (config_args.cc). ParseCommandLine (config.cc) runs
// them, with the TOML file, in order of precedence.
//
// Internal to proxy/config*.cc. Thread affinity: none; pure functions of
// their arguments and the immutable option table.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "proxy/config.h"
#include "proxy/config_options.h"

namespace strata::config_internal {

// Applies each STRATA_<SECTION>_<KEY> variable in envp (NULL-terminated
// "K=V" strings; may be null) to *config. A STRATA_ variable under a known
// section that names no option is an error, and so is STRATA_POLICY_* (policies
// come only from the TOML file); any other (STRATA_HOME) is not ours and is
// skipped. Errors name the variable.
Status ApplyEnvironment(const char* const* envp, Config* config);

// One --section.key setting from argv, held until the file and the
// environment have been applied.
struct FlagSetting {
  const Option* option;
  std::string value;
};

// Walks argv once: records --help, --print-config, --config and
// --check-config in *command_line and appends each option flag to *settings
// in argv order. Values are not checked here.
Status ScanArgs(int argc, const char* const* argv, CommandLine* command_line,
                std::vector<FlagSetting>* settings);

// Applies the settings in order. Errors name the flag.
Status ApplyFlags(const std::vector<FlagSetting>& settings, Config* config);

}  // namespace strata::config_internal
