#include "cli/output.h"

#include <cmath>
#include <cstdio>

namespace strata::cli {

std::string Escape(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

std::string FormatStats(const std::map<std::string, double>& stats) {
  size_t width = 0;
  for (const auto& [name, v] : stats) width = std::max(width, name.size());
  std::string out;
  for (const auto& [name, v] : stats) {
    char num[64];
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e18) {
      std::snprintf(num, sizeof(num), "%lld", static_cast<long long>(v));
    } else {
      std::snprintf(num, sizeof(num), "%.6g", v);
    }
    out += name;
    out.append(width - name.size() + 2, ' ');
    out += num;
    out += '\n';
  }
  return out;
}

}  // namespace strata::cli
