#include "wal/wal.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include "tests/wal/wal_test_util.h"
#include "wal/wal_format.h"

namespace strata {
namespace {

using wal_test::AppendOrDie;
using wal_test::MakeRec;
using wal_test::OpenOrDie;
using wal_test::Rec;
using wal_test::TempDir;

size_t CountSegments(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("wal-", 0) == 0) ++n;
  }
  return n;
}

TEST_CASE("wal: round trip across segment boundaries, every op, binary bytes", "[wal]") {
  TempDir dir;
  WalOptions o;
  o.dir = dir.path() + "/nested/wal";  // Open creates it
  o.segment_bytes = 1024;
  std::vector<Rec> appended;
  {
    std::vector<Rec> replayed;
    auto wal = OpenOrDie(o, &replayed);
    CHECK(replayed.empty());
    for (uint64_t i = 0; i < 300; ++i) {
      appended.push_back(AppendOrDie(wal.get(), MakeRec(i)));
      CHECK(appended.back().seq == i + 1);
      if (i % 50 == 0) REQUIRE(wal->Flush().ok());  // groups of varied size
    }
    // An empty key and value and a value bigger than a segment.
    Rec empty;
    appended.push_back(AppendOrDie(wal.get(), empty));
    Rec big = MakeRec(3000, 5000);
    appended.push_back(AppendOrDie(wal.get(), big));
    REQUIRE(wal->Flush().ok());
    CHECK(wal->durable_seq() == appended.back().seq);
    CHECK(wal->last_seq() == appended.back().seq);
    WalStats st = wal->stats();
    CHECK(st.appended_records == appended.size());
    CHECK(st.segments > 10);
    CHECK(st.write_errors == 0);
  }
  CHECK(CountSegments(o.dir) > 10);
  std::vector<Rec> replayed;
  auto wal = OpenOrDie(o, &replayed);
  CHECK(replayed == appended);
  CHECK(wal->stats().replayed_records == appended.size());
  CHECK(wal->stats().truncated_tails == 0);
  uint64_t seq = 0;
  REQUIRE(wal->Append(MakeRec(1).View(), &seq).ok());
  CHECK(seq == appended.back().seq + 1);
}

TEST_CASE("wal: reopen replays exactly the records after the checkpoint, in order", "[wal]") {
  TempDir dir;
  for (WalSync mode : {WalSync::kAlways, WalSync::kInterval, WalSync::kNever}) {
    std::filesystem::remove_all(dir.path() + "/w");
    WalOptions o;
    o.dir = dir.path() + "/w";
    o.sync = mode;
    o.segment_bytes = 2048;
    std::vector<Rec> appended;
    {
      std::vector<Rec> replayed;
      auto wal = OpenOrDie(o, &replayed);
      for (uint64_t i = 0; i < 200; ++i) appended.push_back(AppendOrDie(wal.get(), MakeRec(i)));
      wal->SetCheckpoint(120);
    }  // the destructor writes what was appended and the checkpoint
    std::vector<Rec> replayed;
    {
      auto wal = OpenOrDie(o, &replayed);
      CHECK(wal->stats().checkpoint == 120);
      CHECK(replayed == std::vector<Rec>(appended.begin() + 120, appended.end()));
      wal->SetCheckpoint(100);  // lower: ignored
      CHECK(wal->stats().checkpoint == 120);
      for (uint64_t i = 200; i < 210; ++i) appended.push_back(AppendOrDie(wal.get(), MakeRec(i)));
      CHECK(appended.back().seq == 210);
    }
    replayed.clear();
    auto wal = OpenOrDie(o, &replayed);
    CHECK(replayed == std::vector<Rec>(appended.begin() + 120, appended.end()));
  }
}

