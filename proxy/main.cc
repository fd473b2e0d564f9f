// strata: the sidecar process. Parses the configuration, starts the server,
// and runs until SIGTERM/SIGINT.
#include <signal.h>
#include <stdio.h>

#include "common/log.h"
#include "proxy/config.h"
#include "proxy/server.h"

extern char** environ;

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);  // a client that went away is an error value, not a signal
  auto cl = strata::ParseCommandLine(argc, argv, environ);
  if (!cl.ok()) {
    fprintf(stderr, "strata: %s\n", cl.status().message().c_str());
    return 2;
  }
  if (cl->help) {
    fputs(strata::HelpText().c_str(), stdout);
    return 0;
  }
  const strata::Config& config = cl->config;
  if (strata::Status s = strata::Validate(config); !s.ok()) {
    fprintf(stderr, "strata: %s\n", s.message().c_str());
    return 2;
  }
  if (cl->print_config) {
    fputs(strata::ToToml(config).c_str(), stdout);
    return 0;
  }
  if (cl->check_config) {
    printf("%s: configuration is valid\n",
           cl->config_file.empty() ? "(defaults)" : cl->config_file.c_str());
    return 0;
  }
  strata::LogLevel level;
  if (strata::ParseLogLevel(config.log.level, &level)) strata::SetLogLevel(level);

  if (config.l2.mode != "off") {
    LOG_WARN("l2.mode=%s: the Redis tier is not built yet; serving from L1 only",
             config.l2.mode.c_str());
  }
  if (config.l3.enabled) {
    LOG_INFO("l3 (RocksDB at %s) is not built yet; serving from L1 only", config.l3.path.c_str());
  }

  strata::Server server(config);
  if (strata::Status s = server.Start(); !s.ok()) {
    LOG_ERROR("cannot start: %s", s.message().c_str());
    return 1;
  }
  return server.Run();
}
