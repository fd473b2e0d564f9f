// strata-bench: drives Strata (msgpack-RPC) and redis-server (RESP) with one
// closed-loop harness and prints how they compare. See bench/README.md.
//
// A run = (start a fresh server if asked) -> connect -> (preload) -> warm-up
// -> measured window -> drain -> (stop the server). Rounds alternate targets
// A, B, A, B, ... and the summary reports medians with ranges.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
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
  double server_s = -1;
  SystemCpu system;
};

CpuSnapshot Snapshot(pid_t server_pid) {
  CpuSnapshot s;
  s.self_s = SelfCpuSeconds();
  if (server_pid > 0) s.server_s = ProcessCpuSeconds(server_pid);
  s.system = ReadSystemCpu();
  return s;
}

std::vector<std::string> ServerArgv(const Target& t, const Options& o, const std::string& socket,
                                    const std::string& dir) {
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
  argv.insert(argv.end(), t.opts.extra_args.begin(), t.opts.extra_args.end());
  return argv;
}

RunRecord RunOne(const Target& t, int round, const Workload& w, const Options& o,
                 const std::string& dir) {
  RunRecord rec;
  rec.round = round;
  rec.target = t.name;
  rec.protocol = t.protocol == Protocol::kMsgpack ? "msgpack" : "resp";
  const std::string tag = "[round " + std::to_string(round) + " " + t.name + "]";

  ServerProcess server;
  std::string socket = t.opts.socket;
  pid_t pid = t.opts.pid;
  if (!t.opts.bin.empty()) {
    const std::string base = dir + "/" + t.name + "-" + std::to_string(round);
    socket = base + ".sock";
    if (!o.quiet) fprintf(stderr, "%s starting %s\n", tag.c_str(), t.opts.bin.c_str());
    rec.error =
        server.Start(ServerArgv(t, o, socket, dir), socket, base + ".log", o.startup_timeout_s);
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
  pc.on_window_start = [&] { before = Snapshot(pid); };
  pc.on_window_end = [&] { after = Snapshot(pid); };
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
  if (before.server_s >= 0 && after.server_s >= 0) {
    rec.server_cpu_s = after.server_s - before.server_s;
  }
  rec.system_busy_s = after.system.busy_s - before.system.busy_s;
  rec.system_total_s = after.system.total_s - before.system.total_s;
  if (server.pid() > 0 && waitpid(server.pid(), nullptr, WNOHANG) == server.pid()) {
    rec.error += (rec.error.empty() ? "" : "; ") + std::string("server exited during the run");
  }
  server.Stop();
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

  char dir_template[] = "/tmp/strata-bench.XXXXXX";
  if (!mkdtemp(dir_template)) {
    perror("mkdtemp");
    return 1;
  }
  const std::string dir = dir_template;

  const Workload workload(o.workload);
  PrintBanner(o);
  PrintTableHeader();
  std::vector<RunRecord> runs;
  for (int round = 1; round <= o.rounds && !Interrupted(); ++round) {
    for (const Target& t : targets) {
      if (Interrupted()) break;
      runs.push_back(RunOne(t, round, workload, o, dir));
      PrintRun(runs.back(), o);
    }
  }
  PrintSummary(runs, o);

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
