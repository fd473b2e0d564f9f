// strata-bench: drives Strata (msgpack-RPC) and redis-server (RESP) with one
// closed-loop harness and prints how they compare. See bench/README.md.
//
// A run = (start a fresh server if asked) -> connect -> (preload) -> warm-up
// -> measured window -> drain -> (stop the server). Rounds alternate targets
// A, B, A, B, ... and the summary reports medians with ranges.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "bench/load_client.h"
#include "bench/options.h"
#include "bench/report.h"
#include "bench/self_test.h"
#include "bench/server_process.h"
#include "bench/shutdown.h"
#include "bench/workload.h"

namespace strata::bench {
namespace {

struct Target {
  std::string name;  // "strata" | "redis"
  Protocol protocol;
  TargetOptions opts;
};

struct CpuSnapshot {
  double self_s = 0;
  ProcessTreeCpu server;  // the server and what it forked (AOF rewrite, RDB save)
  SystemCpu system;
};

CpuSnapshot Snapshot(pid_t server_pid) {
  CpuSnapshot s;
  s.self_s = SelfCpuSeconds();
  if (server_pid > 0) s.server = ReadProcessTreeCpu(server_pid);
  s.system = ReadSystemCpu();
  return s;
}

bool UsesRunDir(const Target& t) {
  for (const std::string& a : t.opts.extra_args) {
    if (a.find("{run}") != std::string::npos) return true;
  }
  return false;
}

std::vector<std::string> ServerArgv(const Target& t, const Options& o, const std::string& socket,
                                    const std::string& dir, const std::string& run_dir) {
  std::vector<std::string> argv;
  if (t.name == "redis") {
    // No persistence, no TCP; the log goes to stdout, which Start() files.
    argv = {t.opts.bin, "--port", "0", "--unixsocket", socket, "--unixsocketperm",
            "700",      "--save", "",  "--appendonly", "no",   "--daemonize",
            "no",       "--dir",  dir, "--logfile",    ""};
  } else {
    argv = {t.opts.bin,
            "--server.socket=" + socket,
            "--server.threads=" + std::to_string(o.strata_threads),
            "--admin.listen=",
            "--l3.enabled=false",
            "--log.level=warn"};
  }
  for (std::string a : t.opts.extra_args) {
    for (size_t at; (at = a.find("{run}")) != std::string::npos;) a.replace(at, 5, run_dir);
    argv.push_back(a);
  }
  return argv;
}

// ---- Extras: CPU of watched processes, Strata's own counters --------------

using StatsMap = std::map<std::string, double>;

// Reads one msgpack number at p (int, uint, float); false if it is not one.
bool ReadNumber(const uint8_t*& p, const uint8_t* end, double* v) {
  if (p >= end) return false;
  const uint8_t t = *p++;
  auto be = [&](int n, uint64_t* out) {
    if (end - p < n) return false;
    uint64_t x = 0;
    for (int i = 0; i < n; ++i) x = (x << 8) | *p++;
    *out = x;
    return true;
  };
  uint64_t x = 0;
  if (t <= 0x7f) return *v = t, true;
  if (t >= 0xe0) return *v = static_cast<int8_t>(t), true;
  switch (t) {
    case 0xcc: return be(1, &x) && (*v = static_cast<double>(x), true);
    case 0xcd: return be(2, &x) && (*v = static_cast<double>(x), true);
    case 0xce: return be(4, &x) && (*v = static_cast<double>(x), true);
    case 0xcf: return be(8, &x) && (*v = static_cast<double>(x), true);
    case 0xd0: return be(1, &x) && (*v = static_cast<int8_t>(x), true);
    case 0xd1: return be(2, &x) && (*v = static_cast<int16_t>(x), true);
    case 0xd2: return be(4, &x) && (*v = static_cast<int32_t>(x), true);
    case 0xd3: return be(8, &x) && (*v = static_cast<double>(static_cast<int64_t>(x)), true);
    case 0xca: {
      if (!be(4, &x)) return false;
      float f;
      const uint32_t u = static_cast<uint32_t>(x);
      memcpy(&f, &u, 4);
      return *v = f, true;
    }
    case 0xcb: {
      if (!be(8, &x)) return false;
      double d;
      memcpy(&d, &x, 8);
      return *v = d, true;
    }
    default: return false;
  }
}

// Reads a str or bin at p.
bool ReadStr(const uint8_t*& p, const uint8_t* end, std::string* s) {
  if (p >= end) return false;
  const uint8_t t = *p++;
  size_t n = 0, w = 0;
  if ((t & 0xe0) == 0xa0) {
    n = t & 0x1f;
  } else if (t == 0xd9 || t == 0xc4) {
    w = 1;
  } else if (t == 0xda || t == 0xc5) {
    w = 2;
  } else if (t == 0xdb || t == 0xc6) {
    w = 4;
  } else {
    return false;
  }
  if (static_cast<size_t>(end - p) < w) return false;
  for (size_t i = 0; i < w; ++i) n = (n << 8) | *p++;
  if (static_cast<size_t>(end - p) < n) return false;
  s->assign(reinterpret_cast<const char*>(p), n);
  p += n;
  return true;
}

// Parses [1, msgid, nil, {str: number, ...}]. Returns "" or what is wrong;
// "incomplete" if more bytes are needed.
std::string ParseStatsReply(const std::string& buf, StatsMap* out) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(buf.data());
  const uint8_t* end = p + buf.size();
  if (end - p < 4) return "incomplete";
  if (p[0] != 0x94 || p[1] != 0x01) return "not a reply";
  p += 2;
  double msgid;
  if (!ReadNumber(p, end, &msgid)) return "incomplete";
  if (p >= end) return "incomplete";
  if (*p != 0xc0) return "the server answered stats with an error";
  ++p;
  if (p >= end) return "incomplete";
  uint64_t n = 0;
  const uint8_t t = *p++;
  if ((t & 0xf0) == 0x80) {
    n = t & 0x0f;
  } else if (t == 0xde || t == 0xdf) {
    const int w = t == 0xde ? 2 : 4;
    if (end - p < w) return "incomplete";
    for (int i = 0; i < w; ++i) n = (n << 8) | *p++;
  } else {
    return "stats result is not a map";
  }
  out->clear();
  for (uint64_t i = 0; i < n; ++i) {
    std::string key;
    double v;
    if (!ReadStr(p, end, &key) || !ReadNumber(p, end, &v)) {
      // Either truncated or a non-number value; a complete reply of the
      // documented shape never fails here, so ask for more until the timeout.
      return "incomplete";
    }
    (*out)[key] = v;
  }
  return "";
}

// Sends `request` on a fresh Unix-socket connection (2 s timeouts) and reads
// until `parse(buf)` stops returning "incomplete"; returns its result ("" =
// ok) or the socket error.
std::string QueryUnixSocket(const std::string& socket_path, std::string_view request,
                            const std::function<std::string(const std::string&)>& parse) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) return "socket path too long";
  memcpy(addr.sun_path, socket_path.c_str(), socket_path.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket: ") + strerror(errno);
  struct timeval tv = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string err;
  if (connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0) {
    err = std::string("connect: ") + strerror(errno);
  } else if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    err = std::string("write: ") + strerror(errno);
  } else {
    std::string buf;
    char chunk[4096];
    for (;;) {
      const ssize_t n = read(fd, chunk, sizeof chunk);
      if (n <= 0) {
        err = n == 0 ? "connection closed" : std::string("read: ") + strerror(errno);
        break;
      }
      buf.append(chunk, static_cast<size_t>(n));
      err = parse(buf);
      if (err != "incomplete") break;
    }
  }
  close(fd);
  return err;
}

