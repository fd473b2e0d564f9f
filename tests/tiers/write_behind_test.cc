// WriteBehind with a journal that runs out of space (FaultFs) and an L2 that
// is down (a Unix socket path nobody listens on), so that acknowledged writes
// stay unconfirmed in the pending map and the drain queue.
#include "tiers/write_behind.h"

#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/tiers/l3_test_util.h"
#include "tests/wal/wal_test_util.h"

namespace strata {
namespace {

using wal_test::FaultFs;

class Fixture {
 public:
  Fixture() : l1_(L1Options{}) {
    WriteBehindOptions o;
    o.wal.dir = "/wal";
    o.wal.fs = &fs_;
    o.wal.sync = WalSync::kNever;  // the WAL thread writes each group
    o.l1 = &l1_;
    o.pending = &pending_;
    o.l2 = true;  // down: nothing is ever confirmed
    RedisEndpoint dead;
    dead.kind = RedisEndpoint::Kind::kUnix;
    dead.path = "/nonexistent/strata-write-behind-test.sock";
    o.l2_options.endpoints.push_back(dead);
    o.retry_base_ms = 1000;
    auto wb = WriteBehind::Open(std::move(o));
    REQUIRE(wb.ok());
    wb_ = std::move(wb).value();
  }

  // Journals a set and waits until the journal wrote it or failed it;
  // returns whether it was written (a failed one is resolved here, as the
  // loop's JournalWriter does).
  bool Set(const std::string& key, const std::string& value, uint64_t* seq = nullptr) {
    WriteBehind::Write w;
    w.key = key;
    w.value = value;
    return Finish(w, seq);
  }
  bool Expire(const std::string& key, int64_t at_ms) {
    WriteBehind::Write w;
    w.op = WriteBehind::Op::kExpire;
    w.key = key;
    w.expire_at_ms = at_ms;
    return Finish(w, nullptr);
  }
  bool Delete(const std::string& key) {
    WriteBehind::Write w;
    w.op = WriteBehind::Op::kDelete;
    w.key = key;
    return Finish(w, nullptr);
  }

  // What a read on this sidecar answers (L1, then the pending map); the
  // tiers below hold nothing (L2 is down).
  std::string Read(const std::string& key) {
    std::string v;
    if (l1_.Lookup(key, &v)) return v;
    PendingWrite p;
    if (pending_.Lookup(key, &p) && p.op == PendingWrite::Op::kSet) return p.value;
    return "(nil)";
  }

  FaultFs fs_;
  L1Cache l1_;
  PendingWrites pending_;
  std::unique_ptr<WriteBehind> wb_;

