// l1-expiry: how fast L1's background sweep reclaims a mass expiry, and how
// long one Sweep call (and one shard-lock hold) lasts.
//
//   l1-expiry [--entries=1000000] [--permanent=0] [--batch=64] [--max-total=0]
//             [--max-ticks=3000]
//
// Inserts `entries` keys with a 1 s TTL (plus `permanent` keys without TTL,
// interleaved), advances a ManualClock past the expiry, then calls
// L1Cache::Sweep(batch, max_total) once per simulated 100 ms tick, exactly
// as the server's timer does (proxy/server.cc OnSweep: Sweep(l1.sweep_batch,
// l1.sweep_batch * shard_count * 4) every l1.sweep_interval; defaults 64 and
// 100 ms). --max-total=0 (the default) means that same batch * shards * 4.
// Nothing reads the keys, so only the sweep reclaims them. Stops when every
// expired entry is freed or after max-ticks ticks.
//
// Separately it times single shard-lock holds: (a) on a fresh cache loaded
// the same way, L1Cache::Sweep(batch, batch) examines exactly one batch in
// one shard (the one after the previous call's) under one lock acquisition,
// so its duration is one hold with the real memory layout (entries of a
// shard spread over the whole heap);
// (b) the same on a one-shard cache holding only 1/256 of the entries,
// contiguous and cache-resident: the best case.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
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

double Pct(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(q * double(v.size())))];
}

// (a) above: one-batch Sweep calls on a loaded cache with everything expired.
void CacheLockHold(uint64_t entries, uint64_t batch) {
  ManualClock clock;
  L1Options opt;
  opt.max_bytes = 16ull << 30;
  opt.clock = &clock;
  L1Cache cache(opt);
  char key[16];
  for (uint64_t i = 0; i < entries; ++i) {
    KeyOf(uint32_t(i), key);
    bool applied;
    WriteOptions w;
    w.expire_at_ms = clock.NowMs() + 1000;
    (void)cache.Insert({key, 16}, {kValue, 32}, w, &applied);
  }
  clock.Advance(1001);
  std::vector<double> us, cpu;
  uint64_t freed = 0;
  // Only calls that freed a full batch (one lock hold, one shard).
  for (int i = 0; i < 2000; ++i) {
    int64_t c0 = ThreadCpuNs(), t0 = MonoNs();
    size_t n = cache.Sweep(batch, batch);
    int64_t t1 = MonoNs(), c1 = ThreadCpuNs();
    freed += n;
    if (n != batch) continue;
    us.push_back(double(t1 - t0) / 1000);
    cpu.push_back(double(c1 - c0) / 1000);
  }
  std::printf("one shard-lock hold, loaded cache (%llu entries, all expired), Sweep(%llu, %llu) "
              "x %zu full batches: wall p50 %.1f us, p99 %.1f us, max %.1f us; thread CPU p50 "
              "%.1f us, p99 %.1f us, max %.1f us (%.0f ns per freed entry at p50)\n",
              (unsigned long long)entries, (unsigned long long)batch, (unsigned long long)batch,
              us.size(), Pct(us, 0.5), Pct(us, 0.99), *std::max_element(us.begin(), us.end()),
              Pct(cpu, 0.5), Pct(cpu, 0.99), *std::max_element(cpu.begin(), cpu.end()),
              Pct(cpu, 0.5) * 1000 / double(batch));
}

