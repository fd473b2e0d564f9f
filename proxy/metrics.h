// Metrics snapshot and its three renderings: Prometheus text (GET /metrics),
// the flat name→number map (msgpack `stats`, GET /stats) and that map as JSON.
//
// A scrape builds one MetricsSnapshot from the modules' counters, gauges and
// (merged per-thread) histogram data, then renders it; nothing here reads a
// live counter. Families keep the order they were added in.
//
//   MetricsSnapshot snap;
//   snap.Counter("l1_hits", "L1 lookups that found a live entry").Set(hits);
//   snap.Counter("requests", "Requests handled", "requests_total")
//       .Set({{"method", "get"}, {"result", "ok"}}, n);
//   snap.Histogram("request_duration_seconds", "Request latency", 1e-9,
//                  Edges125(10'000, 1'000'000'000))  // 10 us .. 1 s, in ns
//       .Set({{"method", "get"}}, merged);
//
// Names: a family's name has no `strata_` prefix and, for counters, no
// `_total` suffix; the Prometheus renderer adds both. Invalid characters in
// metric and label names are replaced by '_' (and a leading digit gets a '_'
// prefix) when the family or point is added, so every rendering is valid.
//
// Thread affinity: none; a snapshot is plain data owned by whoever built it.
// References returned by the builders stay valid for the snapshot's lifetime.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "common/histogram.h"

namespace strata {

enum class MetricType { kCounter, kGauge, kHistogram };

struct MetricLabel {
  std::string name, value;
};

struct MetricPoint {
  std::vector<MetricLabel> labels;
  double value = 0;    // counters and gauges
  HistogramData hist;  // histograms, in the recorded unit
};

struct MetricFamily {
  std::string name;  // e.g. "l1_hits", "requests"; no strata_ prefix, no _total
  std::string help;
  MetricType type = MetricType::kGauge;
  // FlatStats key for the unlabeled point, when it must differ from `name`
  // (e.g. the existing "requests_total"). Labeled points always use `name`.
  std::string flat_name;
  // Histograms: exposed value = recorded value × scale (1e-9: ns → seconds).
  double scale = 1;
  // Histograms: the `le` edges exposed, in the recorded unit, ascending; each
  // satisfies IsHistogramEdge (1/2/5·10^k are the usual picks). +Inf is implied.
  std::vector<uint64_t> le_edges;
  std::vector<MetricPoint> points;

  // Counters and gauges. Labels are given as {{"name", "value"}, ...}.
  MetricFamily& Set(double value);
  MetricFamily& Set(std::vector<MetricLabel> labels, double value);
  // Histograms.
  MetricFamily& Set(const HistogramData& hist);
  MetricFamily& Set(std::vector<MetricLabel> labels, const HistogramData& hist);
};

class MetricsSnapshot {
 public:
  // Each returns the family of that name, creating it on first use; later
  // calls with the same name add points to the same family.
  // REQUIRES: a name is always used with the same type.
  MetricFamily& Counter(std::string name, std::string help, std::string flat_name = "");
  MetricFamily& Gauge(std::string name, std::string help, std::string flat_name = "");
  // REQUIRES: every edge satisfies IsHistogramEdge (asserted); they are sorted
  // and deduplicated here.
  MetricFamily& Histogram(std::string name, std::string help, double scale,
                          std::vector<uint64_t> le_edges);

  const std::deque<MetricFamily>& families() const { return families_; }

 private:
  MetricFamily& Family(std::string name, std::string help, MetricType type,
                       std::string flat_name);

  std::deque<MetricFamily> families_;  // deque: builder references stay valid
};

// 1/2/5·10^k edges in [lo, hi], ascending: Edges125(1000, 10000) is
// {1000, 2000, 5000, 10000}.
std::vector<uint64_t> Edges125(uint64_t lo, uint64_t hi);

// Prometheus text exposition format 0.0.4 (Content-Type
// "text/plain; version=0.0.4; charset=utf-8").
std::string RenderPrometheus(const MetricsSnapshot& snap);

// The flat map of `stats`. Keys: an unlabeled counter or gauge is its
// flat_name, else its name (no "_total" added); a labeled point is
// name + "_" + its label values joined by "_" (requests{method=get,result=ok}
// → "requests_get_ok"); a histogram point yields <key>_count, _sum, _p50,
// _p90, _p99 and _p999, the last five in the exposed unit (× scale).
std::vector<std::pair<std::string, double>> FlatStats(const MetricsSnapshot& snap);

// A flat map as one compact JSON object. NaN and infinities become null.
std::string RenderJson(const std::vector<std::pair<std::string, double>>& flat);

// The number formatting both renderers use: integral values below 1e21 print
// as integers ("1234567"), others in the shortest form that reads back
// exactly ("0.25", "1e-06"). Non-finite values give "NaN", "+Inf", "-Inf".
std::string FormatMetricNumber(double v);

}  // namespace strata
