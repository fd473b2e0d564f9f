// l1-growth: per-operation latency while L1 grows from empty to N entries,
// per million-entry band, so that index-table resize stalls would show up.
//
//   l1-growth [--entries=10000000] [--threads=2] [--gets-per-insert=1]
//             [--shards=0] [--max-seconds=150] [--slowest=24] [--index-doublings=N]
//
// Every thread inserts its share of distinct 16-byte keys (32-byte values)
// into one L1Cache whose budget never binds, and after each insert looks up
// gets-per-insert random keys it inserted earlier. Each operation is timed
// with the TSC into a log-linear histogram for the band of the (estimated)
// total entry count at that moment. The slowest inserts are listed with the
// entry count at which they happened. L1Index starts a resize of a shard's
// table when it passes 3/4 load, i.e. near 256 * 0.75 * 2^k total entries
// with 256 shards (1.57M, 3.15M, 6.29M): it allocates a table twice the size,
// and each of the next old_slots/8 inserts into that shard moves 8 old slots.
// The benchmark predicts both kinds of insert (it knows the shard of every
// key and the growth rule) and reports them separately from the others.
//
// Because a descheduled thread on this shared 2-vCPU VM also looks like a
// stall, --index-doublings=N first times L1Index::Insert alone, one thread,
// on one index grown to N entries, and prints the cost of every resize:
// the stalls a shard lock holder causes at that table size.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "bench/l1/keys.h"
#include "bench/l1/histogram.h"
#include "bench/l1/tsc.h"
#include "bench/l1/zipf.h"
#include "routing/murmur3.h"
#include "tiers/l1_cache.h"
#include "tiers/l1_index.h"

using namespace strata;
using namespace strata::l1bench;

namespace {

constexpr uint64_t kBand = 1'000'000;
constexpr uint64_t kPublish = 1024;

struct Slow {
  uint64_t ticks;
  uint64_t at;  // estimated total entries when it happened
};

struct ThreadResult {
  std::vector<LogLinearHistogram> ins, get;
  std::vector<LogLinearHistogram> grow;  // inserts that started a resize of their shard's index
  std::vector<LogLinearHistogram> moving;  // inserts into a resizing shard (move 8 old slots)
  std::vector<LogLinearHistogram> all;     // every insert
  std::vector<double> band_cpu;          // thread CPU seconds per band
  std::vector<double> band_seconds;
  std::vector<Slow> slowest;
  uint64_t inserted = 0;
};

// Times every L1Index::Insert into one index up to n entries and prints, per
// resize: the insert that starts it (allocates the 2x table), the inserts
// that each move kStepSlots old slots while it runs, and the one that ends it
// (frees the old table). Each is a stretch the shard lock is held.
void IndexDoublings(uint64_t n, double tpn) {
  std::vector<L1Entry*> entries(n);
  std::vector<uint64_t> hashes(n);
  char key[16];
  for (uint64_t i = 0; i < n; ++i) {
    KeyOf(uint32_t(i), key);
    entries[i] = L1Entry::Create({key, 16}, {kValue, 32}, 0);
    hashes[i] = KeyHash({key, 16});
  }
  L1Index index;
  std::printf("L1Index resizes, one index, one thread (the shard lock is held this long):\n");
  std::printf("| entries at start | slots after | new table | start insert wall / CPU (us) "
              "| inserts while resizing | their wall p50 / p99 / max (us) | their CPU max (us) "
              "| end insert wall / CPU (us) | wall of all resize inserts (ms) |\n"
              "|---|---|---|---|---|---|---|---|---|\n");
  LogLinearHistogram normal, during;
  uint64_t start_at = 0, start_wall = 0;
  int64_t start_cpu = 0, during_cpu_max = 0;
  uint64_t resize_wall = 0;  // TSC ticks, start + moving + end inserts
  for (uint64_t i = 0; i < n; ++i) {
    const bool was = index.resizing();
    const uint64_t slots = index.memory_bytes() / 8;
    // L1Index::Insert starts a resize when (size + 1) * 4 > slots * 3.
    const bool starts = !was && (i + 1) * 4 > slots * 3;
    const bool timed = was || starts;  // thread CPU (a syscall) only there
    int64_t c0 = timed ? ThreadCpuNs() : 0;
    uint64_t t0 = TscStart();
    index.Insert(hashes[i], entries[i]);
    uint64_t dt = TscEnd() - t0;
    int64_t cpu = timed ? ThreadCpuNs() - c0 : 0;
    const bool now = index.resizing();
    if (!was && now) {
      start_at = i, start_wall = dt, start_cpu = cpu;
      during = LogLinearHistogram();
      during_cpu_max = 0;
      resize_wall = dt;
    } else if (was && now) {
      during.Record(dt);
      resize_wall += dt;
      if (cpu > during_cpu_max) during_cpu_max = cpu;
    } else if (was) {
      resize_wall += dt;
      if (index.memory_bytes() >= (64u << 10)) {
        std::printf("| %llu | %llu | %.2f MiB | %.1f / %.1f | %llu | %.2f / %.2f / %.1f | %.1f "
                    "| %.1f / %.1f | %.2f |\n",
                    (unsigned long long)start_at, (unsigned long long)(index.memory_bytes() / 8),
                    double(index.memory_bytes()) / 1048576, double(start_wall) / tpn / 1000,
                    double(start_cpu) / 1000, (unsigned long long)during.count(),
                    double(during.Quantile(0.5)) / tpn / 1000,
                    double(during.Quantile(0.99)) / tpn / 1000, double(during.max()) / tpn / 1000,
                    double(during_cpu_max) / 1000, double(dt) / tpn / 1000, double(cpu) / 1000,
                    double(resize_wall) / tpn / 1e6);
      }
    } else {
      normal.Record(dt);
    }
  }
  std::printf("(other inserts: wall p50 %.0f ns, p99 %.0f ns, max %.1f us)\n\n",
              double(normal.Quantile(0.5)) / tpn, double(normal.Quantile(0.99)) / tpn,
              double(normal.max()) / tpn / 1000);
  for (L1Entry* e : entries) L1Entry::Destroy(e);
}

// Busy CPU seconds of the whole machine (/proc/stat) and of this process
// (/proc/self/stat), to tell how much else ran during the measurement.
double MachineBusySeconds() {
  FILE* f = std::fopen("/proc/stat", "r");
  unsigned long long v[8] = {};
  if (f == nullptr || std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                                  &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8) {
    std::abort();
  }
  std::fclose(f);
  // user nice system [idle iowait] irq softirq steal
  return double(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / double(sysconf(_SC_CLK_TCK));
}

double SelfCpuSeconds() {
  FILE* f = std::fopen("/proc/self/stat", "r");
  char buf[1024];
  size_t n = f ? std::fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f) std::fclose(f);
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');  // skip "pid (comm)"
  unsigned long long ut = 0, st = 0;
  if (p == nullptr || std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                                  &ut, &st) != 2) {
    std::abort();
  }
  return double(ut + st) / double(sysconf(_SC_CLK_TCK));
}

