#include "bench/report.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>

namespace strata::bench {
namespace {

// CPU used by neither client nor server (percent of one core) above which a
// run is flagged: on 2 cores, that much foreign load moves results by more
// than the differences the bench is meant to show.
constexpr double kNoisyOtherPct = 25;

const char* DistName(Dist d) { return d == Dist::kZipf ? "zipf" : "uniform"; }

double Us(uint64_t ns) { return static_cast<double>(ns) * 1e-3; }

// Appends printf-formatted text to *s.
void Appendf(std::string* s, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void Appendf(std::string* s, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  const int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) s->append(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
}

// A JSON number, or null when the value is unknown (negative or not finite).
std::string Num(double v, bool known = true) {
  if (!known || !std::isfinite(v)) return "null";
  char buf[64];
  snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string JsonString(const std::string& in) {
  std::string out = "\"";
  for (char ch : in) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

struct Derived {
  double ops = 0, p50 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;
  double cli_us = 0, srv_us = -1;
  double cli_pct = 0, srv_pct = -1, other_pct = 0, cores = 0;
  double little_measured = 0, little_expected = 0;
  double hit_pct = -1;
};

Derived Derive(const RunRecord& r, const Options& o) {
  Derived d;
  const PhaseResult& p = r.result;
  const Histogram& h = p.latency_ns;
  d.ops = r.OpsPerSec();
  d.p50 = Us(h.Percentile(0.50));
  d.p99 = Us(h.Percentile(0.99));
  d.p999 = Us(h.Percentile(0.999));
  d.max = Us(h.max());
  d.mean = h.Mean() * 1e-3;
  const double n = static_cast<double>(p.replies_in_window);
  if (n > 0) {
    d.cli_us = r.client_cpu_s * 1e6 / n;
    if (r.server_cpu_s >= 0) d.srv_us = r.server_cpu_s * 1e6 / n;
  }
  if (p.window_s > 0) {
    d.cli_pct = 100 * r.client_cpu_s / p.window_s;
    if (r.server_cpu_s >= 0) d.srv_pct = 100 * r.server_cpu_s / p.window_s;
    d.other_pct =
        100 * (r.system_busy_s - r.client_cpu_s - std::max(r.server_cpu_s, 0.0)) / p.window_s;
    d.other_pct = std::max(d.other_pct, 0.0);  // /proc/stat ticks are coarse
    d.cores = r.system_total_s / p.window_s;
  }
  // Little's law: requests in flight = throughput x time in flight.
  d.little_measured = d.ops * d.mean * 1e-6;
  d.little_expected = static_cast<double>(r.connections) * o.depth;
  if (p.hits + p.misses > 0) d.hit_pct = 100.0 * p.hits / static_cast<double>(p.hits + p.misses);
  return d;
}

double Median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

struct Stat {
  double median = NAN, lo = NAN, hi = NAN;
};
Stat Summarize(const std::vector<double>& v) {
  Stat s;
  if (v.empty()) return s;
  s.median = Median(v);
  s.lo = *std::min_element(v.begin(), v.end());
  s.hi = *std::max_element(v.begin(), v.end());
  return s;
}

}  // namespace

double RunRecord::OpsPerSec() const {
  return result.window_s > 0 ? static_cast<double>(result.replies_in_window) / result.window_s
                             : 0.0;
}

void PrintBanner(const Options& o) {
  const WorkloadSpec& w = o.workload;
  printf("strata-bench: keyspace=%llu dist=%s", static_cast<unsigned long long>(w.keyspace),
         DistName(w.dist));
  if (w.dist == Dist::kZipf) printf(" zipf_s=%.3g", w.zipf_s);
  printf(
      " get_ratio=%.3g key=%zuB value=%zuB connections=%d depth=%d duration=%.3gs "
      "warmup=%.3gs preload=%s rounds=%d seed=%llu\n",
      w.get_ratio, w.key_size, w.value_size, o.connections, o.depth, o.duration_s, o.warmup_s,
      o.preload ? "on" : "off", o.rounds, static_cast<unsigned long long>(o.seed));
  fflush(stdout);
}

void PrintTableHeader() {
  printf("%-5s %-6s %-7s %10s %8s %8s %8s %8s %8s %7s %6s %9s %9s %17s %6s\n", "round", "target",
         "proto", "ops/s", "p50us", "p99us", "p99.9us", "maxus", "meanus", "errors", "hit%",
         "cli_us/op", "srv_us/op", "cpu% cli/srv/oth", "little");
  fflush(stdout);
}

void PrintRun(const RunRecord& r, const Options& o) {
  const Derived d = Derive(r, o);
  const PhaseResult& p = r.result;
  if (r.ok) {
    char srv_us[16] = "n/a", srv_pct[16] = "n/a", hit[16] = "-", cpu[40];
    if (d.srv_us >= 0) snprintf(srv_us, sizeof srv_us, "%.2f", d.srv_us);
    if (d.srv_pct >= 0) snprintf(srv_pct, sizeof srv_pct, "%.0f", d.srv_pct);
    if (d.hit_pct >= 0) snprintf(hit, sizeof hit, "%.1f", d.hit_pct);
    snprintf(cpu, sizeof cpu, "%.0f/%s/%.0f", d.cli_pct, srv_pct, d.other_pct);
    printf("%-5d %-6s %-7s %10.0f %8.1f %8.1f %8.1f %8.1f %8.1f %7llu %6s %9.2f %9s %17s %6.3f\n",
           r.round, r.target.c_str(), r.protocol.c_str(), d.ops, d.p50, d.p99, d.p999, d.max,
           d.mean, static_cast<unsigned long long>(r.Errors()), hit, d.cli_us, srv_us, cpu,
           d.little_expected > 0 ? d.little_measured / d.little_expected : 0.0);
  } else {
    printf("%-5d %-6s %-7s FAILED: %s\n", r.round, r.target.c_str(), r.protocol.c_str(),
           r.error.c_str());
  }
  if (r.ok && !r.error.empty()) printf("      note: %s\n", r.error.c_str());
  if (r.ok && r.server_child_cpu_s > 0 && p.window_s > 0) {
    printf(
        "      note: the server's child processes (e.g. Redis's AOF rewrite) used %.0f%% CPU; "
        "counted in its srv_us/op\n",
        100 * r.server_child_cpu_s / p.window_s);
  }
  const bool noisy = r.ok && d.other_pct > kNoisyOtherPct;
  if (noisy) {
    printf(
        "      note: busy machine: other processes used %.0f%% CPU (100%% = one core) "
        "during this run; rerun for a clean result\n",
        d.other_pct);
  }
  if (!r.ok && p.window_started && p.replies_in_window > 0) {
    printf("      (partial: %.0f ops/s over %.3f s, p50 %.1f us, %llu errors; not in medians)\n",
           d.ops, p.window_s, d.p50, static_cast<unsigned long long>(r.Errors()));
  }

  std::string j = "JSON {\"type\":\"run\"";
  Appendf(&j, ",\"round\":%d,\"target\":%s,\"protocol\":%s,\"ok\":%s", r.round,
          JsonString(r.target).c_str(), JsonString(r.protocol).c_str(), r.ok ? "true" : "false");
  if (!r.error.empty()) j += ",\"error\":" + JsonString(r.error);
  const WorkloadSpec& w = o.workload;
  Appendf(&j, ",\"connections\":%d,\"depth\":%d,\"keyspace\":%llu,\"dist\":\"%s\"", r.connections,
          o.depth, static_cast<unsigned long long>(w.keyspace), DistName(w.dist));
  j += ",\"zipf_s\":" + Num(w.zipf_s, w.dist == Dist::kZipf);
  j += ",\"get_ratio\":" + Num(w.get_ratio);
  Appendf(&j, ",\"key_size\":%zu,\"value_size\":%zu,\"seed\":%llu", w.key_size, w.value_size,
          static_cast<unsigned long long>(o.seed));
  j += ",\"preload\":{\"on\":" + std::string(r.preloaded ? "true" : "false");
  Appendf(&j, ",\"keys\":%llu,\"errors\":%llu", static_cast<unsigned long long>(r.preload_keys),
          static_cast<unsigned long long>(r.preload_errors));
  j += ",\"seconds\":" + Num(r.preload_s) + "}";
  j += std::string(",\"noisy\":") + (noisy ? "true" : "false");
  j += ",\"window_s\":" + Num(p.window_s) + ",\"stop_reason\":" + JsonString(p.stop_reason);
  Appendf(&j, ",\"ops\":%llu,\"issued\":%llu,\"samples\":%llu",
          static_cast<unsigned long long>(p.replies_in_window),
          static_cast<unsigned long long>(p.issued),
          static_cast<unsigned long long>(p.latency_ns.count()));
  j += ",\"ops_per_s\":" + Num(d.ops);
  j += ",\"latency_us\":{\"p50\":" + Num(d.p50) +
       ",\"p90\":" + Num(Us(p.latency_ns.Percentile(0.90))) + ",\"p99\":" + Num(d.p99) +
       ",\"p999\":" + Num(d.p999) + ",\"max\":" + Num(d.max) + ",\"mean\":" + Num(d.mean) +
       ",\"min\":" + Num(Us(p.latency_ns.min())) + "}";
  Appendf(&j, ",\"gets\":%llu,\"sets\":%llu,\"hits\":%llu,\"misses\":%llu",
          static_cast<unsigned long long>(p.gets), static_cast<unsigned long long>(p.sets),
          static_cast<unsigned long long>(p.hits), static_cast<unsigned long long>(p.misses));
  Appendf(&j,
          ",\"errors\":{\"total\":%llu,\"server\":%llu,\"warmup\":%llu,\"msgid_mismatch\":%llu,"
          "\"protocol\":%llu,\"lost\":%llu,\"conns_closed\":%llu,\"preload\":%llu}",
          static_cast<unsigned long long>(r.Errors()),
          static_cast<unsigned long long>(p.server_errors),
          static_cast<unsigned long long>(p.warmup_errors),
          static_cast<unsigned long long>(p.msgid_mismatch),
          static_cast<unsigned long long>(p.protocol_errors),
          static_cast<unsigned long long>(p.lost), static_cast<unsigned long long>(p.conns_closed),
          static_cast<unsigned long long>(r.preload_errors));
  Appendf(&j, ",\"notifications\":%llu", static_cast<unsigned long long>(p.notifications));
  j += ",\"cpu\":{\"client_s\":" + Num(r.client_cpu_s) +
       ",\"server_s\":" + Num(r.server_cpu_s, r.server_cpu_s >= 0) +
       ",\"server_children_s\":" + Num(r.server_child_cpu_s, r.server_cpu_s >= 0) +
       ",\"system_busy_s\":" + Num(r.system_busy_s) + ",\"cores\":" + Num(d.cores) +
       ",\"client_us_per_op\":" + Num(d.cli_us) +
       ",\"server_us_per_op\":" + Num(d.srv_us, d.srv_us >= 0) +
       ",\"client_pct\":" + Num(d.cli_pct) + ",\"server_pct\":" + Num(d.srv_pct, d.srv_pct >= 0) +
       ",\"other_pct\":" + Num(d.other_pct) + "}";
  j += ",\"little\":{\"throughput_x_mean_latency\":" + Num(d.little_measured) +
       ",\"connections_x_depth\":" + Num(d.little_expected) +
       ",\"ratio\":" + Num(d.little_expected > 0 ? d.little_measured / d.little_expected : 0) + "}";
  j += "}";
  printf("%s\n", j.c_str());
  fflush(stdout);
}

void PrintSummary(const std::vector<RunRecord>& runs, const Options& o) {
  struct TargetStats {
    std::string name;
    Stat ops, p50, p99, p999, cli, srv;
    int n = 0;
  };
  std::vector<TargetStats> stats;
  for (const char* name : {"strata", "redis"}) {
    std::vector<double> ops, p50, p99, p999, cli, srv;
    for (const RunRecord& r : runs) {
      if (r.target != name || !r.ok) continue;
      const Derived d = Derive(r, o);
      ops.push_back(d.ops);
      p50.push_back(d.p50);
      p99.push_back(d.p99);
      p999.push_back(d.p999);
      cli.push_back(d.cli_us);
      if (d.srv_us >= 0) srv.push_back(d.srv_us);
    }
    if (ops.empty()) continue;
    TargetStats t;
    t.name = name;
    t.n = static_cast<int>(ops.size());
    t.ops = Summarize(ops);
    t.p50 = Summarize(p50);
    t.p99 = Summarize(p99);
    t.p999 = Summarize(p999);
    t.cli = Summarize(cli);
    t.srv = Summarize(srv);
    stats.push_back(t);
  }
  if (stats.empty()) {
    printf("no successful runs\n");
    return;
  }
  printf("\nsummary: median [min .. max] over the successful runs of each target\n");
  for (const TargetStats& t : stats) {
    printf(
        "  %-6s n=%d  ops/s %.0f [%.0f .. %.0f]  p50 %.1f [%.1f .. %.1f] us  "
        "p99 %.1f [%.1f .. %.1f] us  p99.9 %.1f [%.1f .. %.1f] us  cli_us/op %.2f",
        t.name.c_str(), t.n, t.ops.median, t.ops.lo, t.ops.hi, t.p50.median, t.p50.lo, t.p50.hi,
        t.p99.median, t.p99.lo, t.p99.hi, t.p999.median, t.p999.lo, t.p999.hi, t.cli.median);
    if (std::isfinite(t.srv.median)) {
      printf("  srv_us/op %.2f [%.2f .. %.2f]", t.srv.median, t.srv.lo, t.srv.hi);
    }
    printf("\n");
  }
  std::string j = "JSON {\"type\":\"summary\"";
  for (const TargetStats& t : stats) {
    Appendf(&j, ",\"%s\":{\"runs\":%d", t.name.c_str(), t.n);
    for (auto [key, s] :
         {std::pair{"ops_per_s", t.ops}, std::pair{"p50_us", t.p50}, std::pair{"p99_us", t.p99},
          std::pair{"p999_us", t.p999}, std::pair{"client_us_per_op", t.cli},
          std::pair{"server_us_per_op", t.srv}}) {
      Appendf(&j, ",\"%s\":{\"median\":%s,\"min\":%s,\"max\":%s}", key, Num(s.median).c_str(),
              Num(s.lo).c_str(), Num(s.hi).c_str());
    }
    j += "}";
  }
  if (stats.size() == 2) {
    const TargetStats& s = stats[0];
    const TargetStats& r = stats[1];
    const double ops = s.ops.median / r.ops.median;
    const double p50 = s.p50.median / r.p50.median;
    const double p99 = s.p99.median / r.p99.median;
    const double srv = s.srv.median / r.srv.median;
    printf("RATIO strata/redis ops/s=%.3f p50=%.3f p99=%.3f", ops, p50, p99);
    if (std::isfinite(srv)) printf(" srv_us/op=%.3f", srv);
    printf("  (medians; ops/s > 1 and latency < 1 favour strata)\n");
    j += ",\"ratio_strata_over_redis\":{\"ops_per_s\":" + Num(ops) + ",\"p50\":" + Num(p50) +
         ",\"p99\":" + Num(p99) + ",\"server_us_per_op\":" + Num(srv) + "}";
  }
  j += "}";
  printf("%s\n", j.c_str());
  fflush(stdout);
}

}  // namespace strata::bench
