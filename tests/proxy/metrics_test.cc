#include "proxy/metrics.h"

#include <catch2/catch.hpp>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace strata {
namespace {

HistogramData LatencyData() {
  Histogram h;
  for (uint64_t ns : {500, 1000, 1500, 4000, 2'000'000}) h.Record(ns);
  return h.Snapshot();
}

MetricsSnapshot SmallSnapshot() {
  MetricsSnapshot snap;
  snap.Counter("requests", "Requests handled, by method and result")
      .Set({{"method", "get"}, {"result", "ok"}}, 1234567)
      .Set({{"method", "set"}, {"result", "error"}}, 3);
  snap.Counter("errors", "Requests answered with an error", "errors_total").Set(2);
  snap.Counter("l1_hits", "L1 lookups that found a live entry").Set(40);
  snap.Gauge("l1_bytes", "Bytes held in L1").Set(1048576);
  snap.Gauge("load", "A fraction").Set(0.25);
  snap.Histogram("request_duration_seconds", "Request latency", 1e-9, {5000, 1000, 2000})
      .Set({{"method", "get"}}, LatencyData());
  return snap;
}

TEST_CASE("Prometheus text of a small snapshot", "[metrics]") {
  CHECK(RenderPrometheus(SmallSnapshot()) ==
        "# HELP strata_requests_total Requests handled, by method and result\n"
        "# TYPE strata_requests_total counter\n"
        "strata_requests_total{method=\"get\",result=\"ok\"} 1234567\n"
        "strata_requests_total{method=\"set\",result=\"error\"} 3\n"
        "# HELP strata_errors_total Requests answered with an error\n"
        "# TYPE strata_errors_total counter\n"
        "strata_errors_total 2\n"
        "# HELP strata_l1_hits_total L1 lookups that found a live entry\n"
        "# TYPE strata_l1_hits_total counter\n"
        "strata_l1_hits_total 40\n"
        "# HELP strata_l1_bytes Bytes held in L1\n"
        "# TYPE strata_l1_bytes gauge\n"
        "strata_l1_bytes 1048576\n"
        "# HELP strata_load A fraction\n"
        "# TYPE strata_load gauge\n"
        "strata_load 0.25\n"
        "# HELP strata_request_duration_seconds Request latency\n"
        "# TYPE strata_request_duration_seconds histogram\n"
        "strata_request_duration_seconds_bucket{method=\"get\",le=\"1e-06\"} 2\n"
        "strata_request_duration_seconds_bucket{method=\"get\",le=\"2e-06\"} 3\n"
        "strata_request_duration_seconds_bucket{method=\"get\",le=\"5e-06\"} 4\n"
        "strata_request_duration_seconds_bucket{method=\"get\",le=\"+Inf\"} 5\n"
        "strata_request_duration_seconds_sum{method=\"get\"} 0.002007\n"
        "strata_request_duration_seconds_count{method=\"get\"} 5\n");
}

TEST_CASE("a family named twice gets one HELP/TYPE and both points", "[metrics]") {
  MetricsSnapshot snap;
  snap.Gauge("connections", "Open connections").Set({{"worker", "0"}}, 3);
  snap.Gauge("connections", "Open connections").Set({{"worker", "1"}}, 4);
  CHECK(snap.families().size() == 1);
  CHECK(RenderPrometheus(snap) ==
        "# HELP strata_connections Open connections\n"
        "# TYPE strata_connections gauge\n"
        "strata_connections{worker=\"0\"} 3\n"
        "strata_connections{worker=\"1\"} 4\n");
}

TEST_CASE("label values and HELP text are escaped; bad names sanitized", "[metrics]") {
  MetricsSnapshot snap;
  snap.Gauge("odd-name.x", "line1\nback\\slash \"q\"")
      .Set({{"0bad-label", "a\"b\\c\nd"}, {"ok_label", "plain"}}, 1);
  CHECK(RenderPrometheus(snap) ==
        "# HELP strata_odd_name_x line1\\nback\\\\slash \"q\"\n"
        "# TYPE strata_odd_name_x gauge\n"
        "strata_odd_name_x{_0bad_label=\"a\\\"b\\\\c\\nd\",ok_label=\"plain\"} 1\n");
}

TEST_CASE("numbers: integers without exponent, fractions round-trip", "[metrics]") {
  CHECK(FormatMetricNumber(0) == "0");
  CHECK(FormatMetricNumber(-0.0) == "0");
  CHECK(FormatMetricNumber(-5) == "-5");
  CHECK(FormatMetricNumber(1234567) == "1234567");
  CHECK(FormatMetricNumber(1e20) == "100000000000000000000");
  CHECK(FormatMetricNumber(18446744073709551615.0) == "18446744073709551616");
  CHECK(FormatMetricNumber(1e21) == "1e+21");
  CHECK(FormatMetricNumber(0.1) == "0.1");
  CHECK(FormatMetricNumber(0.25) == "0.25");
  CHECK(FormatMetricNumber(1e-9) == "1e-09");
  CHECK(FormatMetricNumber(1.0 / 3) == "0.3333333333333333");
  CHECK(FormatMetricNumber(std::nan("")) == "NaN");
  CHECK(FormatMetricNumber(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(FormatMetricNumber(-std::numeric_limits<double>::infinity()) == "-Inf");
  for (double v : {0.1, 1.0 / 3, 2.5e-7, 123.456, 6.02e23}) {
    CHECK(std::stod(FormatMetricNumber(v)) == v);
  }
}

TEST_CASE("Edges125 lists 1/2/5 edges, all exact bucket edges", "[metrics]") {
  CHECK(Edges125(1000, 10000) == std::vector<uint64_t>{1000, 2000, 5000, 10000});
  CHECK(Edges125(3, 30) == std::vector<uint64_t>{5, 10, 20});
  std::vector<uint64_t> all = Edges125(0, UINT64_MAX);
  CHECK(all.size() == 34);  // 1, 2, 5 for 10^0..10^10, and 10^11
  CHECK(all.back() == kHistogramMaxEdge);
  for (uint64_t e : all) CHECK(IsHistogramEdge(e));
}

// Splits "name{labels} value" into name+labels and value.
std::vector<std::pair<std::string, double>> Samples(const std::string& text) {
  std::vector<std::pair<std::string, double>> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.rfind(' ');
    out.emplace_back(line.substr(0, sp), std::stod(line.substr(sp + 1)));
  }
  return out;
}

TEST_CASE("histogram buckets are cumulative and +Inf equals _count", "[metrics]") {
  Histogram h;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 100'000; ++i) h.Record(rng() >> (rng() % 64));
  MetricsSnapshot snap;
  snap.Histogram("batch_records", "Records per batch", 1, Edges125(1, kHistogramMaxEdge)).Set(
      h.Snapshot());
  std::string text = RenderPrometheus(snap);
  double prev = 0, count = -1, inf = -2;
  int buckets = 0;
  for (const auto& [series, value] : Samples(text)) {
    if (series.rfind("strata_batch_records_bucket{", 0) == 0) {
      ++buckets;
      INFO(series);
      CHECK(value >= prev);
      prev = value;
      if (series.find("le=\"+Inf\"") != std::string::npos) inf = value;
    } else if (series == "strata_batch_records_count") {
      count = value;
    }
  }
  CHECK(buckets == 35);
  CHECK(count == 100'000);
  CHECK(inf == count);
  CHECK(text.find("le=\"1\"}") != std::string::npos);
  CHECK(text.find("le=\"100000000000\"}") != std::string::npos);
}

TEST_CASE("FlatStats keys and values", "[metrics]") {
  std::map<std::string, double> flat;
  std::vector<std::string> order;
  for (const auto& [k, v] : FlatStats(SmallSnapshot())) {
    CHECK(flat.count(k) == 0);
    flat[k] = v;
    order.push_back(k);
  }
  CHECK(order == std::vector<std::string>{
                     "requests_get_ok", "requests_set_error", "errors_total", "l1_hits",
                     "l1_bytes", "load", "request_duration_seconds_get_count",
                     "request_duration_seconds_get_sum", "request_duration_seconds_get_p50",
                     "request_duration_seconds_get_p90", "request_duration_seconds_get_p99",
                     "request_duration_seconds_get_p999"});
  CHECK(flat["requests_get_ok"] == 1234567);
  CHECK(flat["errors_total"] == 2);
  CHECK(flat["load"] == 0.25);
  CHECK(flat["request_duration_seconds_get_count"] == 5);
  CHECK(flat["request_duration_seconds_get_sum"] == 0.002007);
  HistogramData d = LatencyData();
  CHECK(flat["request_duration_seconds_get_p50"] == Approx(d.Percentile(0.5) * 1e-9));
  CHECK(flat["request_duration_seconds_get_p50"] == Approx(1.5e-6));
  CHECK(flat["request_duration_seconds_get_p999"] == Approx(d.Percentile(0.999) * 1e-9));
  CHECK(flat["request_duration_seconds_get_p999"] > 1e-3);  // the 2 ms outlier's bucket
}

// A checker for exactly what RenderJson promises: one flat object of
// "string": number-or-null. Returns the number of members, or -1.
int CheckFlatJson(const std::string& s) {
  size_t i = 0;
  auto expect = [&](char c) { return i < s.size() && s[i++] == c; };
  if (!expect('{')) return -1;
  int members = 0;
  if (i < s.size() && s[i] == '}') return ++i == s.size() ? 0 : -1;
  for (;;) {
    if (!expect('"')) return -1;
    while (i < s.size() && s[i] != '"') {
      unsigned char c = static_cast<unsigned char>(s[i++]);
      if (c < 0x20) return -1;
      if (c == '\\') {
        if (i >= s.size()) return -1;
        char e = s[i++];
        if (e == 'u') {
          for (int k = 0; k < 4; ++k) {
            if (i >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i++]))) return -1;
          }
        } else if (std::string("\"\\/bfnrt").find(e) == std::string::npos) {
          return -1;
        }
      }
    }
    if (!expect('"') || !expect(':')) return -1;
    if (s.compare(i, 4, "null") == 0) {
      i += 4;
    } else {  // -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
      if (i < s.size() && s[i] == '-') ++i;
      if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) return -1;
      if (s[i] == '0') {
        ++i;
      } else {
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      }
      if (i < s.size() && s[i] == '.') {
        ++i;
        if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) return -1;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      }
      if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) return -1;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      }
    }
    ++members;
    if (i < s.size() && s[i] == ',') {
      ++i;
      continue;
    }
    return expect('}') && i == s.size() ? members : -1;
  }
}

TEST_CASE("RenderJson: exact text, escapes, null for non-finite", "[metrics]") {
  CHECK(RenderJson({}) == "{}");
  std::string json = RenderJson({{"a", 1},
                                 {"b\"q\\", 0.5},
                                 {"nan", std::nan("")},
                                 {"inf", -std::numeric_limits<double>::infinity()},
                                 {std::string("ctl\x01\n"), 2},
                                 {"tiny", 1e-9},
                                 {"big", 1e300}});
  CHECK(json ==
        "{\"a\":1,\"b\\\"q\\\\\":0.5,\"nan\":null,\"inf\":null,\"ctl\\u0001\\n\":2,"
        "\"tiny\":1e-09,\"big\":1e+300}");
  CHECK(CheckFlatJson(json) == 7);
  CHECK(CheckFlatJson("{\"a\":1,}") == -1);  // the checker does reject bad JSON
  CHECK(CheckFlatJson("{\"a\":NaN}") == -1);
  CHECK(CheckFlatJson(RenderJson(FlatStats(SmallSnapshot()))) == 12);
}

}  // namespace
}  // namespace strata
