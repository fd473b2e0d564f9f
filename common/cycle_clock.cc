#include "common/cycle_clock.h"

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "common/clock.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace strata {

namespace {

struct Calibration {
  bool tsc = false;
  double ns_per_tick = 1.0;
};

bool ClocksourceIsTsc() {
  std::ifstream f("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string name;
  return static_cast<bool>(f >> name) && name == "tsc";
}

const Calibration& Calibrated() {
  static const Calibration c = [] {
    Calibration out;
#if defined(__x86_64__)
    if (!ClocksourceIsTsc()) return out;
    const int64_t ns0 = MonotonicNs();
    const uint64_t t0 = __rdtsc();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    const int64_t ns1 = MonotonicNs();
    const uint64_t t1 = __rdtsc();
    if (t1 > t0 && ns1 > ns0) {
      out.tsc = true;
      out.ns_per_tick = static_cast<double>(ns1 - ns0) / static_cast<double>(t1 - t0);
    }
#endif
    return out;
  }();
  return c;
}

}  // namespace

uint64_t CycleClock::Now() {
#if defined(__x86_64__)
  if (Calibrated().tsc) return __rdtsc();
#endif
  return static_cast<uint64_t>(MonotonicNs());
}

uint64_t CycleClock::ToNs(uint64_t start, uint64_t end) {
  if (end <= start) return 0;
  const Calibration& c = Calibrated();
  if (!c.tsc) return end - start;
  return static_cast<uint64_t>(static_cast<double>(end - start) * c.ns_per_tick);
}

bool CycleClock::UsesTsc() { return Calibrated().tsc; }

}  // namespace strata
