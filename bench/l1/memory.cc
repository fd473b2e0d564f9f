// l1-memory: what L1 really costs per entry, in RSS, next to its own
// used_bytes accounting.
//
//   l1-memory [--entries=1000000] [--threads=1] [--shards=0]
//
// Reads RSS from /proc/self/statm before and after inserting `entries`
// distinct 16-byte keys with 32-byte values (split over `threads` threads, as
// the server's loop threads would, so that glibc's per-thread arenas are in
// the picture). Keys are generated on the fly: nothing but L1 grows.
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "bench/l1/keys.h"
#include "tiers/l1_cache.h"

using namespace strata;
using namespace strata::l1bench;

namespace {

uint64_t RssBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  unsigned long size = 0, resident = 0;
  if (f == nullptr || std::fscanf(f, "%lu %lu", &size, &resident) != 2) std::abort();
  std::fclose(f);
  return uint64_t(resident) * uint64_t(sysconf(_SC_PAGESIZE));
}

bool Flag(const char* arg, const char* name, const char** value) {
  size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  *value = arg + n + 1;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t entries = 1'000'000, threads = 1, shards = 0;
  for (int i = 1; i < argc; ++i) {
    const char* v;
    if (Flag(argv[i], "--entries", &v)) entries = std::strtoull(v, nullptr, 10);
    else if (Flag(argv[i], "--threads", &v)) threads = std::strtoull(v, nullptr, 10);
    else if (Flag(argv[i], "--shards", &v)) shards = std::strtoull(v, nullptr, 10);
    else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (threads < 1 || threads > 16) return 2;
  L1Options opt;
  opt.max_bytes = 16ull << 30;  // never binds
  opt.shards = uint32_t(shards);
  ManualClock clock;
  opt.clock = &clock;
  uint64_t before_cache = RssBytes();
  L1Cache cache(opt);
  // Start the worker threads (their stacks) before the "before" reading, as a
  // running server would have them. Their malloc arenas appear with the
  // first insert, and are part of what L1 costs.
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (uint64_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      char key[16];
      for (uint64_t k = t; k < entries; k += threads) {
        KeyOf(uint32_t(k), key);
        bool applied;
        (void)cache.Insert({key, 16}, {kValue, 32}, WriteOptions{}, &applied);
      }
    });
  }
  uint64_t before = RssBytes();
  uint64_t used_before = cache.used_bytes();
  go = true;
  for (auto& th : pool) th.join();
  uint64_t after = RssBytes();
  L1Stats st = cache.GetStats();
  uint64_t delta = after - before;
  uint64_t used_delta = st.bytes - used_before;
  uint64_t entry_charge = st.items * L1Entry::ChargeFor(16, 32);
  struct mallinfo2 mi = mallinfo2();
  std::printf("entries=%llu threads=%llu shards=%u\n", (unsigned long long)st.items,
              (unsigned long long)threads, cache.shard_count());
  std::printf("RSS: process %.1f MiB before the cache, %.1f MiB empty cache, %.1f MiB full\n",
              double(before_cache) / 1048576, double(before) / 1048576,
              double(after) / 1048576);
  std::printf("RSS delta            %11llu B = %6.1f B/entry (%.1f over the 48 payload bytes)\n",
              (unsigned long long)delta, double(delta) / double(st.items),
              double(delta) / double(st.items) - 48);
  std::printf("L1 used_bytes delta  %11llu B = %6.1f B/entry (%.1f over payload)\n",
              (unsigned long long)used_delta, double(used_delta) / double(st.items),
              double(used_delta) / double(st.items) - 48);
  std::printf("  of which entries   %11llu B = %6.1f B/entry (ChargeFor(16,32) = %llu)\n",
              (unsigned long long)entry_charge, double(entry_charge) / double(st.items),
              (unsigned long long)L1Entry::ChargeFor(16, 32));
  std::printf("  index+ghost        %11llu B = %6.1f B/entry\n",
              (unsigned long long)(st.bytes - entry_charge),
              double(st.bytes - entry_charge) / double(st.items));
  std::printf("RSS / used_bytes     %.3f\n", double(delta) / double(used_delta));
  std::printf("malloc: arena %.1f MiB, in use %.1f MiB, mmapped %.1f MiB\n",
              double(mi.arena) / 1048576, double(mi.uordblks) / 1048576,
              double(mi.hblkhd) / 1048576);
  return 0;
}
