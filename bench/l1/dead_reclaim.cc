// l1-dead-reclaim: what an insert costs when eviction finds that dead
// (deleted or overwritten) entries hold over 1/8 of a shard's bytes and
// reclaims them under the shard lock first (L1Shard::EvictOne: a sweep step
// of up to 128 entries that resumes where the previous one stopped; before
// cc2626e, one pass over the whole shard).
//
//   l1-dead-reclaim [--entries=1000000] [--erase-every=7] [--inserts=200000] [--shards=0]
//
// Fills a cache whose budget binds at about `entries` entries, erases every
// erase-every-th key among the newest `entries` (0 = erase nothing: the
// baseline), then inserts `inserts` new keys and times each one in thread
// CPU time (so being descheduled on this shared VM does not count) and in
// wall time (TSC). An insert counts as a stall only if both are >= 100 us:
// on this VM the thread CPU clock occasionally jumps (see RESULTS.md).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "bench/l1/keys.h"
#include "bench/l1/tsc.h"
#include "tiers/l1_cache.h"

using namespace strata;
using namespace strata::l1bench;

namespace {

bool Flag(const char* arg, const char* name, const char** value) {
  size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  *value = arg + n + 1;
  return true;
}

double Pct(const std::vector<double>& sorted, double q) {
  return sorted[std::min(sorted.size() - 1, size_t(q * double(sorted.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t entries = 1'000'000, erase_every = 7, inserts = 200'000, shards = 0;
  for (int i = 1; i < argc; ++i) {
    const char* v;
    if (Flag(argv[i], "--entries", &v)) entries = std::strtoull(v, nullptr, 10);
    else if (Flag(argv[i], "--erase-every", &v)) erase_every = std::strtoull(v, nullptr, 10);
    else if (Flag(argv[i], "--inserts", &v)) inserts = std::strtoull(v, nullptr, 10);
    else if (Flag(argv[i], "--shards", &v)) shards = std::strtoull(v, nullptr, 10);
    else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (entries < 1000 || entries + entries / 5 + inserts > 4'000'000'000ull) return 2;
  ManualClock clock;
  L1Options opt;
  opt.max_bytes = entries * 97;  // ~97 B per 16+32-byte entry (RESULTS.md, section 3)
  opt.shards = uint32_t(shards);
  opt.clock = &clock;
  L1Cache cache(opt);
  char key[16];
  bool applied;
  const uint64_t fill = entries + entries / 5;  // past full: eviction is running
  for (uint64_t i = 0; i < fill; ++i) {
    KeyOf(uint32_t(i), key);
    (void)cache.Insert({key, 16}, {kValue, 32}, WriteOptions{}, &applied);
  }
  uint64_t erased = 0;
  if (erase_every != 0) {
    for (uint64_t i = fill - entries; i < fill; i += erase_every) {
      KeyOf(uint32_t(i), key);
      erased += cache.Erase({key, 16});
    }
  }
  L1Stats before = cache.GetStats();
  const double tpn = TscPerNs();
  std::vector<double> cpu_us, wall_us;
  cpu_us.reserve(inserts);
  wall_us.reserve(inserts);
  for (uint64_t i = 0; i < inserts; ++i) {
    KeyOf(uint32_t(fill + i), key);
    int64_t c0 = ThreadCpuNs();
    uint64_t t0 = TscStart();
    (void)cache.Insert({key, 16}, {kValue, 32}, WriteOptions{}, &applied);
    uint64_t t1 = TscEnd();
    cpu_us.push_back(double(ThreadCpuNs() - c0) / 1000);
    wall_us.push_back(double(t1 - t0) / tpn / 1000);
  }
  L1Stats after = cache.GetStats();
  std::vector<double> sorted = cpu_us;
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> wall_sorted = wall_us;
  std::sort(wall_sorted.begin(), wall_sorted.end());
  uint64_t over100 = 0, both100 = 0;
  double over100_sum = 0, both_max = 0;
  for (size_t i = 0; i < cpu_us.size(); ++i) {
    if (cpu_us[i] >= 100) ++over100, over100_sum += cpu_us[i];
    double m = std::min(cpu_us[i], wall_us[i]);
    if (m >= 100) ++both100;
    both_max = std::max(both_max, m);
  }
  std::printf("shards=%u max_bytes=%llu items=%llu erased=%llu (every %llu-th of the newest %llu)"
              "\n",
              cache.shard_count(), (unsigned long long)opt.max_bytes,
              (unsigned long long)before.items, (unsigned long long)erased,
              (unsigned long long)erase_every, (unsigned long long)entries);
  std::printf("dead entries before/after the timed inserts: %llu / %llu; evictions %llu -> %llu\n",
              (unsigned long long)before.dead, (unsigned long long)after.dead,
              (unsigned long long)before.evictions, (unsigned long long)after.evictions);
  std::printf("%llu inserts, thread CPU incl. ~1 us of clock reads: p50 %.2f us, p99 %.2f us, "
              "p99.9 %.1f us, max %.1f us; %llu inserts >= 100 us (mean %.0f us)\n",
              (unsigned long long)inserts, Pct(sorted, 0.5), Pct(sorted, 0.99),
              Pct(sorted, 0.999), sorted.back(), (unsigned long long)over100,
              over100 ? over100_sum / double(over100) : 0);
  std::printf("  wall (TSC, only the Insert call): p50 %.2f us, p99 %.2f us, p99.9 %.1f us, "
              "max %.1f us; >= 100 us in both CPU and wall: %llu inserts; max of min(CPU, wall) "
              "%.1f us\n",
              Pct(wall_sorted, 0.5), Pct(wall_sorted, 0.99), Pct(wall_sorted, 0.999),
              wall_sorted.back(), (unsigned long long)both100, both_max);
  return 0;
}