bool Flag(const char* arg, const char* name, const char** value) {
  size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  *value = arg + n + 1;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t entries = 10'000'000, threads = 2, gets = 1, shards = 0, slowest = 24, doublings = 0;
  double max_seconds = 150;
  for (int i = 1; i < argc; ++i) {
    const char* v;
    if (Flag(argv[i], "--entries", &v)) entries = std::strtoull(v, nullptr, 10);
    else if (Flag(argv[i], "--threads", &v)) threads = std::strtoull(v, nullptr, 10);
    else if (Flag(argv[i], "--gets-per-insert", &v)) gets = std::strtoull(v, nullptr, 10);
    else if (Flag(argv[i], "--shards", &v)) shards = std::strtoull(v, nullptr, 10);
    else if (Flag(argv[i], "--max-seconds", &v)) max_seconds = std::strtod(v, nullptr);
    else if (Flag(argv[i], "--slowest", &v)) slowest = std::strtoull(v, nullptr, 10);
    else if (Flag(argv[i], "--index-doublings", &v)) doublings = std::strtoull(v, nullptr, 10);
    else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (threads < 1 || threads > 64) return 2;
  const double tpn = TscPerNs();
  const uint64_t bands = (entries + kBand - 1) / kBand;
  if (doublings > 0) IndexDoublings(doublings, tpn);
  if (entries == 0) return 0;

  L1Options opt;
  opt.max_bytes = 64ull << 30;  // never binds: this measures growth, not eviction
  opt.shards = uint32_t(shards);
  L1Cache cache(opt);  // SystemClock, as in the server
  // Predicts which insert starts a resize of its shard's index: the shard is
  // the top hash bits (L1Cache::ShardFor), and L1Index::Insert starts one
  // when (size + 1) * 4 > slots * 3, slots starting at 16; the next
  // old_slots / 8 inserts into the shard each move 8 old slots, the last one
  // frees the old table. Racing inserts into one shard may swap which of the
  // two is labelled; that's rare and harmless.
  const uint32_t nshards = cache.shard_count();
  std::vector<std::atomic<uint32_t>> shard_size(nshards), shard_slots(nshards),
      shard_moving(nshards);
  for (uint32_t i = 0; i < nshards; ++i) {
    shard_size[i] = 0, shard_slots[i] = 16, shard_moving[i] = 0;
  }
  std::atomic<bool> timed_out{false};
  const int64_t deadline = MonoNs() + int64_t(max_seconds * 1e9);

  std::vector<ThreadResult> results(threads);
  std::vector<std::thread> pool;
  // Each thread publishes how many keys it has inserted, so that every
  // thread knows the total (for the band) even when one runs ahead.
  struct alignas(64) Progress {
    std::atomic<uint64_t> n{0};
  };
  std::vector<Progress> progress(threads);
  int64_t wall0 = MonoNs();
  const double busy0 = MachineBusySeconds(), self0 = SelfCpuSeconds();
  for (uint64_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ThreadResult& r = results[t];
      r.ins.resize(bands);
      r.grow.resize(bands);
      r.moving.resize(bands);
      r.all.resize(bands);
      r.band_cpu.assign(bands, 0);
      int64_t band_cpu0 = ThreadCpuNs();
      r.get.resize(bands);
      r.band_seconds.assign(bands, 0);
      Rng rng(1000 + t);
      char key[16];
      std::string out;
      const uint64_t mine = entries / threads + (t < entries % threads ? 1 : 0);
      int64_t band_start = MonoNs();
      uint64_t band = 0;
      uint64_t others = 0;  // other threads' inserts, refreshed every kPublish
      for (uint64_t i = 0; i < mine; ++i) {
        if (i % kPublish == 0) {
          progress[t].n.store(i, std::memory_order_relaxed);
          others = 0;
          for (uint64_t u = 0; u < threads; ++u) {
            if (u != t) others += progress[u].n.load(std::memory_order_relaxed);
          }
        }
        const uint64_t id = i * threads + t;  // this insert's key
        const uint64_t total = others + i;    // entries in the cache now (within ~kPublish)
        uint64_t b = std::min(total / kBand, bands - 1);
        if (b != band) {
          int64_t now = MonoNs();
          r.band_seconds[band] += double(now - band_start) / 1e9;
          int64_t cpu = ThreadCpuNs();
          r.band_cpu[band] += double(cpu - band_cpu0) / 1e9;
          band_cpu0 = cpu;
          band_start = now;
          band = b;
          if (now > deadline || timed_out.load(std::memory_order_relaxed)) {
            timed_out = true;
            break;
          }
        }
        KeyOf(uint32_t(id), key);
        uint32_t sh = uint32_t(KeyHash({key, 16}) >> 52) & (nshards - 1);
        uint32_t size_before = shard_size[sh].fetch_add(1, std::memory_order_relaxed);
        uint32_t slots = shard_slots[sh].load(std::memory_order_relaxed);
        bool grows = uint64_t(size_before + 1) * 4 > uint64_t(slots) * 3;
        bool moving = false;
        if (grows) {
          shard_slots[sh].store(slots * 2, std::memory_order_relaxed);
          shard_moving[sh].store(slots / 8, std::memory_order_relaxed);
        } else if (shard_moving[sh].load(std::memory_order_relaxed) > 0) {
          shard_moving[sh].fetch_sub(1, std::memory_order_relaxed);
          moving = true;
        }
        bool applied;
        uint64_t t0 = TscStart();
        Status s = cache.Insert({key, 16}, {kValue, 32}, WriteOptions{}, &applied);
        uint64_t dt = TscEnd() - t0;
        if (!s.ok() || !applied) {
          std::fprintf(stderr, "insert failed: %s\n", s.message().c_str());
          std::exit(1);
        }
        (grows ? r.grow[b] : moving ? r.moving[b] : r.ins[b]).Record(dt);
        r.all[b].Record(dt);
        ++r.inserted;
        if (slowest > 0) {
          if (r.slowest.size() < slowest) {
            r.slowest.push_back({dt, total});
          } else {
            auto m = std::min_element(r.slowest.begin(), r.slowest.end(),
                                      [](const Slow& a, const Slow& c) { return a.ticks < c.ticks; });
            if (dt > m->ticks) *m = {dt, total};
          }
        }
        for (uint64_t g = 0; g < gets; ++g) {
          uint64_t j = rng.Below(i + 1);  // one of this thread's keys so far
          KeyOf(uint32_t(j * threads + t), key);
          uint64_t g0 = TscStart();
          bool found = cache.Lookup({key, 16}, &out);
          uint64_t gt = TscEnd() - g0;
          if (!found) {
            std::fprintf(stderr, "lost key %llu\n", (unsigned long long)(j * threads + t));
            std::exit(1);
          }
          r.get[b].Record(gt);
        }
      }
      progress[t].n.store(mine, std::memory_order_relaxed);
      r.band_seconds[band] += double(MonoNs() - band_start) / 1e9;
      r.band_cpu[band] += double(ThreadCpuNs() - band_cpu0) / 1e9;
    });
  }
  for (auto& th : pool) th.join();
  double wall = double(MonoNs() - wall0) / 1e9;
  const double busy = MachineBusySeconds() - busy0, self = SelfCpuSeconds() - self0;

  L1Stats st = cache.GetStats();
  std::printf("entries=%llu threads=%llu gets_per_insert=%llu shards=%u tsc=%.3f/ns%s\n",
              (unsigned long long)st.items, (unsigned long long)threads,
              (unsigned long long)gets, cache.shard_count(), tpn,
              timed_out ? "  (STOPPED AT --max-seconds)" : "");
  std::printf("wall %.1f s; l1 used_bytes %llu (%.1f B/entry)\n", wall,
              (unsigned long long)st.bytes, double(st.bytes) / double(st.items));
  std::printf("CPU during the run: this process %.1f s, everything else %.1f s (of %.1f s on "
              "%ld CPUs)\n\n", self, busy - self, wall * double(sysconf(_SC_NPROCESSORS_ONLN)),
              sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("| entries (M) | ins/s (k, all thr) | thread CPU per insert%s (ns) "
              "| all inserts p50 / p99 / p99.9 / max (us) | >=1ms "
              "| resize-start inserts: n, p50, max (us) "
              "| inserts moving 8 old slots: n, p99.9, max (us) "
              "| other inserts p99.9 / max (us) "
              "| get p50 / p99 / p99.9 / max (us) | >=1ms |\n",
              gets ? "+gets" : "");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  auto us = [&](uint64_t ticks) { return double(ticks) / tpn / 1000.0; };
  const uint64_t t1ms = uint64_t(1'000'000 * tpn);
  for (uint64_t b = 0; b < bands; ++b) {
    LogLinearHistogram ins, get, grow, moving, all;
    double sec = 0, cpu = 0;
    for (auto& r : results) {
      ins.Merge(r.ins[b]);
      get.Merge(r.get[b]);
      grow.Merge(r.grow[b]);
      moving.Merge(r.moving[b]);
      all.Merge(r.all[b]);
      sec = std::max(sec, r.band_seconds[b]);
      cpu += r.band_cpu[b];
    }
    uint64_t n = all.count();
    if (n == 0) continue;
    std::printf("| %llu-%llu | %.0f | %.0f | %.2f / %.2f / %.1f / %.0f | %llu | %llu, %.0f, %.0f "
                "| %llu, %.1f, %.0f | %.1f / %.0f | %.2f / %.2f / %.1f / %.0f | %llu |\n",
                (unsigned long long)b, (unsigned long long)b + 1,
                sec > 0 ? double(n) / sec / 1000 : 0, cpu * 1e9 / double(n),
                us(all.Quantile(0.5)), us(all.Quantile(0.99)), us(all.Quantile(0.999)),
                us(all.max()), (unsigned long long)all.CountAtLeast(t1ms),
                (unsigned long long)grow.count(), us(grow.Quantile(0.5)), us(grow.max()),
                (unsigned long long)moving.count(), us(moving.Quantile(0.999)), us(moving.max()),
                us(ins.Quantile(0.999)), us(ins.max()),
                us(get.Quantile(0.5)), us(get.Quantile(0.99)), us(get.Quantile(0.999)),
                us(get.max()), (unsigned long long)get.CountAtLeast(t1ms));
  }
  std::vector<Slow> all;
  for (auto& r : results) all.insert(all.end(), r.slowest.begin(), r.slowest.end());
  std::sort(all.begin(), all.end(), [](const Slow& a, const Slow& c) { return a.ticks > c.ticks; });
  if (all.size() > slowest) all.resize(slowest);
  std::sort(all.begin(), all.end(), [](const Slow& a, const Slow& c) { return a.at < c.at; });
  std::printf("\nslowest %zu inserts (by entry count): ", all.size());
  for (const Slow& s : all) std::printf("%.2fM:%.0fus ", double(s.at) / 1e6, us(s.ticks));
  std::printf("\n");
  return 0;
}
