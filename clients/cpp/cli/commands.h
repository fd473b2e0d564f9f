// strata-cli commands: run one parsed command against a connected client and
// print its result. Returns the process exit code (0 ok, 1 set not stored,
// 2 error); errors are printed to stderr as "strata-cli: CODE_NAME: message".
//
// Thread affinity: the calling thread (owns the Client for the call).
#pragma once

#include <string>

#include "cli/args.h"
#include "strata/client.h"

namespace strata::cli {

bool KnownCommand(const std::string& command);

// `tty`: stdout is a terminal (escape values, print "(nil)" for misses).
int RunCommand(client::Client& c, const Args& args, bool tty);

// Prints "strata-cli: CODE_NAME: message" to stderr and returns 2.
int Fail(const Status& s);

}  // namespace strata::cli
