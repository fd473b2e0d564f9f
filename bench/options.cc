#include "bench/options.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string_view>

namespace strata::bench {
namespace {

// Options that take a value, each between spaces.
constexpr std::string_view kValuedOptions =
    " --target --strata-socket --strata-bin --strata-pid --strata-threads --strata-protocol"
    " --strata-arg --redis-arg --redis-socket --redis-server --redis-pid --keyspace --dist"
    " --zipf-s --get-ratio --value-size --key-size --connections --depth --preload-depth"
    " --duration --warmup --preload-timeout --drain-timeout --startup-timeout --seed --rounds"
    " --max-requests --watch-pid --perf-bin --tmp-dir ";

bool ToInt(const std::string& s, long long lo, long long hi, long long* v) {
  errno = 0;
  char* end = nullptr;
  const double d = strtod(s.c_str(), &end);  // accepts 1e6
  if (errno || end == s.c_str() || *end || d != std::floor(d) || d < lo || d > hi) return false;
  *v = static_cast<long long>(d);
  return true;
}

bool ToDouble(const std::string& s, double lo, double hi, double* v) {
  errno = 0;
  char* end = nullptr;
  const double d = strtod(s.c_str(), &end);
  if (errno || end == s.c_str() || *end || !(d >= lo && d <= hi)) return false;
  *v = d;
  return true;
}

bool ToBool(const std::string& s, bool* v) {
  if (s == "1" || s == "true" || s == "on" || s == "yes") return *v = true, true;
  if (s == "0" || s == "false" || s == "off" || s == "no") return *v = false, true;
  return false;
}

}  // namespace

const char* Usage() {
  return R"(strata-bench: closed-loop GET/SET load against Strata (msgpack-RPC) and
redis-server (RESP) with one harness; prints a table, one "JSON " line per run,
and "RATIO strata/redis" from the medians.

Targets (each given by a socket to connect to, or a binary to start fresh per run):
  --target strata|redis|both     (both)
  --strata-socket PATH           connect to a running Strata
  --strata-bin PATH              start `PATH --server.socket=<tmp> --server.threads=N
                                 --admin.listen= --l3.enabled=false --log.level=warn`
  --strata-threads N             (1) --server.threads for a started Strata
  --strata-pid PID               PID of an external Strata, for its CPU time
  --strata-protocol msgpack|resp (msgpack) resp = harness check against a 2nd redis
  --strata-arg ARG               extra flag for a started Strata (repeatable),
                                 e.g. --strata-arg=--l1.max_bytes=1GiB; later flags
                                 win, so --strata-arg=--l3.enabled=true overrides
  --redis-socket PATH            connect to a running redis-server
  --redis-server PATH            start `PATH --port 0 --unixsocket <tmp> --save ''
                                 --appendonly no`
  --redis-pid PID                PID of an external redis-server, for its CPU time
  --redis-arg ARG                extra argument for a started redis-server (repeatable)
                                 In --strata-arg/--redis-arg, "{run}" becomes a fresh,
                                 empty directory per run (removed after the run), e.g.
                                 --strata-arg=--wal.path={run}/wal --redis-arg={run}
Workload:
  --keyspace N (1000000)  --dist uniform|zipf (uniform)  --zipf-s S (0.99)
  --get-ratio R (0.9)     --key-size B (16; "key:%012d")  --value-size B (32)
  --preload[=on|off]      SET every key first, pipelined, so GETs hit (off)
  --preload-depth N (64)  --preload-timeout S (300)
Load:
  --connections N (50)  --depth N (1; requests in flight per connection)
  --duration S (10)     --warmup S (2)     --rounds N (1; runs A,B,A,B,...)
  --seed N (1)          --max-requests N (1e9 per run; the run ends early at it)
  --drain-timeout S (2) --startup-timeout S (15)
Other:
  --watch-pid NAME=PID           report this process's CPU over each measured window
                                 too (repeatable), e.g. --watch-pid relay=1234
  --strata-stats[=on|off]        call Strata's `stats` at the start and end of each
                                 window; report the L1 hit ratio and l2_* deltas (off)
  --redis-info[=on|off]          call INFO persistence on the redis target at the start
                                 and end of each window; report aof_* deltas (off)
  --count-syscalls[=on|off]      count the server's fdatasync/fsync/epoll_wait calls
                                 over each window with `perf stat -p` (off)
  --perf-bin PATH (perf)         --tmp-dir PATH (/tmp; sockets, logs, {run} dirs)
  --quiet  --self-test (codec, histogram and sampler checks)  --help
Exit status: 0 ok, 1 usage or setup failure, 3 a run saw errors or lost replies,
130 interrupted.
)";
}

