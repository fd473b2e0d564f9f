#include "common/cycle_clock.h"

#include <fstream>
#include <string>

namespace strata {

namespace cycle_clock_internal {
bool use_tsc = false;
double ns_per_tick = 1.0;
}  // namespace cycle_clock_internal

namespace {

bool ClocksourceIsTsc() {
  std::ifstream f("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string name;
  return static_cast<bool>(f >> name) && name == "tsc";
}

// Measures TSC ticks against CLOCK_MONOTONIC over ~200 µs (a read of either
// costs tens of ns, so the factor is good to about 0.05%).
bool Calibrate() {
#if defined(__x86_64__)
  if (!ClocksourceIsTsc()) return false;
  const int64_t ns0 = MonotonicNs();
  const uint64_t t0 = __builtin_ia32_rdtsc();
  int64_t ns1 = ns0;
  while (ns1 - ns0 < 200'000) ns1 = MonotonicNs();
  const uint64_t t1 = __builtin_ia32_rdtsc();
  if (t1 <= t0) return false;
  cycle_clock_internal::ns_per_tick =
      static_cast<double>(ns1 - ns0) / static_cast<double>(t1 - t0);
  cycle_clock_internal::use_tsc = true;
  return true;
#else
  return false;
#endif
}

[[maybe_unused]] const bool kCalibrated = Calibrate();

}  // namespace

}  // namespace strata