// One blocking `stats` call: [0, 1, "stats", []].
std::string FetchStrataStats(const std::string& socket_path, StatsMap* out) {
  static const char kRequest[] = "\x94\x00\x01\xa5stats\x90";
  return QueryUnixSocket(socket_path, std::string_view(kRequest, sizeof kRequest - 1),
                         [out](const std::string& buf) { return ParseStatsReply(buf, out); });
}

// One blocking `INFO persistence` over RESP; numeric "key:value" lines go to
// *out.
std::string FetchRedisInfo(const std::string& socket_path, StatsMap* out) {
  static constexpr std::string_view kRequest = "*2\r\n$4\r\nINFO\r\n$11\r\npersistence\r\n";
  return QueryUnixSocket(socket_path, kRequest, [out](const std::string& buf) -> std::string {
    if (buf[0] != '$') return "unexpected INFO reply";
    const size_t crlf = buf.find("\r\n");
    if (crlf == std::string::npos) return "incomplete";
    const size_t len = strtoul(buf.c_str() + 1, nullptr, 10);
    if (buf.size() < crlf + 2 + len) return "incomplete";
    const std::string body = buf.substr(crlf + 2, len);
    size_t pos = 0;
    while (pos < body.size()) {
      size_t eol = body.find("\r\n", pos);
      if (eol == std::string::npos) eol = body.size();
      const std::string line = body.substr(pos, eol - pos);
      pos = eol + 2;
      const size_t colon = line.find(':');
      if (colon == std::string::npos || line[0] == '#') continue;
      char* end = nullptr;
      const std::string v = line.substr(colon + 1);
      const double d = strtod(v.c_str(), &end);
      if (end != v.c_str() && *end == 0) (*out)[line.substr(0, colon)] = d;
    }
    return "";
  });
}

