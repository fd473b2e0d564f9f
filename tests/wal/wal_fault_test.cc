// Power loss and full disks, through FaultFs.
#include <catch2/catch.hpp>
#include <map>
#include <thread>
#include <vector>

#include "tests/wal/wal_test_util.h"
#include "wal/wal.h"

namespace strata {
namespace {

using wal_test::AppendOrDie;
using wal_test::FaultFs;
using wal_test::MakeRec;
using wal_test::OpenOrDie;
using wal_test::Rec;

// Replayed records are a prefix of `appended` (same records, same order).
void CheckPrefix(const std::vector<Rec>& replayed, const std::vector<Rec>& appended) {
  REQUIRE(replayed.size() <= appended.size());
  for (size_t i = 0; i < replayed.size(); ++i) REQUIRE(replayed[i] == appended[i]);
}

TEST_CASE("wal: kAlways: power loss keeps every record <= durable_seq", "[wal]") {
  const bool prealloc = GENERATE(false, true);
  INFO("preallocate " << prealloc);
  FaultFs fs;
  fs.SetPreallocate(prealloc);
  fs.SetSyncDelay(std::chrono::microseconds(300));
  WalOptions o;
  o.dir = "/wal";
  o.fs = &fs;
  o.sync = WalSync::kAlways;
  o.segment_bytes = 8192;
  for (int round = 0; round < 3; ++round) {
    std::vector<Rec> appended;
    std::vector<Rec> replayed;
    auto wal = OpenOrDie(o, &replayed);
    const uint64_t base = wal->last_seq();
    std::vector<std::thread> threads;
    std::mutex mu;
    std::map<uint64_t, Rec> by_seq;
    if (prealloc) {
      // Write until a segment started in a spare, so the power goes while
      // preallocated segments are in use (the helper thread's timing alone
      // does not promise it).
      for (uint64_t i = 0; i < 2000 && wal->stats().preallocated_used == 0; ++i) {
        Rec r = AppendOrDie(wal.get(), MakeRec(5000 + i));
        by_seq[r.seq] = r;
        if (i % 10 == 9) REQUIRE(wal->Flush().ok());
      }
      REQUIRE(wal->stats().preallocated_used > 0);
    }
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 300; ++i) {
          Rec r = MakeRec(static_cast<uint64_t>(t * 1000 + i));
          if (!wal->Append(r.View(), &r.seq).ok()) return;
          std::lock_guard<std::mutex> lock(mu);
          by_seq[r.seq] = r;
        }
      });
    }
    REQUIRE(wal_test::WaitFor([&] { return wal->durable_seq() > base; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(round * 3));
    const uint64_t durable = wal->durable_seq();  // read first: all of it was synced before
    fs.Crash();
    for (auto& th : threads) th.join();
    wal.reset();  // its last writes fail: the power is off
    fs.Reboot();

    replayed.clear();
    wal = OpenOrDie(o, &replayed);
    INFO("round " << round << " durable " << durable << " replayed " << replayed.size());
    CHECK(durable > base);
    // Every durable record is back, nothing else but records that were
    // appended, in order and intact.
    uint64_t expect = base + 1;
    for (const Rec& r : replayed) {
      if (r.seq <= base) continue;  // from an earlier round
      REQUIRE(r.seq == expect);
      REQUIRE(by_seq.count(r.seq) == 1);
      CHECK(r == by_seq[r.seq]);
      ++expect;
    }
    CHECK(expect - 1 >= durable);
    // In a preallocated segment, what the power took is zeros again: the
    // segment's clean end, not damage.
    if (prealloc) CHECK(wal->stats().truncated_tails == 0);
    // Start the next round from what survived.
    wal->SetCheckpoint(wal->last_seq());
  }
}