 private:
  bool Finish(const WriteBehind::Write& w, uint64_t* seq_out) {
    WriteBehind::Journaled j = wb_->Journal(w);
    REQUIRE(j.status.ok());
    REQUIRE(j.seq != 0);
    if (seq_out != nullptr) *seq_out = j.seq;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (wb_->Failed(j.seq)) {
        wb_->ResolveFailed(j.seq);
        return false;
      }
      if (wb_->Satisfied(j.seq, WriteBehind::Ack::kWritten)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    FAIL("write " << j.seq << " neither written nor failed within 10 s");
    return false;
  }
};

TEST_CASE("write-behind: a failed rewrite leaves the key's acknowledged value readable",
          "[write_behind]") {
  Fixture f;
  REQUIRE(f.Set("k", "A"));
  REQUIRE(f.Set("other", "x"));
  CHECK(f.Read("k") == "A");

  f.fs_.SetCapacity(0);  // the disk is full
  CHECK_FALSE(f.Set("k", "B"));
  // B is taken back; A (acknowledged, still unconfirmed) is the answer.
  CHECK(f.Read("k") == "A");
  CHECK_FALSE(f.l1_.Lookup("k", nullptr));  // L1 dropped B; the pending map answers
  PendingWrite p;
  REQUIRE(f.pending_.Lookup("k", &p));
  CHECK(p.value == "A");
  CHECK(f.wb_->counters().wal_failures.load() == 1);

  // A key whose only write failed reads as absent, as before.
  CHECK_FALSE(f.Set("fresh", "F"));
  CHECK(f.Read("fresh") == "(nil)");
  CHECK_FALSE(f.pending_.Lookup("fresh", &p));

  // Space returns: writes work again, and the failed ones never reach the
  // drain (every record still queued is one that was written).
  f.fs_.SetCapacity(UINT64_MAX);
  REQUIRE(f.Set("k", "C"));
  CHECK(f.Read("k") == "C");
  CHECK(f.wb_->backlog_records() == 5);  // k=A, other, k=B (withdrawn), fresh (withdrawn), k=C
}

TEST_CASE("write-behind: several failed rewrites restore the newest write that counts",
          "[write_behind]") {
  Fixture f;
  REQUIRE(f.Set("k", "A"));
  const int64_t at = SystemClock::Default()->NowMs() + 3'600'000;
  REQUIRE(f.Expire("k", at));  // merged into the pending set: A with an expiry

  f.fs_.SetCapacity(0);
  // Journal two more writes of k before either is resolved: both fail.
  WriteBehind::Write b;
  b.key = "k";
  b.value = "B";
  WriteBehind::Journaled jb = f.wb_->Journal(b);
  WriteBehind::Write d;
  d.op = WriteBehind::Op::kDelete;
  d.key = "k";
  WriteBehind::Journaled jd = f.wb_->Journal(d);
  REQUIRE(jb.seq != 0);
  REQUIRE(jd.seq > jb.seq);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!(f.wb_->Failed(jb.seq) && f.wb_->Failed(jd.seq)) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  REQUIRE(f.wb_->Failed(jd.seq));
  // The newest is resolved first: B is skipped (it failed too).
  f.wb_->ResolveFailed(jd.seq);
  PendingWrite p;
  REQUIRE(f.pending_.Lookup("k", &p));
  CHECK(p.op == PendingWrite::Op::kSet);
  CHECK(p.value == "A");
  CHECK(p.expire_at_ms == at);
  f.wb_->ResolveFailed(jb.seq);  // no longer the newest: nothing changes
  f.wb_->ResolveFailed(jb.seq);  // twice is harmless
  REQUIRE(f.pending_.Lookup("k", &p));
  CHECK(p.value == "A");
  CHECK(f.Read("k") == "A");
  CHECK(f.wb_->counters().wal_failures.load() == 2);

  // A failed write after an acknowledged delete: the key stays deleted.
  f.fs_.SetCapacity(UINT64_MAX);
  REQUIRE(f.Delete("k"));
  f.fs_.SetCapacity(0);
  CHECK_FALSE(f.Set("k", "E"));
  REQUIRE(f.pending_.Lookup("k", &p));
  CHECK(p.op == PendingWrite::Op::kDelete);
  CHECK(f.Read("k") == "(nil)");
}

// Write-behind over a real L3 (RocksDB in a temp dir), no L2: the staged
// L3 writes and their ingest.
class L3Fixture {
 public:
  // linger_ms >= 0: drain_linger_ms (with the default drain_min_batch).
  explicit L3Fixture(uint64_t stage_bytes, int64_t stage_ms, int64_t linger_ms = -1)
      : l1_(L1Options{}) {
    L3Options lo;
    lo.path = dir_.path() + "/l3";
    l3_ = testing::OpenL3(lo);
    WriteBehindOptions o;
    o.wal.dir = dir_.path() + "/wal";
    o.wal.sync = WalSync::kNever;
    o.l1 = &l1_;
    o.pending = &pending_;
    o.l3 = l3_.get();
    o.l3_stage_bytes = stage_bytes;
    o.l3_stage_ms = stage_ms;
    o.checkpoint_interval_ms = 20;
    if (linger_ms >= 0) o.drain_linger_ms = linger_ms;
    auto wb = WriteBehind::Open(std::move(o));
    REQUIRE(wb.ok());
    wb_ = std::move(wb).value();
  }
  uint64_t Write(WriteBehind::Op op, const std::string& key, const std::string& value,
                 int64_t expire_at_ms = 0) {
    WriteBehind::Write w;
    w.op = op;
    w.key = key;
    w.value = value;
    w.expire_at_ms = expire_at_ms;
    WriteBehind::Journaled j = wb_->Journal(w);
    REQUIRE(j.status.ok());
    return j.seq;
  }
  bool WaitConfirmed(uint64_t seq, int seconds = 10) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (wb_->confirmed_seq() < seq && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return wb_->confirmed_seq() >= seq;
  }
  L3Value Get(const std::string& key) {
    auto v = l3_->Get(key);
    REQUIRE(v.ok());
    return v.value();
  }