// (b) above: the same one-batch calls on a one-shard cache holding only a
// shard's worth of entries, allocated back to back (cache-resident).
void ShardLockHold(uint64_t per_shard, uint64_t batch) {
  ManualClock clock;
  L1Options opt;
  opt.max_bytes = 1ull << 30;
  opt.shards = 1;
  opt.clock = &clock;
  L1Cache cache(opt);
  char key[16];
  for (uint64_t i = 0; i < per_shard; ++i) {
    KeyOf(uint32_t(i), key);
    bool applied;
    WriteOptions w;
    w.expire_at_ms = clock.NowMs() + 1000;
    (void)cache.Insert({key, 16}, {kValue, 32}, w, &applied);
  }
  clock.Advance(1001);
  std::vector<double> us;
  for (int i = 0; i < 100000; ++i) {
    int64_t t0 = ThreadCpuNs();
    size_t freed = cache.Sweep(batch, batch);
    int64_t t1 = ThreadCpuNs();
    if (freed != batch) break;
    us.push_back(double(t1 - t0) / 1000);
  }
  if (us.empty()) return;
  std::printf("one shard-lock hold, lone cache-resident shard of %llu expired entries, "
              "Sweep(%llu, %llu) x %zu full batches, thread CPU: p50 %.1f us, p99 %.1f us, "
              "max %.1f us (%.0f ns per freed entry at p50)\n",
              (unsigned long long)per_shard, (unsigned long long)batch,
              (unsigned long long)batch, us.size(), Pct(us, 0.5), Pct(us, 0.99),
              *std::max_element(us.begin(), us.end()), Pct(us, 0.5) * 1000 / double(batch));
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t entries = 1'000'000, permanent = 0, batch = 64, max_total = 0, max_ticks = 3000;
  for (int i = 1; i < argc; ++i) {
    const char* v;
    if (Flag(argv[i], "--entries", &v)) entries = std::strtoull(v, nullptr, 10);
    else if (Flag(argv[i], "--permanent", &v)) permanent = std::strtoull(v, nullptr, 10);
    else if (Flag(argv[i], "--batch", &v)) batch = std::strtoull(v, nullptr, 10);
    else if (Flag(argv[i], "--max-total", &v)) max_total = std::strtoull(v, nullptr, 10);
    else if (Flag(argv[i], "--max-ticks", &v)) max_ticks = std::strtoull(v, nullptr, 10);
    else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  ManualClock clock;
  L1Options opt;
  opt.max_bytes = 16ull << 30;
  opt.clock = &clock;
  L1Cache cache(opt);
  const uint64_t empty_bytes = cache.used_bytes();
  if (max_total == 0) max_total = batch * cache.shard_count() * 4;  // as proxy/server.cc OnSweep
  char key[16];
  const uint64_t total = entries + permanent;
  uint64_t ttl_left = entries, perm_left = permanent;
  for (uint64_t i = 0; i < total; ++i) {
    // Interleave the two populations evenly.
    bool ttl = perm_left == 0 || (ttl_left > 0 && ttl_left * total >= (total - i) * entries);
    WriteOptions w;
    if (ttl) w.expire_at_ms = clock.NowMs() + 1000, --ttl_left; else --perm_left;
    KeyOf(uint32_t(i), key);
    bool applied;
    (void)cache.Insert({key, 16}, {kValue, 32}, w, &applied);
  }
  const uint64_t full_bytes = cache.used_bytes();
  const uint64_t perm_bytes_est =
      permanent * L1Entry::ChargeFor(16, 32);  // entries that must stay
  clock.Advance(1001);
  std::printf("entries=%llu (ttl 1 s) permanent=%llu shards=%u Sweep(%llu, %llu) per 100 ms "
              "tick\n",
              (unsigned long long)entries, (unsigned long long)permanent, cache.shard_count(),
              (unsigned long long)batch, (unsigned long long)max_total);
  std::printf("used_bytes: empty cache %llu, loaded %llu\n", (unsigned long long)empty_bytes,
              (unsigned long long)full_bytes);

  std::vector<double> call_us, call_cpu_us;
  uint64_t freed = 0, ticks = 0;
  uint64_t at50 = 0, at90 = 0, at99 = 0, at100 = 0;
  uint64_t last = 0, same = 0;
  for (ticks = 1; ticks <= max_ticks; ++ticks) {
    int64_t c0 = ThreadCpuNs(), t0 = MonoNs();
    freed += cache.Sweep(batch, max_total);
    call_us.push_back(double(MonoNs() - t0) / 1000);
    call_cpu_us.push_back(double(ThreadCpuNs() - c0) / 1000);
    clock.Advance(100);
    if (!at50 && freed * 2 >= entries) at50 = ticks;
    if (!at90 && freed * 10 >= entries * 9) at90 = ticks;
    if (!at99 && freed * 100 >= entries * 99) at99 = ticks;
    if (freed >= entries) {
      at100 = ticks;
      break;
    }
    // No progress for 100 ticks (10 s simulated): report and stop.
    same = freed == last ? same + 1 : 0;
    last = freed;
    if (same >= 100) break;
    if (ticks % 50 == 0 || ticks <= 3) {
      std::printf("  tick %4llu: freed %8llu, used_bytes %11llu\n", (unsigned long long)ticks,
                  (unsigned long long)freed, (unsigned long long)cache.used_bytes());
    }
  }
  L1Stats st = cache.GetStats();
  auto t = [](uint64_t k) { return k ? std::to_string(k) + " ticks (" +
                                           std::to_string(double(k) / 10).substr(0, 5) + " s)"
                                     : std::string("not reached"); };
  std::printf("freed %llu of %llu expired entries after %llu ticks\n", (unsigned long long)freed,
              (unsigned long long)entries, (unsigned long long)std::min(ticks, max_ticks));
  std::printf("  50%%: %s, 90%%: %s, 99%%: %s, 100%%: %s\n", t(at50).c_str(), t(at90).c_str(),
              t(at99).c_str(), t(at100).c_str());
  std::printf("  items left %llu (permanent %llu), dead %llu, used_bytes %llu "
              "(permanent entries' charge %llu; the index shrinks as entries go)\n",
              (unsigned long long)st.items, (unsigned long long)permanent,
              (unsigned long long)st.dead, (unsigned long long)st.bytes,
              (unsigned long long)perm_bytes_est);
  std::printf("  Sweep call: wall p50 %.0f us, max %.0f us; thread CPU p50 %.0f us, max %.0f us "
              "over %zu calls\n",
              Pct(call_us, 0.5), *std::max_element(call_us.begin(), call_us.end()),
              Pct(call_cpu_us, 0.5), *std::max_element(call_cpu_us.begin(), call_cpu_us.end()),
              call_us.size());
  CacheLockHold(total, batch);
  ShardLockHold(entries / cache.shard_count() + 1, batch);
  return 0;
}
