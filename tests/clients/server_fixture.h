// StrataServer: runs the real `strata` binary (STRATA_BIN) on a socket in a
// fresh temp directory, for client tests. Start waits (bounded) until the
// socket accepts; Stop sends SIGTERM to that PID and waits (bounded), then
// SIGKILLs. The destructor stops the server and removes the directory.
//
// Also RunProcess: fork/exec with stdin from a string and stdout/stderr
// captured through pipes, bounded by a timeout (kills the child on expiry).
//
// Thread affinity: the test thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace strata::testing {

class StrataServer {
 public:
  // Creates the temp directory; the socket path is fixed for its lifetime,
  // so a restarted server listens on the same path.
  StrataServer();
  ~StrataServer();
  StrataServer(const StrataServer&) = delete;
  StrataServer& operator=(const StrataServer&) = delete;

  // Starts strata with the standard test flags plus `extra`. Returns false
  // if it exited or did not accept within 15 s.
  bool Start(const std::vector<std::string>& extra = {});
  // SIGTERM and wait; returns the exit status as from waitpid (-1 if not
  // running or it had to be killed).
  int Stop();

  const std::string& socket() const { return socket_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::string socket_;
  pid_t pid_ = -1;
};

struct ProcessResult {
  int exit_code = -1;  // -1 if killed by a signal or timed out
  std::string out;
  std::string err;
};

// Runs argv[0] with argv, `input` on its stdin, stdout and stderr captured
// (so stdout is a pipe, not a terminal). `env` entries ("NAME=VALUE") are
// added to the environment. Kills the child after timeout_ms.
ProcessResult RunProcess(const std::vector<std::string>& argv, const std::string& input,
                         const std::vector<std::string>& env = {}, int timeout_ms = 10000);

}  // namespace strata::testing
