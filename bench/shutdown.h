// Process-wide shutdown for strata-bench: the flag the load loop polls, and
// the registry of server processes that the bench started, so that they are
// killed by PID however the bench ends (normal return, exit(), SIGINT,
// SIGTERM, or the SIGALRM watchdog that bounds the whole run).
//
// Thread affinity: the bench is single-threaded; the signal handlers only
// touch sig_atomic_t/pid_t slots and call async-signal-safe functions.
#pragma once

#include <sys/types.h>

namespace strata::bench {

// Installs SIGINT/SIGTERM (set the flag; a second one kills children and
// exits), SIGALRM (watchdog: kill children, exit 124), ignores SIGPIPE, and
// registers an atexit hook that kills registered children.
void InstallShutdownHandlers();

// Arms the watchdog: the process ends after `seconds` whatever it is doing.
void ArmWatchdog(unsigned seconds);

// True once SIGINT or SIGTERM arrived.
bool Interrupted();

// Children to kill on abnormal exit. REQUIRES: at most 8 registered at once.
void RegisterChild(pid_t pid);
void UnregisterChild(pid_t pid);

// Sends SIGKILL to every registered child (async-signal-safe).
void KillRegisteredChildren();

}  // namespace strata::bench
