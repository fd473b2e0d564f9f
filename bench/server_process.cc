#include "bench/server_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "bench/shutdown.h"

namespace strata::bench {
namespace {

void SleepMs(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, nullptr);
}

double MonotonicSeconds() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

bool CanConnect(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  const bool ok = connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

}  // namespace

std::string ServerProcess::Start(const std::vector<std::string>& argv,
                                 const std::string& socket_path, const std::string& log_path,
                                 double timeout_s) {
  log_path_ = log_path;
  if (access(argv[0].c_str(), X_OK) != 0) {
    return "cannot execute " + argv[0] + ": " + strerror(errno);
  }
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return "cannot open " + log_path + ": " + strerror(errno);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    return std::string("fork: ") + strerror(errno);
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the bench died before prctl
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGPIPE, &sa, nullptr);
    sigaction(SIGALRM, &sa, nullptr);
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    // A Ctrl-C at the terminal should reach the bench only; it stops us.
    setpgid(0, 0);
    execv(cargv[0], cargv.data());
    dprintf(STDERR_FILENO, "exec %s: %s\n", cargv[0], strerror(errno));
    _exit(127);
  }
  close(log_fd);
  pid_ = pid;
  RegisterChild(pid);

  const double deadline = MonotonicSeconds() + timeout_s;
  for (;;) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      UnregisterChild(pid_);
      pid_ = 0;
      return argv[0] + " exited during startup (status " + std::to_string(status) +
             "); log tail:\n" + FileTail(log_path, 2000);
    }
    if (CanConnect(socket_path)) return "";
    if (MonotonicSeconds() > deadline || Interrupted()) {
      Stop();
      return argv[0] + " did not accept on " + socket_path + " within " +
             std::to_string(timeout_s) + " s; log tail:\n" + FileTail(log_path, 2000);
    }
    SleepMs(20);
  }
}

void ServerProcess::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int status = 0;
  bool reaped = false;
  for (int i = 0; i < 500 && !reaped; ++i) {  // 5 s
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD))
      reaped = true;
    else
      SleepMs(10);
  }
  if (!reaped) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  }
  UnregisterChild(pid_);
  pid_ = 0;
}

namespace {

// Fields of /proc/<pid>/stat that the CPU accounting needs.
struct ProcStat {
  pid_t ppid = 0;
  double own_s = 0;     // utime + stime
  double reaped_s = 0;  // cutime + cstime: children it has waited for
};

bool ReadProcStat(pid_t pid, ProcStat* out) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return false;
  // The command name (field 2) may contain spaces and ')': skip past the last ')'.
  const size_t close = line.rfind(')');
  if (close == std::string::npos || close + 2 > line.size()) return false;
  std::istringstream fields(line.substr(close + 2));
  std::string f;
  unsigned long long v[18] = {};
  // Fields from 3 (state) on: ppid is 4, utime 14, stime 15, cutime 16, cstime 17.
  int i = 3;
  for (; i <= 17 && fields >> f; ++i) {
    if (i >= 4) v[i] = std::strtoull(f.c_str(), nullptr, 10);
  }
  if (i <= 17) return false;
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  out->ppid = static_cast<pid_t>(v[4]);
  out->own_s = static_cast<double>(v[14] + v[15]) / hz;
  out->reaped_s = static_cast<double>(v[16] + v[17]) / hz;
  return true;
}

}  // namespace

double ProcessCpuSeconds(pid_t pid) {
  ProcStat st;
  return ReadProcStat(pid, &st) ? st.own_s : -1;
}

ProcessTreeCpu ReadProcessTreeCpu(pid_t pid) {
  ProcessTreeCpu cpu;
  ProcStat root;
  if (!ReadProcStat(pid, &root)) return cpu;
  cpu.self_s = root.own_s;
  cpu.children_s = root.reaped_s;
  // Live descendants: one pass over /proc collects parent links, then a walk
  // from `pid` adds each descendant's own and reaped time.
  std::multimap<pid_t, std::pair<pid_t, ProcStat>> by_parent;
  if (DIR* d = opendir("/proc")) {
    while (struct dirent* e = readdir(d)) {
      char* end = nullptr;
      const long n = std::strtol(e->d_name, &end, 10);
      if (n <= 0 || *end != '\0' || n == pid) continue;
      ProcStat st;
      if (ReadProcStat(static_cast<pid_t>(n), &st)) {
        by_parent.emplace(st.ppid, std::make_pair(static_cast<pid_t>(n), st));
      }
    }
    closedir(d);
  }
  std::vector<pid_t> todo = {pid};
  while (!todo.empty()) {
    const pid_t parent = todo.back();
    todo.pop_back();
    auto range = by_parent.equal_range(parent);
    for (auto it = range.first; it != range.second; ++it) {
      cpu.children_s += it->second.second.own_s + it->second.second.reaped_s;
      todo.push_back(it->second.first);
    }
  }
  return cpu;
}

SystemCpu ReadSystemCpu() {
  SystemCpu cpu;
  std::ifstream in("/proc/stat");
  std::string label;
  in >> label;
  if (label != "cpu") return cpu;
  unsigned long long v[10] = {};
  for (int i = 0; i < 10 && in >> v[i]; ++i) {
  }
  // user nice system idle iowait irq softirq steal guest guest_nice; guest
  // time is already inside user/nice, so it is not added again.
  unsigned long long total = 0;
  for (int i = 0; i < 8; ++i) total += v[i];
  const unsigned long long idle = v[3] + v[4];
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  cpu.total_s = total / hz;
  cpu.busy_s = (total - idle) / hz;
  return cpu;
}

double SelfCpuSeconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec * 1e-6;
}

std::string FileTail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (all.size() > max_bytes) all = "..." + all.substr(all.size() - max_bytes);
  return all;
}

}  // namespace strata::bench
