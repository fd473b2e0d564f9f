#include "proxy/metrics.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace strata {
namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Family names are always rendered behind "strata_", so a leading digit is fine.
// (push_back rather than assigning or inserting a literal: GCC 12 at -O3
// raises a false -Wrestrict on those.)
std::string SanitizeMetricName(std::string name) {
  if (name.empty()) name.push_back('_');
  for (char& c : name) {
    if (!IsAlpha(c) && !IsDigit(c) && c != '_' && c != ':') c = '_';
  }
  return name;
}

std::string SanitizeLabelName(std::string name) {
  for (char& c : name) {
    if (!IsAlpha(c) && !IsDigit(c) && c != '_') c = '_';
  }
  if (name.empty() || IsDigit(name[0])) {
    std::string prefixed(1, '_');
    prefixed += name;
    return prefixed;
  }
  return name;
}

std::vector<MetricLabel> SanitizeLabels(std::vector<MetricLabel> labels) {
  for (MetricLabel& l : labels) l.name = SanitizeLabelName(std::move(l.name));
  return labels;
}

// v × scale, computed as v / (1/scale) when 1/scale is an integer, so that
// 1000 ns × 1e-9 is exactly the double nearest 1e-06 (1000 × 1e-9 is not).
double Scaled(double v, double scale) {
  if (scale > 0 && scale < 1) {
    double inv = std::round(1 / scale);
    if (std::fabs(inv * scale - 1) < 1e-12) return v / inv;
  }
  return v * scale;
}

bool EndsWith(const std::string& s, const char* suffix) {
  size_t n = std::char_traits<char>::length(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

void AppendEscaped(std::string* out, const std::string& s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '\n') {
      *out += "\\n";
    } else if (quote && c == '"') {
      *out += "\\\"";
    } else {
      *out += c;
    }
  }
}

// {a="x",b="y"} plus an optional trailing le; nothing when there are no labels.
void AppendLabels(std::string* out, const std::vector<MetricLabel>& labels,
                  const std::string* le = nullptr) {
  if (labels.empty() && !le) return;
  *out += '{';
  bool first = true;
  for (const MetricLabel& l : labels) {
    if (!first) *out += ',';
    first = false;
    *out += l.name;
    *out += "=\"";
    AppendEscaped(out, l.value, true);
    *out += '"';
  }
  if (le) {
    if (!first) *out += ',';
    *out += "le=\"";
    *out += *le;
    *out += '"';
  }
  *out += '}';
}

void AppendSample(std::string* out, const std::string& name,
                  const std::vector<MetricLabel>& labels, double value,
                  const std::string* le = nullptr) {
  *out += name;
  AppendLabels(out, labels, le);
  *out += ' ';
  *out += FormatMetricNumber(value);
  *out += '\n';
}

const char* TypeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string FormatMetricNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::trunc(v) && std::fabs(v) < 1e21) {
    if (v == 0) return "0";  // also -0
    int n = std::snprintf(buf, sizeof buf, "%.0f", v);
    return std::string(buf, size_t(n));
  }
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip
  return std::string(buf, r.ptr);
}

MetricFamily& MetricFamily::Set(double value) { return Set({}, value); }

MetricFamily& MetricFamily::Set(std::vector<MetricLabel> labels, double value) {
  assert(type != MetricType::kHistogram);
  MetricPoint& p = points.emplace_back();
  p.labels = SanitizeLabels(std::move(labels));
  p.value = value;
  return *this;
}

MetricFamily& MetricFamily::Set(const HistogramData& hist) { return Set({}, hist); }

MetricFamily& MetricFamily::Set(std::vector<MetricLabel> labels, const HistogramData& hist) {
  assert(type == MetricType::kHistogram);
  MetricPoint& p = points.emplace_back();
  p.labels = SanitizeLabels(std::move(labels));
  for (const MetricLabel& l : p.labels) {
    assert(l.name != "le");  // reserved for buckets
    (void)l;
  }
  p.hist = hist;
  return *this;
}

MetricFamily& MetricsSnapshot::Family(std::string name, std::string help, MetricType type,
                                      std::string flat_name) {
  name = SanitizeMetricName(std::move(name));
  for (MetricFamily& f : families_) {
    if (f.name == name) {
      assert(f.type == type);
      return f;
    }
  }
  MetricFamily& f = families_.emplace_back();
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  f.flat_name = std::move(flat_name);
  return f;
}

