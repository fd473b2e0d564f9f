// Command-line parsing for strata-cli. Options may appear before or after
// the command; "--" ends options (so a key may start with '-'). A lone "-"
// is an argument (set's "read the value from stdin"), not an option.
//
// Thread affinity: none; pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace strata::cli {

struct Args {
  std::string socket;         // -s / --socket; default $STRATA_SOCKET or ./strata.sock
  int64_t timeout_ms = 2000;  // --timeout
  int64_t ttl_ms = 0;         // --ttl (set only)
  bool nx = false;
  bool xx = false;
  std::string value_file;     // --value-file (set only)
  bool help = false;
  std::string command;
  std::vector<std::string> args;  // after the command
};

// `env_socket` is $STRATA_SOCKET or nullptr. Errors are BadArgs.
StatusOr<Args> ParseArgs(int argc, const char* const* argv, const char* env_socket);

extern const char kUsage[];

}  // namespace strata::cli