TEST_CASE("wal: kNever and kInterval lose only unsynced data on power loss", "[wal]") {
  const bool prealloc = GENERATE(false, true);
  INFO("preallocate " << prealloc);
  for (WalSync mode : {WalSync::kNever, WalSync::kInterval}) {
    FaultFs fs;
    fs.SetPreallocate(prealloc);
    WalOptions o;
    o.dir = "/wal";
    o.fs = &fs;
    o.sync = mode;
    o.sync_interval_ms = 5;
    o.segment_bytes = 4096;
    std::vector<Rec> appended;
    std::vector<Rec> replayed;
    auto wal = OpenOrDie(o, &replayed);
    for (uint64_t i = 0; i < 100; ++i) appended.push_back(AppendOrDie(wal.get(), MakeRec(i)));
    REQUIRE(wal_test::WaitFor([&] { return wal->durable_seq() == 100; }));
    // kInterval: wait until an interval sync has covered the first batch.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const uint64_t syncs_first_batch = fs.syncs();
    for (uint64_t i = 100; i < 200; ++i) appended.push_back(AppendOrDie(wal.get(), MakeRec(i)));
    REQUIRE(wal_test::WaitFor([&] { return wal->durable_seq() == 200; }));
    fs.Crash();
    wal.reset();
    fs.Reboot();

    replayed.clear();
    wal = OpenOrDie(o, &replayed);
    INFO("mode " << static_cast<int>(mode) << " replayed " << replayed.size());
    CheckPrefix(replayed, appended);
    if (mode == WalSync::kNever) {
      if (!prealloc) CHECK(syncs_first_batch == 0);  // (a spare's zeros are synced)
      CHECK(replayed.empty());  // no record was ever synced
    } else {
      CHECK(syncs_first_batch >= 1);
      CHECK(replayed.size() >= 100);
    }
    // The log goes on from what survived.
    Rec r = AppendOrDie(wal.get(), MakeRec(999));
    CHECK(r.seq == replayed.size() + 1);
  }
}

TEST_CASE("wal: a full disk fails groups, keeps durable data, recovers with space", "[wal]") {
  for (WalSync mode : {WalSync::kAlways, WalSync::kNever}) {
    FaultFs fs;
    WalOptions o;
    o.dir = "/wal";
    o.fs = &fs;
    o.sync = mode;
    o.segment_bytes = 2048;
    std::vector<Rec> durable_recs;
    std::vector<Rec> replayed;
    auto wal = OpenOrDie(o, &replayed);
    std::atomic<int> wakes{0};
    wal->AddWaker([&] { wakes.fetch_add(1); });

    for (uint64_t i = 0; i < 20; ++i) durable_recs.push_back(AppendOrDie(wal.get(), MakeRec(i, 60)));
    REQUIRE(wal->Flush().ok());
    REQUIRE(wal->durable_seq() == 20);
    fs.SetCapacity(2500);  // a little more room, then ENOSPC

    std::vector<Rec> tried;
    for (uint64_t i = 20; i < 80; ++i) {
      tried.push_back(AppendOrDie(wal.get(), MakeRec(i, 60)));
      if (i % 5 == 0) (void)wal->Flush();  // several groups
    }
    Status flushed = wal->Flush();
    INFO("mode " << static_cast<int>(mode) << ": " << flushed.ToString());
    CHECK_FALSE(flushed.ok());
    CHECK(wal->failed_seq() == 80);
    CHECK(wal->durable_seq() < 80);
    CHECK(wal->last_error().message().find("No space left on device") != std::string::npos);
    CHECK(wal->stats().write_errors > 0);
    CHECK(wakes.load() > 0);
    for (const Rec& r : tried) {
      Wal::SeqState st = wal->StateOf(r.seq);
      CHECK(st != Wal::SeqState::kPending);
      if (st == Wal::SeqState::kDurable) durable_recs.push_back(r);
    }
    CHECK(durable_recs.size() < 80);
    CHECK(wal->StateOf(80) == Wal::SeqState::kFailed);
    for (uint64_t s = 1; s <= 20; ++s) CHECK(wal->StateOf(s) == Wal::SeqState::kDurable);

    // Space returns: new appends become durable.
    fs.SetCapacity(UINT64_MAX);
    for (uint64_t i = 100; i < 130; ++i) durable_recs.push_back(AppendOrDie(wal.get(), MakeRec(i, 60)));
    REQUIRE(wal->Flush().ok());
    CHECK(wal->durable_seq() == 110);
    CHECK(wal->StateOf(110) == Wal::SeqState::kDurable);
    CHECK(wal->StateOf(80) == Wal::SeqState::kFailed);  // still, though durable_seq passed it

    // Replay has exactly the durable records: none of the failed ones, no garbage.
    wal.reset();
    replayed.clear();
    wal = OpenOrDie(o, &replayed);
    CHECK(replayed == durable_recs);
    CHECK(wal->stats().truncated_tails == 0);
  }
}