// `perf stat -x, -e syscalls:sys_enter_... -p PID -o FILE`, started at the
// window's start and stopped with SIGINT at its end. Counting tracepoints
// costs the server almost nothing (no ptrace stops).
constexpr const char* kCountedSyscalls[] = {"fdatasync", "fsync", "epoll_wait", "epoll_pwait"};

struct PerfCount {
  pid_t pid = 0;
  std::string file;

  std::string Start(const std::string& perf_bin, pid_t target, const std::string& out) {
    file = out;
    std::string events;
    for (const char* s : kCountedSyscalls) {
      events += std::string(events.empty() ? "" : ",") + "syscalls:sys_enter_" + s;
    }
    const std::string target_s = std::to_string(target);
    std::vector<std::string> argv = {perf_bin, "stat", "-x", ",", "-e", events,
                                     "-p",     target_s, "-o", out};
    std::vector<char*> cargv;
    for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    const pid_t parent = getpid();
    pid = fork();
    if (pid < 0) {
      pid = 0;
      return std::string("fork: ") + strerror(errno);
    }
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      struct sigaction sa;
      memset(&sa, 0, sizeof sa);
      sa.sa_handler = SIG_DFL;
      sigaction(SIGINT, &sa, nullptr);
      sigaction(SIGTERM, &sa, nullptr);
      const int null_fd = open("/dev/null", O_RDWR);
      if (null_fd >= 0) {
        dup2(null_fd, STDIN_FILENO);
        dup2(null_fd, STDOUT_FILENO);
      }
      setpgid(0, 0);
      execvp(cargv[0], cargv.data());
      dprintf(STDERR_FILENO, "exec %s: %s\n", cargv[0], strerror(errno));
      _exit(127);
    }
    RegisterChild(pid);
    return "";
  }

  // Stops perf and reads its counts (syscall name -> count).
  std::string Stop(std::map<std::string, double>* counts) {
    if (pid <= 0) return "perf not running";
    kill(pid, SIGINT);
    int status = 0;
    waitpid(pid, &status, 0);
    UnregisterChild(pid);
    pid = 0;
    FILE* f = fopen(file.c_str(), "r");
    if (!f) return "no perf output in " + file;
    char line[512];
    while (fgets(line, sizeof line, f)) {
      std::string l = line;
      if (l.empty() || l[0] == '#' || l[0] == '\n') continue;
      const size_t c1 = l.find(',');
      if (c1 == std::string::npos) continue;
      const size_t c2 = l.find(',', c1 + 1);
      const size_t c3 = c2 == std::string::npos ? c2 : l.find(',', c2 + 1);
      if (c3 == std::string::npos) continue;
      std::string ev = l.substr(c2 + 1, c3 - c2 - 1);
      const std::string pre = "syscalls:sys_enter_";
      if (ev.rfind(pre, 0) == 0) ev = ev.substr(pre.size());
      const std::string v = l.substr(0, c1);
      (*counts)[ev] = v == "<not counted>" ? 0 : (v == "<not supported>" ? NAN : atof(v.c_str()));
    }
    fclose(f);
    if (counts->empty()) return "perf printed no counts (status " + std::to_string(status) + ")";
    return "";
  }
};

