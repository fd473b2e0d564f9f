#include "bench/shutdown.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace strata::bench {
namespace {

constexpr int kMaxChildren = 8;
volatile sig_atomic_t g_interrupted = 0;
volatile pid_t g_children[kMaxChildren] = {};

void WriteStderr(const char* msg) {
  ssize_t ignored = write(STDERR_FILENO, msg, strlen(msg));
  (void)ignored;
}

void OnInterrupt(int sig) {
  if (g_interrupted) {
    // Second signal: the user means it. Do not wait for the loop.
    KillRegisteredChildren();
    _exit(128 + sig);
  }
  g_interrupted = 1;
  WriteStderr("strata-bench: interrupted; stopping the current run (again to abort)\n");
}

void OnWatchdog(int) {
  WriteStderr("strata-bench: watchdog expired; killing started servers and exiting\n");
  KillRegisteredChildren();
  _exit(124);
}

void AtExit() { KillRegisteredChildren(); }

}  // namespace

void InstallShutdownHandlers() {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = OnInterrupt;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sa.sa_handler = OnWatchdog;
  sigaction(SIGALRM, &sa, nullptr);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, nullptr);
  atexit(AtExit);
}

void ArmWatchdog(unsigned seconds) { alarm(seconds); }

bool Interrupted() { return g_interrupted != 0; }

void RegisterChild(pid_t pid) {
  for (int i = 0; i < kMaxChildren; ++i) {
    if (g_children[i] == 0) {
      g_children[i] = pid;
      return;
    }
  }
  abort();  // More servers than the bench ever starts at once: a bug.
}

void UnregisterChild(pid_t pid) {
  for (int i = 0; i < kMaxChildren; ++i) {
    if (g_children[i] == pid) g_children[i] = 0;
  }
}

void KillRegisteredChildren() {
  for (int i = 0; i < kMaxChildren; ++i) {
    pid_t pid = g_children[i];
    if (pid > 0) kill(pid, SIGKILL);
  }
}

}  // namespace strata::bench