TEST_CASE("wal: a spare that cannot be made is counted and removed; plain segments go on",
          "[wal]") {
  FaultFs fs;
  fs.SetPreallocate(true);
  WalOptions o;
  o.dir = "/wal";
  o.fs = &fs;
  o.sync = WalSync::kAlways;
  o.segment_bytes = 4096;
  fs.SetCapacity(3000);  // records fit; a 4 KiB spare next to them does not
  std::vector<Rec> appended;
  std::vector<Rec> replayed;
  auto wal = OpenOrDie(o, &replayed);
  for (uint64_t i = 0; i < 10; ++i) appended.push_back(AppendOrDie(wal.get(), MakeRec(i, 40)));
  REQUIRE(wal->Flush().ok());
  REQUIRE(wal_test::WaitFor([&] { return wal->stats().prealloc_failures > 0; }));
  CHECK(wal->stats().preallocated == 0);
  CHECK(fs.Contents("/wal/spare-segment.tmp").empty());  // the partial spare is gone
  // Its space is back: more records fit, in plain segments.
  for (uint64_t i = 10; i < 20; ++i) appended.push_back(AppendOrDie(wal.get(), MakeRec(i, 40)));
  REQUIRE(wal->Flush().ok());
  CHECK(wal->stats().preallocated_used == 0);
  wal.reset();
  replayed.clear();
  wal = OpenOrDie(o, &replayed);
  CHECK(replayed == appended);
}

TEST_CASE("wal: no spare where preallocating does not pay", "[wal]") {
  FaultFs fs;  // WorthPreallocating: no
  WalOptions o;
  o.dir = "/wal";
  o.fs = &fs;
  o.segment_bytes = 4096;
  std::vector<Rec> replayed;
  auto wal = OpenOrDie(o, &replayed);
  for (uint64_t i = 0; i < 200; ++i) AppendOrDie(wal.get(), MakeRec(i));
  REQUIRE(wal->Flush().ok());
  CHECK(wal->stats().segments > 3);
  CHECK(wal->stats().preallocated == 0);
  CHECK(wal->stats().prealloc_failures == 0);
  CHECK(fs.Contents("/wal/spare-segment.tmp").empty());
}

TEST_CASE("wal: a failing WAL with a full group buffer returns the error", "[wal]") {
  FaultFs fs;
  WalOptions o;
  o.dir = "/wal";
  o.fs = &fs;
  o.sync = WalSync::kNever;
  fs.SetCapacity(0);
  std::vector<Rec> replayed;
  auto wal = OpenOrDie(o, &replayed);
  uint64_t seq = 0;
  REQUIRE(wal->Append(MakeRec(0, 10).View(), &seq).ok());
  REQUIRE(wal_test::WaitFor([&] { return wal->failed_seq() == 1; }));
  // One record bigger than the group cap fills the group on its own; the
  // next one finds it full while the WAL is failing, unless the writer has
  // already taken it (then it fails as a group instead).
  std::string big(5 << 20, 'x');
  Status s1 = wal->Append(WalRecord{0, WalOp::kSet, 0, "big", big}, &seq);
  CHECK(s1.ok());
  Status s2 = wal->Append(WalRecord{0, WalOp::kSet, 0, "k", "v"}, &seq);
  if (!s2.ok()) CHECK(s2.message().find("No space") != std::string::npos);
  REQUIRE(wal_test::WaitFor([&] { return wal->failed_seq() == wal->last_seq(); }));
  CHECK(wal->durable_seq() == 0);
}

}  // namespace
}  // namespace strata
