// Sizes and durations as people write them: "512MiB", "16 KiB", "1GB",
// "250ms", "10s", "5m", "1h".
//
//   ParseSize: a non-negative integer and an optional unit. B, KB, MB, GB, TB
//     count in powers of 1000; KiB, MiB, GiB, TiB in powers of 1024. No unit
//     means bytes. The unit is case-insensitive; spaces may separate it from
//     the number.
//   ParseDuration: a non-negative integer and an optional unit, one of ms, s,
//     m, h (case-insensitive). No unit means milliseconds; "0" is allowed.
//
// Fractions ("1.5GiB"), signs, ambiguous units ("1k") and values that do not
// fit are rejected. An error message says what is wrong with the text but not
// which setting it was for: callers add that (see proxy/config.cc).
//
// FormatSize and FormatDuration pick the largest unit that states the value
// exactly (268435456 -> "256MiB", 10000 -> "10s", 250 -> "250ms"), and their
// output parses back to the same number.
//
// Thread affinity: none; pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace strata {

// Bytes. Errors are BadArgs.
StatusOr<uint64_t> ParseSize(std::string_view text);

// Milliseconds. Errors are BadArgs.
StatusOr<int64_t> ParseDuration(std::string_view text);

// "0", "1500B", "16KB", "256MiB", ...: the exact value in the largest unit
// that divides it.
std::string FormatSize(uint64_t bytes);

// "0", "250ms", "10s", "5m", "2h". A negative value gets a leading "-"
// (ParseDuration does not accept it back).
std::string FormatDuration(int64_t ms);

}  // namespace strata
