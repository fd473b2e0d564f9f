// strata-wal-bench: how fast the WAL replays and appends, on real files.
//
//   strata-wal-bench [--records=N] [--dir=PATH] [--seconds=S]
//
// 1. Replay: writes N records (16-byte keys, 100-byte values) with
//    wal.sync=never, closes, then times Wal::Open (read + CRC + callback).
//    The files are in the page cache by then: this measures the WAL's own
//    work, not the disk.
// 2. Append: for each sync mode and 1 and 8 appending threads, appends for S
//    seconds. "pipelined": threads append without waiting (loop threads that
//    acknowledge in batches when woken); "acked": each thread waits until its
//    record is durable before the next append (a synchronous client). The
//    clock stops when durable_seq covers the last append.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/crc32c.h"
#include "common/log.h"
#include "wal/wal.h"

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string Key(uint64_t i) {
  char buf[32];
  snprintf(buf, sizeof(buf), "key-%012llu", static_cast<unsigned long long>(i));
  return std::string(buf, 16);
}

int RunReplay(const std::string& dir, uint64_t n) {
  std::filesystem::remove_all(dir);
  WalOptions o;
  o.dir = dir;
  o.sync = WalSync::kNever;
  std::string value(100, 'v');
  {
    auto w = Wal::Open(o, nullptr);
    if (!w.ok()) {
      fprintf(stderr, "open: %s\n", w.status().ToString().c_str());
      return 1;
    }
    Wal* wal = w->get();
    auto start = Clock::now();
    for (uint64_t i = 0; i < n; ++i) {
      std::string key = Key(i);
      value[i % value.size()] = static_cast<char>('a' + i % 26);
      uint64_t seq;
      Status s = wal->Append(WalRecord{0, WalOp::kSet, 0, key, value}, &seq);
      if (!s.ok()) {
        fprintf(stderr, "append: %s\n", s.ToString().c_str());
        return 1;
      }
    }
    Status s = wal->Flush();
    double secs = Since(start);
    if (!s.ok()) {
      fprintf(stderr, "flush: %s\n", s.ToString().c_str());
      return 1;
    }
    WalStats st = wal->stats();
    printf("write:  %llu records, %.1f MB in %llu segments, %.3f s (%.0f records/s, incl. final fdatasync)\n",
           static_cast<unsigned long long>(n), st.appended_bytes / 1e6,
           static_cast<unsigned long long>(st.segments), secs, n / secs);
  }
  uint64_t count = 0;
  uint64_t bytes = 0;
  auto start = Clock::now();
  auto w = Wal::Open(o, [&](const WalRecord& r) {
    ++count;
    bytes += r.key.size() + r.value.size();
  });
  double secs = Since(start);
  if (!w.ok() || count != n) {
    fprintf(stderr, "replay: %s, %llu of %llu records\n", w.status().ToString().c_str(),
            static_cast<unsigned long long>(count), static_cast<unsigned long long>(n));
    return 1;
  }
  printf("replay: %llu records (%.1f MB payload) in %.3f s = %.0f records/s, %.0f MB/s of payload"
         " (crc32c %s) [target >= 1000000 records/s: %s]\n",
         static_cast<unsigned long long>(count), bytes / 1e6, secs, count / secs,
         bytes / 1e6 / secs, Crc32cHardware() ? "sse4.2" : "table",
         count / secs >= 1e6 ? "met" : "MISSED");
  w->reset();
  std::filesystem::remove_all(dir);
  return 0;
}

const char* ModeName(WalSync m) {
  switch (m) {
    case WalSync::kAlways: return "always";
    case WalSync::kInterval: return "interval";
    case WalSync::kNever: return "never";
  }
  return "?";
}

int RunAppend(const std::string& dir, WalSync mode, int threads, bool acked, double seconds) {
  std::filesystem::remove_all(dir);
  WalOptions o;
  o.dir = dir;
  o.sync = mode;
  auto w = Wal::Open(o, nullptr);
  if (!w.ok()) {
    fprintf(stderr, "open: %s\n", w.status().ToString().c_str());
    return 1;
  }
  Wal* wal = w->get();
  std::mutex mu;
  std::condition_variable cv;
  wal->AddWaker([&] {
    std::lock_guard<std::mutex> lock(mu);
    cv.notify_all();
  });
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> appended{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> pool;
  auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::string value(100, 'v');
      uint64_t i = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        std::string key = Key(static_cast<uint64_t>(t) << 40 | i++);
        uint64_t seq;
        Status s = wal->Append(WalRecord{0, WalOp::kSet, 0, key, value}, &seq);
        if (!s.ok()) {
          errors.fetch_add(1);
          continue;
        }
        appended.fetch_add(1, std::memory_order_relaxed);
        if (acked) {
          std::unique_lock<std::mutex> lock(mu);
          cv.wait(lock, [&] { return wal->durable_seq() >= seq || wal->failed_seq() >= seq; });
        }
        // Stand-in for the tiers confirming: keeps the backlog and the disk small.
        if (t == 0 && i % 4096 == 0) wal->SetCheckpoint(wal->durable_seq());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  const uint64_t last = wal->last_seq();
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return wal->durable_seq() >= last; });
  }
  double secs = Since(start);
  WalStats st = wal->stats();
  uint64_t n = appended.load();
  printf("append: sync=%-8s threads=%d %-9s %9.0f records/s  fsyncs=%-6llu records/fsync=%-8.1f"
         " groups=%-7llu fsync avg=%.2f ms max=%.2f ms errors=%d\n",
         ModeName(mode), threads, acked ? "acked" : "pipelined", n / secs,
         static_cast<unsigned long long>(st.syncs), st.syncs ? double(n) / st.syncs : 0.0,
         static_cast<unsigned long long>(st.groups),
         st.syncs ? st.sync_ns_total / 1e6 / st.syncs : 0.0, st.sync_ns_max / 1e6,
         errors.load());
  w->reset();
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) {
  uint64_t records = 2'000'000;
  double seconds = 1.0;
  std::string dir = "/tmp/strata-wal-bench-" + std::to_string(getpid());
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--records=", 0) == 0) {
      records = std::stoull(a.substr(10));
    } else if (a.rfind("--seconds=", 0) == 0) {
      seconds = std::stod(a.substr(10));
    } else if (a.rfind("--dir=", 0) == 0) {
      dir = a.substr(6);
    } else {
      fprintf(stderr, "usage: %s [--records=N] [--seconds=S] [--dir=PATH]\n", argv[0]);
      return 2;
    }
  }
  strata::SetLogLevel(strata::LogLevel::kWarn);
  if (int rc = strata::RunReplay(dir, records); rc != 0) return rc;
  for (strata::WalSync mode :
       {strata::WalSync::kAlways, strata::WalSync::kInterval, strata::WalSync::kNever}) {
    for (bool acked : {false, true}) {
      for (int threads : {1, 8}) {
        if (int rc = strata::RunAppend(dir, mode, threads, acked, seconds); rc != 0) return rc;
      }
    }
  }
  return 0;
}
