// Servers that the bench starts itself (a fresh one per run, so each is loaded
// with exactly the benchmark's keyspace), and CPU accounting read from /proc.
//
// A started server is registered with bench/shutdown.h, so it is killed by PID
// however the bench ends; Stop() sends SIGTERM, waits, then SIGKILLs. The
// child also gets PR_SET_PDEATHSIG, so even a SIGKILLed bench takes it along.
//
// Thread affinity: the bench's one thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace strata::bench {

class ServerProcess {
 public:
  ServerProcess() = default;
  ~ServerProcess() { Stop(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts argv[0] with stdout/stderr appended to `log_path`, then waits until
  // `socket_path` accepts a connection. Returns "" or an error that includes
  // the tail of the log.
  std::string Start(const std::vector<std::string>& argv, const std::string& socket_path,
                    const std::string& log_path, double timeout_s);
  // SIGTERM, wait up to 5 s, then SIGKILL; reaps. Idempotent.
  void Stop();

  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = 0;
  std::string log_path_;
};

// utime + stime of a process (all its threads) in seconds; < 0 if unreadable.
double ProcessCpuSeconds(pid_t pid);

// CPU seconds of a process and of the processes it forked: Redis's AOF
// rewrite and RDB save run in a child, and that CPU is the server's too.
// `children_s` = the reaped children's time (cutime + cstime) plus every
// live descendant's own and reaped time, read from a scan of /proc. A
// child that starts and exits between two snapshots is still counted
// (through cutime once its parent reaps it). self_s < 0: unreadable.
struct ProcessTreeCpu {
  double self_s = -1;
  double children_s = 0;
  double total() const { return self_s + children_s; }
};
ProcessTreeCpu ReadProcessTreeCpu(pid_t pid);

// Machine-wide CPU seconds from /proc/stat: busy (all but idle and iowait)
// and total, summed over cores.
struct SystemCpu {
  double busy_s = 0;
  double total_s = 0;
};
SystemCpu ReadSystemCpu();

// This process's user + system CPU seconds (getrusage RUSAGE_SELF).
double SelfCpuSeconds();

// The last `max_bytes` of a file, for error messages.
std::string FileTail(const std::string& path, size_t max_bytes);

}  // namespace strata::bench