TEST_CASE("wal: preallocated segments on a real file system", "[wal]") {
  TempDir dir;
  WalOptions o;
  o.dir = dir.path();
  o.sync = WalSync::kAlways;
  o.segment_bytes = 64 << 10;
  std::vector<Rec> appended;
  std::vector<Rec> replayed;
  {
    auto wal = OpenOrDie(o, &replayed);
    // Past 3,000 records only until a spare was used (the helper thread
    // runs on its own time).
    for (uint64_t i = 0; i < 3000 || (wal->stats().preallocated_used == 0 && i < 30000); ++i) {
      appended.push_back(AppendOrDie(wal.get(), MakeRec(i)));
      if (i % 100 == 99) REQUIRE(wal->Flush().ok());
    }
    REQUIRE(wal->Flush().ok());
    CHECK(wal->stats().preallocated_used > 0);
    CHECK(wal->stats().prealloc_failures == 0);
  }
  // Closed segments were cut back to their records, and no spare is left.
  for (const auto& e : std::filesystem::directory_iterator(o.dir)) {
    const std::string name = e.path().filename().string();
    INFO(name);
    CHECK(name != wal_format::kSpareName);
    if (name.rfind("wal-", 0) != 0) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(bytes.size() > 8);
    CHECK(bytes.size() <= o.segment_bytes + 400);
    CHECK(bytes.substr(bytes.size() - 8) != std::string(8, '\0'));
  }
  replayed.clear();
  auto wal = OpenOrDie(o, &replayed);
  CHECK(replayed == appended);
  CHECK(wal->stats().truncated_tails == 0);
}

TEST_CASE("wal: SetCheckpoint deletes covered segments, and that survives reopen", "[wal]") {
  TempDir dir;
  WalOptions o;
  o.dir = dir.path();
  o.segment_bytes = 1024;
  std::vector<Rec> appended;
  std::vector<Rec> replayed;
  auto wal = OpenOrDie(o, &replayed);
  for (uint64_t i = 0; i < 400; ++i) {
    appended.push_back(AppendOrDie(wal.get(), MakeRec(i)));
    if (i % 20 == 0) REQUIRE(wal->Flush().ok());
  }
  REQUIRE(wal->Flush().ok());
  const size_t before = CountSegments(o.dir);
  REQUIRE(before > 20);
  CHECK(wal->stats().segments == before);

  wal->SetCheckpoint(200);
  REQUIRE(wal->Flush().ok());
  const size_t after = CountSegments(o.dir);
  CHECK(after < before);
  CHECK(after > 1);
  CHECK(wal->stats().segments == after);
  CHECK(std::filesystem::exists(o.dir + "/CHECKPOINT"));
  // Every segment left holds a record above the checkpoint: the oldest one
  // left must reach past 200, so replay starts right after it.
  wal.reset();
  replayed.clear();
  wal = OpenOrDie(o, &replayed);
  CHECK(replayed == std::vector<Rec>(appended.begin() + 200, appended.end()));

  // Everything covered: only the open segment (if any) remains.
  wal->SetCheckpoint(wal->last_seq());
  REQUIRE(wal->Flush().ok());
  CHECK(CountSegments(o.dir) <= 1);
  wal.reset();
  replayed.clear();
  wal = OpenOrDie(o, &replayed);
  CHECK(replayed.empty());
  CHECK(CountSegments(o.dir) == 0);
  CHECK(wal->last_seq() == 400);
  uint64_t seq = 0;
  REQUIRE(wal->Append(MakeRec(7).View(), &seq).ok());
  CHECK(seq == 401);
}

TEST_CASE("wal: max_bytes bounds the backlog; a checkpoint frees it", "[wal]") {
  TempDir dir;
  WalOptions o;
  o.dir = dir.path();
  o.max_bytes = 4000;
  std::vector<Rec> replayed;
  auto wal = OpenOrDie(o, &replayed);
  uint64_t last_ok = 0;
  Status s;
  for (uint64_t i = 0; i < 1000; ++i) {
    uint64_t seq = 0;
    s = wal->Append(MakeRec(0, 67).View(), &seq);  // 33 + 4 + 67 = 104 encoded bytes
    if (!s.ok()) break;
    last_ok = seq;
  }
  REQUIRE_FALSE(s.ok());
  CHECK(s.code() == Code::kOverloaded);
  CHECK(s.message().find("wal.max_bytes") != std::string::npos);
  CHECK(last_ok >= 30);
  CHECK(wal->stats().backlog_bytes <= o.max_bytes);
  uint64_t seq = 0;
  CHECK(wal->Append(MakeRec(0, 67).View(), &seq).code() == Code::kOverloaded);

  wal->SetCheckpoint(last_ok / 2);
  CHECK(wal->stats().backlog_bytes < o.max_bytes / 2 + 200);
  REQUIRE(wal->Append(MakeRec(0, 67).View(), &seq).ok());
  CHECK(seq == last_ok + 1);
  wal->SetCheckpoint(seq);
  CHECK(wal->stats().backlog_bytes == 0);
  for (int i = 0; i < 20; ++i) REQUIRE(wal->Append(MakeRec(0, 67).View(), &seq).ok());
  REQUIRE(wal->Flush().ok());

  // The backlog of replayed records counts after a reopen too.
  wal.reset();
  replayed.clear();
  wal = OpenOrDie(o, &replayed);
  CHECK(replayed.size() == 20);
  CHECK(wal->stats().backlog_bytes >= 20 * 100);
}

