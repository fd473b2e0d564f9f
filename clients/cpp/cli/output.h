// How strata-cli prints results. Values go raw to a pipe or file (so binary
// data round-trips) and escaped on a terminal: printable ASCII as is,
// backslash as "\\", everything else as \xNN.
//
// Thread affinity: none; pure functions.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace strata::cli {

std::string Escape(std::string_view bytes);

// One "name  value" line per counter, sorted by name, values aligned in one
// column. Whole numbers print without a fraction.
std::string FormatStats(const std::map<std::string, double>& stats);

}  // namespace strata::cli