MetricFamily& MetricsSnapshot::Counter(std::string name, std::string help,
                                       std::string flat_name) {
  return Family(std::move(name), std::move(help), MetricType::kCounter, std::move(flat_name));
}

MetricFamily& MetricsSnapshot::Gauge(std::string name, std::string help, std::string flat_name) {
  return Family(std::move(name), std::move(help), MetricType::kGauge, std::move(flat_name));
}

MetricFamily& MetricsSnapshot::Histogram(std::string name, std::string help, double scale,
                                         std::vector<uint64_t> le_edges) {
  size_t before = families_.size();
  MetricFamily& f = Family(std::move(name), std::move(help), MetricType::kHistogram, "");
  if (families_.size() != before) {  // first use: later calls keep these edges
    std::sort(le_edges.begin(), le_edges.end());
    le_edges.erase(std::unique(le_edges.begin(), le_edges.end()), le_edges.end());
    for (uint64_t e : le_edges) {
      assert(IsHistogramEdge(e));
      (void)e;
    }
    f.scale = scale;
    f.le_edges = std::move(le_edges);
  }
  return f;
}

std::vector<uint64_t> Edges125(uint64_t lo, uint64_t hi) {
  std::vector<uint64_t> out;
  for (uint64_t p = 1; p <= kHistogramMaxEdge; p *= 10) {
    for (uint64_t d : {1, 2, 5}) {
      uint64_t e = d * p;
      if (e >= lo && e <= hi && e <= kHistogramMaxEdge) out.push_back(e);
    }
  }
  return out;
}

std::string RenderPrometheus(const MetricsSnapshot& snap) {
  std::string out;
  for (const MetricFamily& f : snap.families()) {
    std::string name = "strata_" + f.name;
    if (f.type == MetricType::kCounter && !EndsWith(name, "_total")) name += "_total";
    out += "# HELP " + name + ' ';
    AppendEscaped(&out, f.help, false);
    out += "\n# TYPE " + name + ' ' + TypeName(f.type) + '\n';
    if (f.type != MetricType::kHistogram) {
      for (const MetricPoint& p : f.points) AppendSample(&out, name, p.labels, p.value);
      continue;
    }
    std::vector<std::string> les;
    for (uint64_t e : f.le_edges) les.push_back(FormatMetricNumber(Scaled(double(e), f.scale)));
    const std::string inf = "+Inf";
    for (const MetricPoint& p : f.points) {
      for (size_t i = 0; i < les.size(); ++i) {
        AppendSample(&out, name + "_bucket", p.labels, double(p.hist.CountAtOrBelow(f.le_edges[i])),
                     &les[i]);
      }
      AppendSample(&out, name + "_bucket", p.labels, double(p.hist.count), &inf);
      AppendSample(&out, name + "_sum", p.labels, Scaled(double(p.hist.sum), f.scale));
      AppendSample(&out, name + "_count", p.labels, double(p.hist.count));
    }
  }
  return out;
}

std::vector<std::pair<std::string, double>> FlatStats(const MetricsSnapshot& snap) {
  std::vector<std::pair<std::string, double>> out;
  for (const MetricFamily& f : snap.families()) {
    for (const MetricPoint& p : f.points) {
      std::string key = p.labels.empty() && !f.flat_name.empty() ? f.flat_name : f.name;
      for (const MetricLabel& l : p.labels) key += '_' + l.value;
      if (f.type != MetricType::kHistogram) {
        out.emplace_back(std::move(key), p.value);
        continue;
      }
      const HistogramData& h = p.hist;
      out.emplace_back(key + "_count", double(h.count));
      out.emplace_back(key + "_sum", Scaled(double(h.sum), f.scale));
      out.emplace_back(key + "_p50", Scaled(h.Percentile(0.50), f.scale));
      out.emplace_back(key + "_p90", Scaled(h.Percentile(0.90), f.scale));
      out.emplace_back(key + "_p99", Scaled(h.Percentile(0.99), f.scale));
      out.emplace_back(key + "_p999", Scaled(h.Percentile(0.999), f.scale));
    }
  }
  return out;
}

std::string RenderJson(const std::vector<std::pair<std::string, double>>& flat) {
  std::string out = "{";
  for (const auto& [key, value] : flat) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (unsigned char c : key) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += char(c);
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out += char(c);
      }
    }
    out += "\":";
    out += std::isfinite(value) ? FormatMetricNumber(value) : "null";
  }
  out += '}';
  return out;
}

}  // namespace strata
