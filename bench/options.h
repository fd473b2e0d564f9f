// strata-bench command line: one struct, one parser, one usage text.
//
// Thread affinity: plain data.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bench/workload.h"

namespace strata::bench {

enum class Protocol { kMsgpack, kResp };

// How to reach one target: an existing socket, or a server binary to start.
struct TargetOptions {
  std::string socket;                   // connect here (server started elsewhere)
  std::string bin;                      // or start this binary on a temp socket, stop it after
  pid_t pid = 0;                        // optional PID of an external server, for its CPU time
  std::vector<std::string> extra_args;  // appended to a started server's command line
};

struct Options {
  bool strata = true;
  bool redis = true;
  TargetOptions strata_target;
  TargetOptions redis_target;
  int strata_threads = 1;
  // The codec used for the "strata" target. resp is only for checking the
  // harness itself: point both targets at redis-servers, expect a ratio of 1.
  Protocol strata_protocol = Protocol::kMsgpack;

  WorkloadSpec workload;
  int connections = 50;
  int depth = 1;
  double duration_s = 10;
  double warmup_s = 2;
  bool preload = false;
  int preload_depth = 64;
  double preload_timeout_s = 300;
  uint64_t seed = 1;
  int rounds = 1;
  uint64_t max_requests = 1000000000;
  double drain_timeout_s = 2;
  double startup_timeout_s = 15;
  // Other processes (e.g. a relay, an external Redis) whose CPU is reported
  // over each measured window, as NAME=PID.
  std::vector<std::pair<std::string, pid_t>> watch_pids;
  // Ask the strata target for its `stats` at the start and end of each
  // measured window and report the deltas (L1 hit ratio, l2_* counters).
  bool strata_stats = false;
  // Ask the redis target for `INFO persistence` at the start and end of each
  // measured window and report aof_* deltas (e.g. aof_delayed_fsync).
  bool redis_info = false;
  // Count the server's fsync/fdatasync and epoll_wait calls over each measured
  // window with `perf stat -e syscalls:sys_enter_* -p PID` (perf_bin).
  bool count_syscalls = false;
  std::string perf_bin = "perf";
  // Where the per-run temporary directory goes (sockets, logs and the {run}
  // data directories of --strata-arg/--redis-arg).
  std::string tmp_dir = "/tmp";
  bool self_test = false;
  bool quiet = false;  // no per-phase progress on stderr
};

// Parses argv into *opts. Returns "" on success, "help" if usage was asked
// for, else an error message naming the option at fault.
std::string ParseOptions(int argc, char** argv, Options* opts);

const char* Usage();

}  // namespace strata::bench
