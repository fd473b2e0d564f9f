// What strata-bench prints: a human table row and one "JSON " line per run,
// and at the end medians with ranges per target and the strata/redis ratios.
//
// Thread affinity: the bench's one thread; writes to stdout.
#pragma once

#include <string>
#include <vector>

#include "bench/load_client.h"
#include "bench/options.h"

namespace strata::bench {

struct RunRecord {
  int round = 0;
  std::string target;    // "strata" | "redis"
  std::string protocol;  // "msgpack" | "resp"
  bool ok = false;       // the measured window ran
  std::string error;     // why not, or what went wrong around it

  bool preloaded = false;
  uint64_t preload_keys = 0;
  double preload_s = 0;
  uint64_t preload_errors = 0;

  int connections = 0;  // live at the start of the measured phase
  PhaseResult result;
  double client_cpu_s = 0;
  double server_cpu_s = -1;  // < 0: unknown (external server without a PID)
  double server_child_cpu_s = 0;  // part of server_cpu_s used by its child processes
  double system_busy_s = 0;  // whole machine, all cores
  double system_total_s = 0;

  double OpsPerSec() const;
  uint64_t Errors() const { return result.Errors() + preload_errors; }
};

void PrintBanner(const Options& o);
void PrintTableHeader();
void PrintRun(const RunRecord& r, const Options& o);
// Medians with ranges per target, the RATIO line, and a summary JSON line.
void PrintSummary(const std::vector<RunRecord>& runs, const Options& o);

}  // namespace strata::bench