TEST_CASE("wal: group commit shares fsyncs among many appenders; wakers are called", "[wal]") {
  TempDir dir;
  WalOptions o;
  o.dir = dir.path();
  o.sync = WalSync::kAlways;
  std::vector<Rec> replayed;
  auto wal = OpenOrDie(o, &replayed);
  std::atomic<uint64_t> wakes{0};
  std::atomic<uint64_t> max_seen{0};
  wal->AddWaker([&] {
    wakes.fetch_add(1);
    uint64_t d = wal->durable_seq();
    uint64_t m = max_seen.load();
    while (d > m && !max_seen.compare_exchange_weak(m, d)) {
    }
  });
  constexpr int kThreads = 8;
  constexpr int kPerThread = 2000;
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Rec r = MakeRec(static_cast<uint64_t>(t * kPerThread + i), 40);
        uint64_t seq = 0;
        if (!wal->Append(r.View(), &seq).ok()) errors.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(errors == 0);
  const uint64_t appends = kThreads * kPerThread;
  REQUIRE(wal_test::WaitFor([&] { return wal->durable_seq() == appends; }));
  WalStats st = wal->stats();
  INFO("syncs " << st.syncs << " groups " << st.groups);
  CHECK(st.syncs < appends / 4);
  CHECK(st.syncs >= 1);
  CHECK(st.sync_ns_total > 0);
  CHECK(wakes.load() >= 1);
  CHECK(max_seen.load() == appends);
  CHECK(wal->StateOf(1) == Wal::SeqState::kDurable);
  CHECK(wal->StateOf(appends) == Wal::SeqState::kDurable);
  CHECK(wal->StateOf(appends + 1) == Wal::SeqState::kPending);
  wal.reset();
  replayed.clear();
  wal = OpenOrDie(o, &replayed);
  REQUIRE(replayed.size() == appends);
  for (size_t i = 0; i < replayed.size(); ++i) CHECK(replayed[i].seq == i + 1);
}

TEST_CASE("wal: kAlways acknowledges only after fdatasync; kInterval/kNever after write",
          "[wal]") {
  wal_test::FaultFs fs;
  fs.SetSyncDelay(std::chrono::milliseconds(30));
  for (WalSync mode : {WalSync::kAlways, WalSync::kNever}) {
    WalOptions o;
    o.dir = mode == WalSync::kAlways ? "/a" : "/n";
    o.fs = &fs;
    o.sync = mode;
    std::vector<Rec> replayed;
    auto wal = OpenOrDie(o, &replayed);
    const uint64_t syncs_before = fs.syncs();
    Rec r = AppendOrDie(wal.get(), MakeRec(0));
    REQUIRE(wal_test::WaitFor([&] { return wal->durable_seq() == r.seq; }));
    if (mode == WalSync::kAlways) {
      CHECK(fs.syncs() == syncs_before + 1);
    } else {
      CHECK(fs.syncs() == syncs_before);
    }
  }
}