struct RunExtra {
  std::vector<double> watch_before, watch_after;  // per Options::watch_pids; < 0 unknown
  bool stats = false;
  std::string stats_error;
  StatsMap stats_before, stats_after;
  bool redis_info = false;
  std::string redis_error;
  StatsMap redis_before, redis_after;
  bool syscalls = false;
  std::string syscalls_error;
  std::map<std::string, double> syscall_counts;

  double RedisDelta(const std::string& k) const {
    auto a = redis_after.find(k), b = redis_before.find(k);
    if (a == redis_after.end() || b == redis_before.end()) return NAN;
    return a->second - b->second;
  }
  double Syscalls(const char* name) const {
    auto a = syscall_counts.find(name);
    return a == syscall_counts.end() ? NAN : a->second;
  }
  double Fsyncs() const {
    const double a = Syscalls("fdatasync"), b = Syscalls("fsync");
    return (std::isfinite(a) ? a : 0) + (std::isfinite(b) ? b : 0);
  }
  double EpollWaits() const {
    const double a = Syscalls("epoll_wait"), b = Syscalls("epoll_pwait");
    return (std::isfinite(a) ? a : 0) + (std::isfinite(b) ? b : 0);
  }

  double WatchCpu(size_t i) const {
    if (i >= watch_before.size() || i >= watch_after.size()) return -1;
    if (watch_before[i] < 0 || watch_after[i] < 0) return -1;
    return watch_after[i] - watch_before[i];
  }
  double Delta(const std::string& k) const {
    auto a = stats_after.find(k), b = stats_before.find(k);
    if (a == stats_after.end() || b == stats_before.end()) return NAN;
    return a->second - b->second;
  }
  double After(const std::string& k) const {
    auto a = stats_after.find(k);
    return a == stats_after.end() ? NAN : a->second;
  }
  // Over the window; NAN if unknown.
  double L1HitPct() const {
    const double h = Delta("l1_hits"), m = Delta("l1_misses");
    return (std::isfinite(h) && std::isfinite(m) && h + m > 0) ? 100 * h / (h + m) : NAN;
  }
};

std::vector<double> WatchSnapshot(const Options& o) {
  std::vector<double> v;
  for (const auto& [name, pid] : o.watch_pids) v.push_back(ProcessCpuSeconds(pid));
  return v;
}