std::string ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string name = arg, value;
    bool has_value = false;
    if (arg.rfind("--", 0) != 0) return "unexpected argument '" + arg + "'";
    if (const size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    // Flags that take no value.
    if (name == "--help" || name == "-h") return "help";
    if (name == "--self-test") {
      o->self_test = true;
      continue;
    }
    if (name == "--quiet") {
      o->quiet = true;
      continue;
    }
    if (name == "--no-preload") {
      o->preload = false;
      continue;
    }
    if (name == "--strata-stats") {
      if (has_value && !ToBool(value, &o->strata_stats)) {
        return "bad --strata-stats value '" + value + "'";
      }
      if (!has_value) o->strata_stats = true;
      continue;
    }
    if (name == "--redis-info" || name == "--count-syscalls") {
      bool* flag = name == "--redis-info" ? &o->redis_info : &o->count_syscalls;
      if (has_value && !ToBool(value, flag)) return "bad " + name + " value '" + value + "'";
      if (!has_value) *flag = true;
      continue;
    }
    if (name == "--preload") {
      if (has_value && !ToBool(value, &o->preload)) return "bad --preload value '" + value + "'";
      if (!has_value) o->preload = true;
      continue;
    }
    if (std::string(kValuedOptions).find(" " + name + " ") == std::string::npos) {
      return "unknown option " + name + " (see --help)";
    }
    if (!has_value) {
      if (i + 1 >= argc) return name + " needs a value";
      value = argv[++i];
    }
    long long iv = 0;
    double dv = 0;
    const std::string bad = "bad value '" + value + "' for " + name;
    if (name == "--target") {
      if (value == "strata")
        o->strata = true, o->redis = false;
      else if (value == "redis")
        o->strata = false, o->redis = true;
      else if (value == "both")
        o->strata = o->redis = true;
      else
        return bad;
    } else if (name == "--strata-socket") {
      o->strata_target.socket = value;
    } else if (name == "--strata-bin") {
      o->strata_target.bin = value;
    } else if (name == "--strata-pid") {
      if (!ToInt(value, 1, 1 << 30, &iv)) return bad;
      o->strata_target.pid = static_cast<pid_t>(iv);
    } else if (name == "--strata-threads") {
      if (!ToInt(value, 1, 256, &iv)) return bad;
      o->strata_threads = static_cast<int>(iv);
    } else if (name == "--strata-protocol") {
      if (value == "msgpack")
        o->strata_protocol = Protocol::kMsgpack;
      else if (value == "resp")
        o->strata_protocol = Protocol::kResp;
      else
        return bad;
    } else if (name == "--strata-arg") {
      o->strata_target.extra_args.push_back(value);
    } else if (name == "--redis-arg") {
      o->redis_target.extra_args.push_back(value);
    } else if (name == "--redis-socket") {
      o->redis_target.socket = value;
    } else if (name == "--redis-server") {
      o->redis_target.bin = value;
    } else if (name == "--redis-pid") {
      if (!ToInt(value, 1, 1 << 30, &iv)) return bad;
      o->redis_target.pid = static_cast<pid_t>(iv);
    } else if (name == "--watch-pid") {
      const size_t eq = value.find('=');
      if (eq == std::string::npos || eq == 0 || !ToInt(value.substr(eq + 1), 1, 1 << 30, &iv)) {
        return bad + " (want NAME=PID)";
      }
      o->watch_pids.emplace_back(value.substr(0, eq), static_cast<pid_t>(iv));
    } else if (name == "--perf-bin") {
      o->perf_bin = value;
    } else if (name == "--tmp-dir") {
      if (value.empty()) return bad;
      o->tmp_dir = value;
    } else if (name == "--keyspace") {
      if (!ToInt(value, 1, 1LL << 40, &iv)) return bad;
      o->workload.keyspace = static_cast<uint64_t>(iv);
    } else if (name == "--dist") {
      if (value == "uniform")
        o->workload.dist = Dist::kUniform;
      else if (value == "zipf")
        o->workload.dist = Dist::kZipf;
      else
        return bad;
    } else if (name == "--zipf-s") {
      if (!ToDouble(value, 1e-6, 100, &dv)) return bad;
      o->workload.zipf_s = dv;
    } else if (name == "--get-ratio") {
      if (!ToDouble(value, 0, 1, &dv)) return bad;
      o->workload.get_ratio = dv;
    } else if (name == "--value-size") {
      if (!ToInt(value, 0, 64LL << 20, &iv)) return bad;
      o->workload.value_size = static_cast<size_t>(iv);
    } else if (name == "--key-size") {
      if (!ToInt(value, 1, 4096, &iv)) return bad;
      o->workload.key_size = static_cast<size_t>(iv);
    } else if (name == "--connections") {
      if (!ToInt(value, 1, 10000, &iv)) return bad;
      o->connections = static_cast<int>(iv);
    } else if (name == "--depth") {
      if (!ToInt(value, 1, 4096, &iv)) return bad;
      o->depth = static_cast<int>(iv);
    } else if (name == "--preload-depth") {
      if (!ToInt(value, 1, 4096, &iv)) return bad;
      o->preload_depth = static_cast<int>(iv);
    } else if (name == "--duration") {
      if (!ToDouble(value, 0.01, 86400, &dv)) return bad;
      o->duration_s = dv;
    } else if (name == "--warmup") {
      if (!ToDouble(value, 0, 3600, &dv)) return bad;
      o->warmup_s = dv;
    } else if (name == "--preload-timeout") {
      if (!ToDouble(value, 0.1, 86400, &dv)) return bad;
      o->preload_timeout_s = dv;
    } else if (name == "--drain-timeout") {
      if (!ToDouble(value, 0.01, 600, &dv)) return bad;
      o->drain_timeout_s = dv;
    } else if (name == "--startup-timeout") {
      if (!ToDouble(value, 0.1, 600, &dv)) return bad;
      o->startup_timeout_s = dv;
    } else if (name == "--seed") {
      if (!ToInt(value, 0, 1LL << 53, &iv)) return bad;
      o->seed = static_cast<uint64_t>(iv);
    } else if (name == "--rounds") {
      if (!ToInt(value, 1, 1000, &iv)) return bad;
      o->rounds = static_cast<int>(iv);
    } else if (name == "--max-requests") {
      if (!ToInt(value, 1, 1LL << 50, &iv)) return bad;
      o->max_requests = static_cast<uint64_t>(iv);
    } else {
      return "unknown option " + name + " (see --help)";
    }
  }
  if (o->self_test) return "";
  if (o->strata) {
    const TargetOptions& t = o->strata_target;
    if (t.socket.empty() == t.bin.empty()) {
      return "--target strata needs exactly one of --strata-socket or --strata-bin";
    }
    if (!t.bin.empty() && o->strata_protocol == Protocol::kResp) {
      return "--strata-protocol resp is for an external --strata-socket only";
    }
  }
  for (const TargetOptions* t : {&o->strata_target, &o->redis_target}) {
    if (!t->extra_args.empty() && t->bin.empty()) {
      return "--strata-arg/--redis-arg apply only to a server the bench starts";
    }
  }
  if (o->strata_stats && (!o->strata || o->strata_protocol != Protocol::kMsgpack)) {
    return "--strata-stats needs a msgpack strata target";
  }
  if (o->redis_info && !o->redis) return "--redis-info needs a redis target";
  if (o->redis) {
    const TargetOptions& t = o->redis_target;
    if (t.socket.empty() == t.bin.empty()) {
      return "--target redis needs exactly one of --redis-socket or --redis-server";
    }
  }
  if (std::string w = ValidateWorkload(o->workload); !w.empty()) return w;
  return "";
}

}  // namespace strata::bench