TEST_CASE("wal: appender_writes: WriteOut writes on the caller's thread; a busy writer "
          "takes over; a group nobody writes is written anyway", "[wal]") {
  wal_test::FaultFs fs;
  WalOptions o;
  o.dir = "/w";
  o.fs = &fs;
  o.sync = WalSync::kInterval;
  o.sync_interval_ms = 200;  // also how long a group nobody writes may wait
  o.appender_writes = true;
  std::vector<Rec> replayed;
  auto wal = OpenOrDie(o, &replayed);
  std::atomic<int> wakes{0};
  wal->AddWaker([&] { wakes.fetch_add(1); });

  // The caller writes: everything appended is written when WriteOut returns.
  for (int i = 0; i < 10; ++i) AppendOrDie(wal.get(), MakeRec(static_cast<uint64_t>(i)));
  const uint64_t syncs_before = fs.syncs();
  REQUIRE(wal->WriteOut());
  CHECK(wal->durable_seq() == 10);
  CHECK(wal->StateOf(10) == Wal::SeqState::kDurable);
  CHECK(fs.syncs() == syncs_before);  // written, not synced
  CHECK(wal->WriteOut());              // nothing left: still true

  // The writer thread holds the file (a slow fsync): WriteOut hands over,
  // and the writer writes the group afterwards and calls the wakers.
  fs.SetSyncDelay(std::chrono::milliseconds(300));
  std::thread flusher([&] { CHECK(wal->Flush().ok()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Rec r = AppendOrDie(wal.get(), MakeRec(100));
  const int wakes_before = wakes.load();
  CHECK_FALSE(wal->WriteOut());
  CHECK(wal->durable_seq() < r.seq);
  REQUIRE(wal_test::WaitFor([&] { return wal->durable_seq() == r.seq; }));
  CHECK(wakes.load() > wakes_before);
  flusher.join();
  fs.SetSyncDelay(std::chrono::milliseconds(0));

  // Nobody calls WriteOut: the writer writes it within sync_interval.
  Rec late = AppendOrDie(wal.get(), MakeRec(101));
  INFO("durable " << wal->durable_seq() << " late " << late.seq);
  REQUIRE(wal_test::WaitFor([&] { return wal->durable_seq() == late.seq; }));

  wal.reset();
  replayed.clear();
  wal = OpenOrDie(o, &replayed);
  REQUIRE(replayed.size() == 12);
  CHECK(replayed.back() == late);
}

TEST_CASE("wal: appender_writes: the interval fsync does not hold the file; a rotation "
          "waits for it", "[wal]") {
  wal_test::FaultFs fs;
  WalOptions o;
  o.dir = "/w";
  o.fs = &fs;
  o.sync = WalSync::kInterval;
  o.sync_interval_ms = 10;
  o.appender_writes = true;
  o.segment_bytes = 4096;
  std::vector<Rec> replayed;
  auto wal = OpenOrDie(o, &replayed);
  std::vector<Rec> all;

  fs.SetSyncDelay(std::chrono::milliseconds(400));  // a slow disk
  all.push_back(AppendOrDie(wal.get(), MakeRec(0, 100)));
  REQUIRE(wal->WriteOut());  // unsynced now: the writer starts an interval sync
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // inside the 400 ms sync
  // WriteOut writes on the caller's thread while the sync runs, instead of
  // handing its group to the (busy) writer thread.
  auto start = std::chrono::steady_clock::now();
  for (int i = 1; i <= 5; ++i) {
    all.push_back(AppendOrDie(wal.get(), MakeRec(static_cast<uint64_t>(i), 100)));
    CHECK(wal->WriteOut());
    CHECK(wal->durable_seq() == all.back().seq);
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(200));

  // A write that rotates the segment closes its descriptor only after the
  // unlocked sync of it returned (it waits; it does not fail).
  for (int i = 6; i < 60; ++i) {
    all.push_back(AppendOrDie(wal.get(), MakeRec(static_cast<uint64_t>(i), 100)));
    CHECK(wal->WriteOut());
  }
  CHECK(wal->durable_seq() == all.back().seq);
  CHECK(wal->stats().write_errors == 0);
  fs.SetSyncDelay(std::chrono::milliseconds(0));

  wal.reset();
  replayed.clear();
  wal = OpenOrDie(o, &replayed);
  CHECK(replayed == all);
}

}  // namespace
}  // namespace strata