std::string JsonNum(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// Lines under the run's table row, and one "JSON {"type":"run_extra",...}".
void PrintExtra(const RunRecord& r, const RunExtra& e, const Options& o) {
  if (o.watch_pids.empty() && !e.stats && !e.redis_info && !e.syscalls) return;
  const double window = r.result.window_s;
  const double n = static_cast<double>(r.result.replies_in_window);
  std::string j = "JSON {\"type\":\"run_extra\",\"round\":" + std::to_string(r.round) +
                  ",\"target\":\"" + r.target + "\"";
  if (!o.watch_pids.empty()) {
    std::string line = "      cpu of watched processes:";
    j += ",\"watch_cpu\":{";
    for (size_t i = 0; i < o.watch_pids.size(); ++i) {
      const double cpu = e.WatchCpu(i);
      const double pct = cpu >= 0 && window > 0 ? 100 * cpu / window : NAN;
      const double us = cpu >= 0 && n > 0 ? cpu * 1e6 / n : NAN;
      char buf[160];
      if (cpu >= 0) {
        snprintf(buf, sizeof buf, " %s %.1f%% of a core (%.2f us/op)",
                 o.watch_pids[i].first.c_str(), pct, us);
      } else {
        snprintf(buf, sizeof buf, " %s n/a", o.watch_pids[i].first.c_str());
      }
      line += buf;
      if (i > 0) j += ",";
      j += "\"" + o.watch_pids[i].first + "\":{\"cpu_s\":" + JsonNum(cpu >= 0 ? cpu : NAN) +
           ",\"pct\":" + JsonNum(pct) + ",\"us_per_op\":" + JsonNum(us) + "}";
    }
    j += "}";
    printf("%s\n", line.c_str());
  }
  if (e.stats) {
    if (!e.stats_error.empty()) {
      printf("      strata stats: unavailable (%s)\n", e.stats_error.c_str());
      j += ",\"strata_stats_error\":\"" + e.stats_error + "\"";
    } else {
      printf(
          "      strata stats over the window: L1 hit ratio %.2f%% (l1_hits +%.0f, l1_misses "
          "+%.0f, l1_evictions +%.0f); at the end l1_items=%.0f l1_bytes=%.0f of %.0f\n",
          e.L1HitPct(), e.Delta("l1_hits"), e.Delta("l1_misses"), e.Delta("l1_evictions"),
          e.After("l1_items"), e.After("l1_bytes"), e.After("l1_max_bytes"));
      for (const char* prefix : {"l2_", "l3_", "wal_", "wb_"}) {
        std::string line;
        for (const auto& [k, v] : e.stats_after) {
          if (k.rfind(prefix, 0) != 0) continue;
          char buf[128];
          snprintf(buf, sizeof buf, " %s=%.6g(+%.6g)", k.c_str(), v, e.Delta(k));
          line += buf;
        }
        if (!line.empty()) {
          printf("      %.*s counters (value, +delta over the window):%s\n",
                 static_cast<int>(strlen(prefix) - 1), prefix, line.c_str());
        }
      }
      const double syncs = e.Delta("wal_syncs"), recs = e.Delta("wal_appended_records");
      if (std::isfinite(syncs) && std::isfinite(recs)) {
        printf(
            "      wal over the window: %.0f records, %.0f syncs (%.0f/s), %.2f records per sync, "
            "%.2f replies per sync\n",
            recs, syncs, window > 0 ? syncs / window : NAN, syncs > 0 ? recs / syncs : NAN,
            syncs > 0 ? n / syncs : NAN);
      }
      j += ",\"l1_hit_pct\":" + JsonNum(e.L1HitPct()) + ",\"strata_stats\":{";
      bool first = true;
      for (const auto& [k, v] : e.stats_after) {
        j += std::string(first ? "" : ",") + "\"" + k + "\":{\"end\":" + JsonNum(v) +
             ",\"delta\":" + JsonNum(e.Delta(k)) + "}";
        first = false;
      }
      j += "}";
    }
  }
  if (e.redis_info) {
    if (!e.redis_error.empty()) {
      printf("      redis INFO persistence: unavailable (%s)\n", e.redis_error.c_str());
      j += ",\"redis_info_error\":\"" + e.redis_error + "\"";
    } else {
      std::string line;
      j += ",\"redis_info\":{";
      bool first = true;
      for (const auto& [k, v] : e.redis_after) {
        if (k.rfind("aof_", 0) != 0) continue;
        char buf[128];
        snprintf(buf, sizeof buf, " %s=%.6g(+%.6g)", k.c_str(), v, e.RedisDelta(k));
        line += buf;
        j += std::string(first ? "" : ",") + "\"" + k + "\":{\"end\":" + JsonNum(v) +
             ",\"delta\":" + JsonNum(e.RedisDelta(k)) + "}";
        first = false;
      }
      j += "}";
      printf("      redis INFO persistence (value, +delta over the window):%s\n", line.c_str());
    }
  }
  if (e.syscalls) {
    if (!e.syscalls_error.empty()) {
      printf("      server syscalls: unavailable (%s)\n", e.syscalls_error.c_str());
      j += ",\"syscalls_error\":\"" + e.syscalls_error + "\"";
    } else {
      const double fs = e.Fsyncs(), ep = e.EpollWaits();
      printf(
          "      server syscalls over the window (perf): fdatasync %.0f fsync %.0f (%.0f/s), "
          "epoll_wait %.0f; %.2f replies per fsync, %.3f fsyncs per epoll_wait\n",
          e.Syscalls("fdatasync"), e.Syscalls("fsync"), window > 0 ? fs / window : NAN, ep,
          fs > 0 ? n / fs : NAN, ep > 0 ? fs / ep : NAN);
      j += ",\"syscalls\":{";
      bool first = true;
      for (const auto& [k, v] : e.syscall_counts) {
        j += std::string(first ? "" : ",") + "\"" + k + "\":" + JsonNum(v);
        first = false;
      }
      j += "},\"replies_per_fsync\":" + JsonNum(fs > 0 ? n / fs : NAN);
    }
  }
  j += "}";
  printf("%s\n", j.c_str());
  fflush(stdout);
}

double MedianOf(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }),
          v.end());
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

