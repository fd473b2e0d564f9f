// strata: the sidecar process. Parses the configuration, starts the server,
// and runs until SIGTERM/SIGINT.
#include <pthread.h>
#include <signal.h>
#include <stdio.h>

#include <string>

#include "common/log.h"
#include "proxy/config.h"
#include "proxy/huge_pages.h"
#include "proxy/server.h"
#include "proxy/tier_set.h"

extern char** environ;

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);  // a client that went away is an error value, not a signal
  signal(SIGXFSZ, SIG_IGN);  // a file-size limit is an EFBIG from write(), not a kill
  // Hold SIGTERM/SIGINT until the server's handlers exist (Server::Start
  // unblocks them on the main thread), so a signal that arrives while the
  // socket is being set up still drains instead of killing the process.
  // Worker threads inherit the blocked mask, so the main loop receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
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
  strata::Status valid = strata::Validate(config);
  if (valid.ok()) valid = strata::CheckTierConfig(config);
  if (!valid.ok()) {
    fprintf(stderr, "strata: %s\n", valid.message().c_str());
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

  // Before anything is opened or started: this may exec the binary again.
  const std::string huge_why = strata::MaybeReexecWithHugePages(config.server.huge_pages, argv);
  LOG_INFO("memory: huge pages %s (%s)", strata::HugePagesState().c_str(),
           huge_why.empty() ? "server.huge_pages" : huge_why.c_str());

  if (config.l2.mode != "off") {
    LOG_INFO("l2: %s mode, %zu endpoint(s), %zu polic%s", config.l2.mode.c_str(),
             config.l2.endpoints.size(), config.policies.size(),
             config.policies.size() == 1 ? "y" : "ies");
  }

  strata::Server server(config);
  if (strata::Status s = server.Start(); !s.ok()) {
    LOG_ERROR("cannot start: %s", s.message().c_str());
    return 1;
  }
  return server.Run();
}
