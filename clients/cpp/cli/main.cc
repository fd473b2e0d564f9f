// strata-cli: one command against a Strata server. See args.cc for usage and
// clients/cpp/README.md for the output and exit-code conventions.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "strata/client.h"

int main(int argc, char** argv) {
  using namespace strata;
  std::ios::sync_with_stdio(false);
  StatusOr<cli::Args> args = cli::ParseArgs(argc, argv, std::getenv("STRATA_SOCKET"));
  if (!args.ok()) {
    std::cerr << cli::kUsage;
    return cli::Fail(args.status());
  }
  if (args->help) {
    std::cout << cli::kUsage;
    return 0;
  }
  if (!cli::KnownCommand(args->command)) {
    return cli::Fail(Status::BadArgs("unknown command \"" + args->command + "\" (see --help)"));
  }
  auto c = client::Client::Connect(args->socket, {.timeout_ms = args->timeout_ms});
  if (!c.ok()) return cli::Fail(c.status());
  int rc = cli::RunCommand(*c, *args, isatty(STDOUT_FILENO) == 1);
  std::cout.flush();
  return rc;
}