void PrintExtraSummary(const std::vector<RunRecord>& runs, const std::vector<RunExtra>& extras,
                       const Options& o) {
  if (o.watch_pids.empty() && !o.strata_stats && !o.count_syscalls && !o.redis_info) return;
  for (const char* name : {"strata", "redis"}) {
    std::vector<double> hit, per_fsync, fsync_rate, per_wal_sync;
    std::vector<std::vector<double>> pct(o.watch_pids.size()), us(o.watch_pids.size());
    bool any = false;
    for (size_t r = 0; r < runs.size(); ++r) {
      if (runs[r].target != name || !runs[r].ok) continue;
      any = true;
      const RunExtra& e = extras[r];
      if (e.stats && e.stats_error.empty()) hit.push_back(e.L1HitPct());
      const double window = runs[r].result.window_s;
      const double n = static_cast<double>(runs[r].result.replies_in_window);
      if (e.syscalls && e.syscalls_error.empty() && e.Fsyncs() > 0) {
        per_fsync.push_back(n / e.Fsyncs());
        fsync_rate.push_back(window > 0 ? e.Fsyncs() / window : NAN);
      }
      if (e.stats && e.stats_error.empty() && e.Delta("wal_syncs") > 0) {
        per_wal_sync.push_back(n / e.Delta("wal_syncs"));
      }
      for (size_t i = 0; i < o.watch_pids.size(); ++i) {
        const double cpu = e.WatchCpu(i);
        if (cpu < 0) continue;
        pct[i].push_back(window > 0 ? 100 * cpu / window : NAN);
        us[i].push_back(n > 0 ? cpu * 1e6 / n : NAN);
      }
    }
    if (!any) continue;
    printf("  %-6s extras (medians):", name);
    if (!hit.empty()) printf(" L1 hit ratio %.2f%%", MedianOf(hit));
    if (!per_wal_sync.empty()) printf("  replies per wal sync %.2f", MedianOf(per_wal_sync));
    if (!per_fsync.empty()) {
      printf("  fsyncs %.0f/s, replies per fsync %.2f", MedianOf(fsync_rate), MedianOf(per_fsync));
    }
    for (size_t i = 0; i < o.watch_pids.size(); ++i) {
      printf("  %s cpu %.1f%% of a core, %.2f us/op", o.watch_pids[i].first.c_str(),
             MedianOf(pct[i]), MedianOf(us[i]));
    }
    printf("\n");
  }
  fflush(stdout);
}