  testing::L3TempDir dir_;
  L1Cache l1_;
  PendingWrites pending_;
  std::unique_ptr<L3Store> l3_;
  std::unique_ptr<WriteBehind> wb_;
};

TEST_CASE("write-behind: L3 writes are staged, then ingested as one file after l3_stage_ms",
          "[write_behind]") {
  L3Fixture f(/*stage_bytes=*/64 << 20, /*stage_ms=*/300);
  const int64_t at = SystemClock::Default()->NowMs() + 3'600'000;
  auto start = std::chrono::steady_clock::now();
  f.Write(WriteBehind::Op::kSet, "a", "1");
  f.Write(WriteBehind::Op::kSet, "b", "2");
  f.Write(WriteBehind::Op::kSet, "gone", "x");
  f.Write(WriteBehind::Op::kDelete, "gone", "");
  uint64_t last = f.Write(WriteBehind::Op::kExpire, "a", "", at);
  // Staged, not in L3 yet: the pending map answers.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_FALSE(f.Get("a").found);
  CHECK(f.pending_.size() == 3);
  REQUIRE(f.WaitConfirmed(last));
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(300));
  L3Value a = f.Get("a");
  CHECK(a.value == "1");
  CHECK(a.expire_at_ms == at);
  CHECK(f.Get("b").value == "2");
  CHECK_FALSE(f.Get("gone").found);
  CHECK(f.pending_.size() == 0);
  CHECK(f.wb_->counters().l3_ingests.load() == 1);
  CHECK(f.l3_->stats().ingested_files == 1);
  CHECK(f.wb_->counters().drained_records.load() == 5);
  CHECK(f.wb_->backlog_records() == 0);
  // The stage was written with Ingest, not through the memtable.
  CHECK(f.l3_->stats().ingested_entries == 3);
}

TEST_CASE("write-behind: a full stage, a through write and Stop each ingest at once",
          "[write_behind]") {
  SECTION("stage bytes") {
    L3Fixture f(/*stage_bytes=*/4096, /*stage_ms=*/600'000);
    for (int wave = 0; wave < 3; ++wave) {
      uint64_t last = 0;
      // Each record is larger than the 4 KiB stage, so any batch makes it
      // due at once (not after the 10-minute l3_stage_ms).
      for (int i = 0; i < 10; ++i) {
        last = f.Write(WriteBehind::Op::kSet, "k" + std::to_string(wave * 10 + i),
                       std::string(5000, 'v'));
      }
      REQUIRE(f.WaitConfirmed(last, 5));
      CHECK(f.wb_->counters().l3_ingests.load() >= static_cast<uint64_t>(wave + 1));
    }
    CHECK(f.Get("k0").found);
    CHECK(f.Get("k29").found);
  }
  SECTION("through") {
    L3Fixture f(/*stage_bytes=*/64 << 20, /*stage_ms=*/600'000);
    f.Write(WriteBehind::Op::kSet, "before", "b");
    uint64_t seq = f.Write(WriteBehind::Op::kSet, "through", "t");
    f.wb_->ConfirmSoon(seq);
    REQUIRE(f.WaitConfirmed(seq, 5));
    CHECK(f.Get("through").value == "t");
    CHECK(f.Get("before").value == "b");
  }
  SECTION("no staging (l3_stage_bytes = 0): every batch is one WriteBatch") {
    L3Fixture f(/*stage_bytes=*/0, /*stage_ms=*/600'000);
    f.Write(WriteBehind::Op::kSet, "w", "1");
    uint64_t seq = f.Write(WriteBehind::Op::kExpire, "w", "",
                           SystemClock::Default()->NowMs() + 60'000);
    REQUIRE(f.WaitConfirmed(seq, 5));
    CHECK(f.Get("w").value == "1");
    CHECK(f.Get("w").expire_at_ms > 0);
    CHECK(f.wb_->counters().l3_ingests.load() == 0);
    CHECK(f.l3_->stats().ingested_files == 0);
  }
  SECTION("stop") {
    L3Fixture f(/*stage_bytes=*/64 << 20, /*stage_ms=*/600'000);
    for (int i = 0; i < 50; ++i) f.Write(WriteBehind::Op::kSet, "s" + std::to_string(i), "v");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK_FALSE(f.Get("s0").found);
    CHECK(f.wb_->Stop(SystemClock::Default()->NowMs() + 10'000) == 0);
    CHECK(f.Get("s49").found);
    CHECK(f.wb_->counters().l3_ingests.load() == 1);
  }
}

TEST_CASE("write-behind: the drain lingers for a fuller batch, but not for a through write",
          "[write_behind]") {
  // No staging: each batch goes to L3 when the drain takes it. A 5 s linger
  // and a batch far below drain_min_batch.
  L3Fixture f(/*stage_bytes=*/0, /*stage_ms=*/600'000, /*linger_ms=*/5000);
  REQUIRE(WriteBehindOptions{}.drain_min_batch > 2);
  const uint64_t first = f.Write(WriteBehind::Op::kSet, "behind", "b");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(f.wb_->confirmed_seq() < first);  // waiting for more, up to 5 s
  // A through write is answered after its confirmation: no lingering. It
  // takes the queued write along.
  const uint64_t seq = f.Write(WriteBehind::Op::kSet, "through", "t");
  f.wb_->ConfirmSoon(seq);
  REQUIRE(f.WaitConfirmed(seq, 2));
  CHECK(f.Get("through").value == "t");
  CHECK(f.Get("behind").value == "b");
}

TEST_CASE("write-behind: confirmed records are freed by later writes, or by the drain when idle",
          "[write_behind]") {
  L3Fixture f(/*stage_bytes=*/0, /*stage_ms=*/600'000, /*linger_ms=*/0);
  uint64_t last = 0;
  for (int i = 0; i < 200; ++i) last = f.Write(WriteBehind::Op::kSet, "k" + std::to_string(i), "v");
  REQUIRE(f.WaitConfirmed(last));
  // No more writes: the drain's checkpoint tick (20 ms here) frees what the
  // writers did not.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (f.wb_->records_to_free() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(f.wb_->records_to_free() == 0);
  CHECK(f.Get("k199").value == "v");
}

// The nice value of this process's thread named `name`, or -100 if none.
int NiceOfThread(const std::string& name) {
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string c;
    std::getline(comm, c);
    if (c != name) continue;
    std::ifstream stat(task.path() / "stat");
    std::string line;
    std::getline(stat, line);
    // Fields after "(comm) ": state is field 3, nice field 19.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    for (int i = 3; i <= 19; ++i) rest >> field;
    return std::stoi(field);
  }
  return -100;
}

TEST_CASE("write-behind: the drain thread is named and runs nicer than the loops",
          "[write_behind]") {
  errno = 0;
  const int ours = getpriority(PRIO_PROCESS, 0);
  REQUIRE(errno == 0);
  Fixture f;
  int nice = -100;
  for (int i = 0; i < 1000 && nice != std::min(19, ours + 10); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // it sets it when it starts
    nice = NiceOfThread("strata-drain");
  }
  CHECK(nice == std::min(19, ours + 10));
  CHECK(getpriority(PRIO_PROCESS, 0) == ours);  // the caller's thread is untouched
}

}  // namespace
}  // namespace strata
