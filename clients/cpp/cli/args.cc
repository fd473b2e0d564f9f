#include "cli/args.h"

#include <string_view>

#include "common/units.h"

namespace strata::cli {

const char kUsage[] =
    "usage: strata-cli [-s SOCKET] [--timeout 2s] COMMAND ARGS...\n"
    "  get KEY                 print the value (raw to a pipe, escaped on a terminal)\n"
    "  set KEY VALUE|-         '-' reads the value from stdin; or --value-file F\n"
    "      [--ttl 30s] [--nx|--xx]\n"
    "  del KEY...              mget KEY...      exists KEY...\n"
    "  ttl KEY                 expire KEY TTL   (TTL like 500ms, 30s, 5m, 1h; 0 deletes)\n"
    "  stats                   ping\n"
    "socket: -s, else $STRATA_SOCKET, else ./strata.sock\n"
    "exit: 0 ok (a get miss too), 1 set not stored (--nx/--xx unmet), 2 error\n";

namespace {

bool TakesValue(std::string_view opt) {
  return opt == "-s" || opt == "--socket" || opt == "--timeout" || opt == "--ttl" ||
         opt == "--value-file";
}

}  // namespace

StatusOr<Args> ParseArgs(int argc, const char* const* argv, const char* env_socket) {
  Args a;
  a.socket = env_socket && *env_socket ? env_socket : "./strata.sock";
  std::vector<std::string> positional;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (options_done || arg.size() < 2 || arg[0] != '-') {
      positional.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    std::string_view opt = arg;
    std::string_view val;
    bool has_inline = false;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      opt = arg.substr(0, eq);
      val = arg.substr(eq + 1);
      has_inline = true;
    }
    if (TakesValue(opt) && !has_inline) {
      if (i + 1 >= argc) return Status::BadArgs(std::string(opt) + " needs a value");
      val = argv[++i];
    }
    if (opt == "-s" || opt == "--socket") {
      a.socket = val;
    } else if (opt == "--timeout" || opt == "--ttl") {
      StatusOr<int64_t> ms = ParseDuration(val);
      if (!ms.ok()) return Status::BadArgs(std::string(opt) + ": " + ms.status().message());
      (opt == "--ttl" ? a.ttl_ms : a.timeout_ms) = *ms;
    } else if (opt == "--value-file") {
      a.value_file = val;
    } else if (opt == "--nx") {
      a.nx = true;
    } else if (opt == "--xx") {
      a.xx = true;
    } else if (opt == "-h" || opt == "--help") {
      a.help = true;
    } else {
      return Status::BadArgs("unknown option " + std::string(arg));
    }
  }
  if (a.help) return a;
  if (positional.empty()) return Status::BadArgs("no command given");
  a.command = positional[0];
  a.args.assign(positional.begin() + 1, positional.end());
  return a;
}

}  // namespace strata::cli