RunRecord RunOne(const Target& t, int round, const Workload& w, const Options& o,
                 const std::string& dir, RunExtra* extra) {
  RunRecord rec;
  rec.round = round;
  rec.target = t.name;
  rec.protocol = t.protocol == Protocol::kMsgpack ? "msgpack" : "resp";
  const std::string tag = "[round " + std::to_string(round) + " " + t.name + "]";

  ServerProcess server;
  std::string socket = t.opts.socket;
  pid_t pid = t.opts.pid;
  const std::string base = dir + "/" + t.name + "-" + std::to_string(round);
  std::string run_dir;
  if (!t.opts.bin.empty()) {
    socket = base + ".sock";
    if (UsesRunDir(t)) {
      run_dir = base + ".data";
      std::error_code ec;
      std::filesystem::remove_all(run_dir, ec);
      if (!std::filesystem::create_directories(run_dir, ec)) {
        rec.error = "cannot create " + run_dir + ": " + ec.message();
        return rec;
      }
    }
    // Earlier runs' dirty pages would otherwise be written back during this
    // one and slow its fsyncs.
    sync();
    if (!o.quiet) fprintf(stderr, "%s starting %s\n", tag.c_str(), t.opts.bin.c_str());
    rec.error = server.Start(ServerArgv(t, o, socket, dir, run_dir), socket, base + ".log",
                             o.startup_timeout_s);
    if (!rec.error.empty()) return rec;
    pid = server.pid();
  }

  LoadClient client;
  const int max_depth = std::max(o.depth, o.preload ? o.preload_depth : 1);
  rec.error = client.Connect(socket, o.connections, max_depth, t.protocol);
  if (!rec.error.empty()) return rec;

  const uint64_t seed = o.seed + static_cast<uint64_t>(round - 1);  // same for A and B
  if (o.preload) {
    if (!o.quiet) {
      fprintf(stderr, "%s preloading %llu keys\n", tag.c_str(),
              static_cast<unsigned long long>(w.spec().keyspace));
    }
    PhaseConfig pc;
    pc.preload = true;
    pc.depth = o.preload_depth;
    pc.duration_s = o.preload_timeout_s;
    pc.drain_timeout_s = o.drain_timeout_s;
    pc.seed = seed;
    pc.progress = !o.quiet;
    const PhaseResult pr = client.Run(w, pc);
    rec.preloaded = true;
    rec.preload_keys = pr.sets;
    rec.preload_s = pr.window_s;
    rec.preload_errors = pr.Errors();
    if (pr.stop_reason != "done" || pr.Errors() > 0 || pr.sets != w.spec().keyspace) {
      rec.error = "preload stopped (" + pr.stop_reason + ") after " + std::to_string(pr.sets) +
                  " of " + std::to_string(w.spec().keyspace) + " keys with " +
                  std::to_string(pr.Errors()) + " errors";
      if (pr.stop_reason != "done") return rec;
    }
  }

  CpuSnapshot before, after;
  PhaseConfig pc;
  pc.depth = o.depth;
  pc.warmup_s = o.warmup_s;
  pc.duration_s = o.duration_s;
  pc.max_requests = o.max_requests;
  pc.drain_timeout_s = o.drain_timeout_s;
  pc.seed = seed;
  pc.progress = !o.quiet;
  const bool want_stats = o.strata_stats && t.name == "strata" && t.protocol == Protocol::kMsgpack;
  extra->stats = want_stats;
  auto fetch = [&](StatsMap* m) {
    if (!want_stats || !extra->stats_error.empty()) return;
    extra->stats_error = FetchStrataStats(socket, m);
  };
  const bool want_info = o.redis_info && t.name == "redis";
  extra->redis_info = want_info;
  auto fetch_info = [&](StatsMap* m) {
    if (!want_info || !extra->redis_error.empty()) return;
    extra->redis_error = FetchRedisInfo(socket, m);
  };
  extra->syscalls = o.count_syscalls;
  PerfCount perf;
  if (o.count_syscalls && pid <= 0) extra->syscalls_error = "server PID unknown";
  // Stats are read just outside the CPU snapshots, so their cost is not billed.
  pc.on_window_start = [&] {
    fetch(&extra->stats_before);
    fetch_info(&extra->redis_before);
    if (extra->syscalls && extra->syscalls_error.empty()) {
      extra->syscalls_error = perf.Start(o.perf_bin, pid, base + ".perf");
    }
    extra->watch_before = WatchSnapshot(o);
    before = Snapshot(pid);
  };
  pc.on_window_end = [&] {
    after = Snapshot(pid);
    extra->watch_after = WatchSnapshot(o);
    if (extra->syscalls && extra->syscalls_error.empty()) {
      extra->syscalls_error = perf.Stop(&extra->syscall_counts);
    }
    fetch(&extra->stats_after);
    fetch_info(&extra->redis_after);
  };
  rec.connections = client.live_connections();
  if (!o.quiet) {
    fprintf(stderr, "%s %d connections x depth %d: warm-up %.3g s, measure %.3g s\n", tag.c_str(),
            rec.connections, o.depth, o.warmup_s, o.duration_s);
  }
  rec.result = client.Run(w, pc);
  client.Close();

  const PhaseResult& r = rec.result;
  // A window cut short (connections closed, interrupted) is reported but kept
  // out of the medians: it did not measure the same thing.
  const bool complete = r.stop_reason == "duration" || r.stop_reason == "max_requests";
  rec.ok = r.window_started && r.window_s > 0 && r.replies_in_window > 0 && complete;
  if (!r.window_started) {
    rec.error += (rec.error.empty() ? "" : "; ") + ("no measured window (" + r.stop_reason + ")");
  } else if (!complete) {
    rec.error += (rec.error.empty() ? "" : "; ") + ("run ended early: " + r.stop_reason);
  } else if (r.replies_in_window == 0) {
    rec.error += (rec.error.empty() ? "" : "; ") +
                 ("no replies in the measured window (" + std::to_string(r.lost) + " lost)");
  }
  rec.client_cpu_s = after.self_s - before.self_s;
  if (before.server.self_s >= 0 && after.server.self_s >= 0) {
    rec.server_cpu_s = after.server.total() - before.server.total();
    rec.server_child_cpu_s = std::max(after.server.children_s - before.server.children_s, 0.0);
  }
  rec.system_busy_s = after.system.busy_s - before.system.busy_s;
  rec.system_total_s = after.system.total_s - before.system.total_s;
  if (server.pid() > 0 && waitpid(server.pid(), nullptr, WNOHANG) == server.pid()) {
    rec.error += (rec.error.empty() ? "" : "; ") + std::string("server exited during the run");
  }
  server.Stop();
  if (perf.pid > 0) {
    std::map<std::string, double> ignored;
    perf.Stop(&ignored);
  }
  if (!run_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(run_dir, ec);
  }
  return rec;
}

int Main(int argc, char** argv) {
  Options o;
  const std::string err = ParseOptions(argc, argv, &o);
  if (err == "help") {
    fputs(Usage(), stdout);
    return 0;
  }
  if (!err.empty()) {
    fprintf(stderr, "strata-bench: %s\n", err.c_str());
    return 1;
  }
  if (o.self_test) return RunSelfTest() ? 0 : 1;

  InstallShutdownHandlers();
  std::vector<Target> targets;
  if (o.strata) targets.push_back({"strata", o.strata_protocol, o.strata_target});
  if (o.redis) targets.push_back({"redis", Protocol::kResp, o.redis_target});

  // The watchdog: everything a run may legitimately take, plus slack.
  const double per_run = o.startup_timeout_s + (o.preload ? o.preload_timeout_s : 0) + o.warmup_s +
                         o.duration_s + 2 * o.drain_timeout_s + 15;
  const double budget = per_run * o.rounds * static_cast<double>(targets.size()) + 30;
  ArmWatchdog(static_cast<unsigned>(std::min(std::ceil(budget), 4e9)));

  std::string dir_template = o.tmp_dir + "/strata-bench.XXXXXX";
  if (!mkdtemp(dir_template.data())) {
    perror("mkdtemp");
    return 1;
  }
  const std::string dir = dir_template.c_str();

  const Workload workload(o.workload);
  PrintBanner(o);
  PrintTableHeader();
  std::vector<RunRecord> runs;
  std::vector<RunExtra> extras;
  for (int round = 1; round <= o.rounds && !Interrupted(); ++round) {
    for (const Target& t : targets) {
      if (Interrupted()) break;
      extras.emplace_back();
      runs.push_back(RunOne(t, round, workload, o, dir, &extras.back()));
      PrintRun(runs.back(), o);
      PrintExtra(runs.back(), extras.back(), o);
    }
  }
  PrintSummary(runs, o);
  PrintExtraSummary(runs, extras, o);

  std::error_code ec;
  std::filesystem::remove_all(dir, ec);

  if (Interrupted()) return 130;
  bool failed = false, errors = false;
  for (const RunRecord& r : runs) {
    failed |= !r.ok;
    errors |= r.Errors() > 0;
  }
  if (failed) return 1;
  return errors ? 3 : 0;
}

}  // namespace
}  // namespace strata::bench

int main(int argc, char** argv) { return strata::bench::Main(argc, argv); }
