// L3Store against a real RocksDB in a temporary directory. Time is a
// ManualClock, so expiry is tested by advancing it, never by sleeping.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/tiers/l3_test_util.h"
#include "tiers/rocksdb_store.h"

namespace strata {
namespace {

using testing::L3TempDir;
using testing::OpenL3;

L3Options Opts(const std::string& path, Clock* clock) {
  L3Options o;
  o.path = path + "/db";
  o.clock = clock;
  o.block_cache_bytes = 8 << 20;
  return o;
}

L3Value MustGet(L3Store* s, std::string_view key) {
  auto v = s->Get(key);
  INFO(v.status().ToString());
  REQUIRE(v.ok());
  return v.value();
}

std::string Key(int i) { return "key:" + std::to_string(i); }

TEST_CASE("l3 store: put, get, delete, expire round trip", "[l3]") {
  L3TempDir dir;
  ManualClock clock;
  auto s = OpenL3(Opts(dir.path(), &clock));
  bool applied = false, existed = false;

  REQUIRE(s->Put("a", "alpha", 0, false, false, &applied).ok());
  CHECK(applied);
  L3Value v = MustGet(s.get(), "a");
  CHECK(v.found);
  CHECK(v.value == "alpha");
  CHECK(v.expire_at_ms == 0);

  int64_t later = clock.NowMs() + 10'000;
  REQUIRE(s->Expire("a", later, &existed).ok());
  CHECK(existed);
  v = MustGet(s.get(), "a");
  CHECK(v.value == "alpha");
  CHECK(v.expire_at_ms == later);

  REQUIRE(s->Expire("missing", later, &existed).ok());
  CHECK_FALSE(existed);
  CHECK_FALSE(MustGet(s.get(), "missing").found);  // expire does not create

  REQUIRE(s->Expire("a", clock.NowMs(), &existed).ok());  // <= now deletes
  CHECK(existed);
  CHECK_FALSE(MustGet(s.get(), "a").found);

  REQUIRE(s->Put("b", "beta", 0, false, false, &applied).ok());
  REQUIRE(s->Delete("b", &existed).ok());
  CHECK(existed);
  CHECK_FALSE(MustGet(s.get(), "b").found);
  REQUIRE(s->Delete("b", &existed).ok());
  CHECK_FALSE(existed);
}

// One batch that exercises every rule of a batch, applied by Write or by
// Ingest over a DB holding "old", "kept", "gone" and "later"; returns the
// expiry it uses. CheckMixedBatch checks the outcome, the same for both.
int64_t ApplyMixedBatch(L3Store* s, ManualClock* clock, bool ingest) {
  bool applied = false;
  for (const char* k : {"old", "kept", "gone", "later"}) {
    REQUIRE(s->Put(k, std::string(1, k[0]), 0, false, false, &applied).ok());
  }
  const int64_t t = clock->NowMs() + 5000;
  std::vector<L3Write> batch = {
      {L3Write::Kind::kPut, "k1", "v1", 0},
      {L3Write::Kind::kPut, "k3", "first", 0},
      {L3Write::Kind::kExpire, "k1", "", t},  // same batch: must see v1
      {L3Write::Kind::kPut, "k2", "v2", 0},
      {L3Write::Kind::kDelete, "k2", "", 0},
      {L3Write::Kind::kExpire, "k2", "", t},      // deleted above: no-op
      {L3Write::Kind::kExpire, "old", "", 1},     // in the past: deletes
      {L3Write::Kind::kExpire, "nope", "", t},    // absent: no-op
      {L3Write::Kind::kExpire, "later", "", t},   // in the DB: read, rewritten
      {L3Write::Kind::kDelete, "gone", "", 0},    // a tombstone hides the DB's value
      {L3Write::Kind::kPut, "k3", "second", 0},   // the later write of a key wins
      {L3Write::Kind::kPut, "gone", "back", 0},
      {L3Write::Kind::kDelete, "gone", "", 0},
  };
  REQUIRE((ingest ? s->Ingest(batch) : s->Write(batch)).ok());
  return t;
}

void CheckMixedBatch(L3Store* s, int64_t t) {
  L3Value v = MustGet(s, "k1");
  CHECK(v.found);
  CHECK(v.value == "v1");
  CHECK(v.expire_at_ms == t);
  CHECK_FALSE(MustGet(s, "k2").found);
  CHECK_FALSE(MustGet(s, "old").found);
  CHECK_FALSE(MustGet(s, "nope").found);
  CHECK_FALSE(MustGet(s, "gone").found);
  CHECK(MustGet(s, "k3").value == "second");
  v = MustGet(s, "later");
  CHECK(v.value == "l");
  CHECK(v.expire_at_ms == t);
  CHECK(MustGet(s, "kept").value == "k");
}

TEST_CASE("l3 store: a batch applies in order, expire sees earlier writes of the batch", "[l3]") {
  L3TempDir dir;
  ManualClock clock;
  auto s = OpenL3(Opts(dir.path(), &clock));
  CheckMixedBatch(s.get(), ApplyMixedBatch(s.get(), &clock, /*ingest=*/false));
}

TEST_CASE("l3 store: Ingest gives the same result as Write, through one SST file", "[l3]") {
  L3TempDir dir;
  ManualClock clock;
  auto s = OpenL3(Opts(dir.path(), &clock));
  const int64_t t = ApplyMixedBatch(s.get(), &clock, /*ingest=*/true);
  CheckMixedBatch(s.get(), t);
  bool applied = false;
  CHECK(s->stats().ingested_files == 1);
  CHECK(s->stats().ingested_entries == 6);  // k1 k2 k3 old later gone; nothing for nope
  // TryGetCached sees the ingested file (its filter and index are cached).
  L3Value out;
  CHECK(s->TryGetCached("k2", &out) != L3Store::Cached::kHit);

  // Writes after an ingest win over it, and a later ingest over both.
  REQUIRE(s->Put("k3", "third", 0, false, false, &applied).ok());
  CHECK(MustGet(s.get(), "k3").value == "third");
  REQUIRE(s->Ingest({{L3Write::Kind::kPut, "k3", "fourth", 0}}).ok());
  CHECK(MustGet(s.get(), "k3").value == "fourth");
  REQUIRE(s->Flush().ok());
  REQUIRE(s->CompactAll().ok());
  CHECK(MustGet(s.get(), "k3").value == "fourth");
  CHECK_FALSE(MustGet(s.get(), "gone").found);

  // Only expiries of absent keys: nothing to write, no file.
  REQUIRE(s->Ingest({{L3Write::Kind::kExpire, "absent", "", t}}).ok());
  CHECK(s->stats().ingested_files == 2);
  REQUIRE(s->Ingest({}).ok());

  // The data survives a reopen, and no file is left in the ingest folder.
  s.reset();
  s = OpenL3(Opts(dir.path(), &clock));
  CHECK(MustGet(s.get(), "k3").value == "fourth");
  CHECK(MustGet(s.get(), "k1").expire_at_ms == t);
  CHECK(std::filesystem::is_empty(dir.path() + "/db/ingest"));
}

TEST_CASE("l3 store: Ingest of many random keys matches a map", "[l3]") {
  L3TempDir dir;
  ManualClock clock;
  auto s = OpenL3(Opts(dir.path(), &clock));
  std::map<std::string, std::string> model;
  std::mt19937 rng(7);
  // Keys that the ingest's sort must order by whole key: equal in their
  // first 16 bytes, shorter and longer than 16, with zero bytes, empty-ish.
  std::vector<std::string> pool;
  for (int i = 0; i < 3000; ++i) pool.push_back(Key(i));
  const std::string p16 = "sixteen-byte-pfx";
  for (int i = 0; i < 300; ++i) pool.push_back(p16 + std::to_string(i));
  for (int n = 0; n < 24; ++n) {
    pool.push_back(std::string(static_cast<size_t>(n) + 1, '\0'));
    pool.push_back(p16.substr(0, static_cast<size_t>(n % 17)) + std::string(1, '\0'));
    pool.push_back(std::string(static_cast<size_t>(n) + 1, '\xff'));
  }
  for (int round = 0; round < 5; ++round) {
    std::vector<std::string> keys, values;
    std::vector<L3Write> batch;
    keys.reserve(5000);
    values.reserve(5000);
    for (int i = 0; i < 5000; ++i) {
      keys.push_back(pool[rng() % pool.size()]);
      values.push_back("v" + std::to_string(round) + "-" + std::to_string(i));
    }
    for (int i = 0; i < 5000; ++i) {
      if (rng() % 5 == 0) {
        batch.push_back({L3Write::Kind::kDelete, keys[i], "", 0});
        model.erase(keys[i]);
      } else {
        batch.push_back({L3Write::Kind::kPut, keys[i], values[i], 0});
        model[keys[i]] = values[i];
      }
    }
    REQUIRE(s->Ingest(batch).ok());
  }
  for (const std::string& k : pool) {
    L3Value v = MustGet(s.get(), k);
    auto it = model.find(k);
    INFO(k);
    REQUIRE(v.found == (it != model.end()));
    if (v.found) CHECK(v.value == it->second);
  }
}

TEST_CASE("l3 store: expired entries are misses everywhere", "[l3]") {
  L3TempDir dir;
  ManualClock clock;
  auto s = OpenL3(Opts(dir.path(), &clock));
  bool applied = false, existed = false;
  REQUIRE(s->Put("k", "v", clock.NowMs() + 1000, false, false, &applied).ok());
  CHECK(MustGet(s.get(), "k").found);
  clock.Advance(1000);  // expiry == now counts as expired
  CHECK_FALSE(MustGet(s.get(), "k").found);
  L3Value out;
  CHECK(s->TryGetCached("k", &out) == L3Store::Cached::kMiss);
  // nx treats it as absent, xx as absent, delete/expire as not existing.
  REQUIRE(s->Put("k", "v2", 0, false, true, &applied).ok());
  CHECK_FALSE(applied);
  REQUIRE(s->Expire("k", clock.NowMs() + 1000, &existed).ok());
  CHECK_FALSE(existed);
  REQUIRE(s->Put("k", "v2", 0, true, false, &applied).ok());
  CHECK(applied);
  CHECK(MustGet(s.get(), "k").value == "v2");
}

TEST_CASE("l3 store: the compaction filter drops expired entries (level compaction)", "[l3]") {
  L3TempDir dir;
  ManualClock clock;
  auto s = OpenL3(Opts(dir.path(), &clock));
  bool applied = false;
  for (int i = 0; i < 200; ++i) {
    int64_t exp = i % 2 == 0 ? clock.NowMs() + 1000 : 0;
    REQUIRE(s->Put(Key(i), std::string(100, 'v'), exp, false, false, &applied).ok());
  }
  REQUIRE(s->CompactAll().ok());
  CHECK(s->stats().expired_dropped == 0);  // nothing expired yet
  clock.Advance(1001);
  REQUIRE(s->CompactAll().ok());
  CHECK(s->stats().expired_dropped == 100);  // judged by the injected clock
  for (int i = 0; i < 200; ++i) CHECK(MustGet(s.get(), Key(i)).found == (i % 2 == 1));
}

TEST_CASE("l3 store: FIFO (max_bytes) runs the filter in intra-L0 compactions", "[l3]") {
  L3TempDir dir;
  ManualClock clock;
  L3Options o = Opts(dir.path(), &clock);
  o.max_bytes = 64 << 20;  // far above what is written: nothing is trimmed
  auto s = OpenL3(o);
  bool applied = false;
  // Several small flushed files: FIFO's intra-L0 compaction merges them once
  // level0_file_num_compaction_trigger (4) files exist.
  for (int f = 0; f < 6; ++f) {
    for (int i = 0; i < 50; ++i) {
      int k = f * 50 + i;
      int64_t exp = k % 2 == 0 ? clock.NowMs() + 1000 : 0;
      REQUIRE(s->Put(Key(k), std::string(100, 'v'), exp, false, false, &applied).ok());
    }
    if (f == 0) clock.Advance(1001);  // the first file's even keys expire
    REQUIRE(s->Flush().ok());
  }
  clock.Advance(1001);  // now every even key has expired
  REQUIRE(s->CompactAll().ok());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (s->stats().expired_dropped == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  WARN("FIFO: expired entries dropped by the filter: " << s->stats().expired_dropped);
  CHECK(s->stats().expired_dropped > 0);
  for (int k = 0; k < 300; ++k) CHECK(MustGet(s.get(), Key(k)).found == (k % 2 == 1));
}

TEST_CASE("l3 store: reopening keeps the data (warm restart)", "[l3]") {
  L3TempDir dir;
  ManualClock clock;
  bool applied = false;
  {
    auto s = OpenL3(Opts(dir.path(), &clock));
    for (int i = 0; i < 100; ++i) {
      REQUIRE(s->Put(Key(i), "v" + std::to_string(i), 0, false, false, &applied).ok());
    }
    REQUIRE(s->Put("ttl", "t", clock.NowMs() + 500, false, false, &applied).ok());
    bool existed = false;
    REQUIRE(s->Delete(Key(7), &existed).ok());
  }  // not flushed: recovered from RocksDB's WAL
  auto s = OpenL3(Opts(dir.path(), &clock));
  for (int i = 0; i < 100; ++i) {
    L3Value v = MustGet(s.get(), Key(i));
    CHECK(v.found == (i != 7));
    if (i != 7) CHECK(v.value == "v" + std::to_string(i));
  }
  CHECK(MustGet(s.get(), "ttl").found);
  clock.Advance(500);
  CHECK_FALSE(MustGet(s.get(), "ttl").found);
}

TEST_CASE("l3 store: nx and xx", "[l3]") {
  L3TempDir dir;
  ManualClock clock;
  auto s = OpenL3(Opts(dir.path(), &clock));
  bool applied = false;
  REQUIRE(s->Put("k", "1", 0, false, true, &applied).ok());  // xx on absent
  CHECK_FALSE(applied);
  CHECK_FALSE(MustGet(s.get(), "k").found);
  REQUIRE(s->Put("k", "2", 0, true, false, &applied).ok());  // nx on absent
  CHECK(applied);
  REQUIRE(s->Put("k", "3", 0, true, false, &applied).ok());  // nx on present
  CHECK_FALSE(applied);
  CHECK(MustGet(s.get(), "k").value == "2");
  REQUIRE(s->Put("k", "4", 0, false, true, &applied).ok());  // xx on present
  CHECK(applied);
  CHECK(MustGet(s.get(), "k").value == "4");

  SECTION("concurrent nx on one key: exactly one wins, per round") {
    for (int round = 0; round < 20; ++round) {
      std::string key = "race:" + std::to_string(round);
      std::atomic<int> wins{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
          bool a = false;
          REQUIRE(s->Put(key, std::to_string(t), 0, true, false, &a).ok());
          if (a) wins++;
        });
      }
      for (auto& th : threads) th.join();
      CHECK(wins == 1);
    }
  }
}

TEST_CASE("l3 store: binary keys and values", "[l3]") {
  L3TempDir dir;
  ManualClock clock;
  auto s = OpenL3(Opts(dir.path(), &clock));
  std::string key("\0k\xff\x01", 4), value("\0\0v\xff\x80", 5), empty;
  bool applied = false;
  REQUIRE(s->Put(key, value, 0, false, false, &applied).ok());
  REQUIRE(s->Put(empty, empty, 0, false, false, &applied).ok());
  CHECK(MustGet(s.get(), key).value == value);
  CHECK_FALSE(MustGet(s.get(), std::string("\0k", 2)).found);
  L3Value e = MustGet(s.get(), empty);
  CHECK(e.found);
  CHECK(e.value.empty());
}

TEST_CASE("l3 store: TryGetCached answers from memory or asks for I/O", "[l3]") {
  L3TempDir dir;
  ManualClock clock;
  L3Options o = Opts(dir.path(), &clock);
  bool applied = false;
  {
    auto s = OpenL3(o);
    REQUIRE(s->Put("hot", "h", 0, false, false, &applied).ok());
    L3Value v;
    CHECK(s->TryGetCached("hot", &v) == L3Store::Cached::kHit);  // memtable
    CHECK(v.value == "h");
    CHECK(s->TryGetCached("absent", &v) == L3Store::Cached::kMiss);
    for (int i = 0; i < 1000; ++i) {
      REQUIRE(s->Put(Key(i), std::string(200, 'x'), 0, false, false, &applied).ok());
    }
    REQUIRE(s->Flush().ok());
  }
  auto s = OpenL3(o);  // cold block cache
  L3Value v;
  L3Store::Cached first = s->TryGetCached(Key(500), &v);
  WARN("after reopen, present key: " << (first == L3Store::Cached::kHit    ? "kHit"
                                         : first == L3Store::Cached::kMiss ? "kMiss"
                                                                           : "kNeedsIo"));
  CHECK(first == L3Store::Cached::kNeedsIo);  // the data block is on disk only
  L3Store::Cached absent = s->TryGetCached("absent", &v);
  WARN("after reopen, absent key: " << (absent == L3Store::Cached::kHit    ? "kHit"
                                        : absent == L3Store::Cached::kMiss ? "kMiss"
                                                                           : "kNeedsIo"));
  CHECK(absent != L3Store::Cached::kHit);
  CHECK(MustGet(s.get(), Key(500)).found);  // the I/O read fills the block cache
  CHECK(s->TryGetCached(Key(500), &v) == L3Store::Cached::kHit);
  CHECK(s->TryGetCached(Key(501), &v) == L3Store::Cached::kHit);  // same block
  auto st = s->stats();
  CHECK(st.io_reads == 1);
  CHECK(st.cached_hits == 2);
}

TEST_CASE("l3 store: compression names", "[l3]") {
  L3TempDir dir;
  ManualClock clock;
  for (const char* c : {"zstd", "none", "lz4"}) {
    L3Options o = Opts(dir.path() + "/" + c, &clock);
    o.compression = c;
    auto s = OpenL3(o);
    bool applied = false;
    REQUIRE(s->Put("k", std::string(10000, 'z'), 0, false, false, &applied).ok());
    REQUIRE(s->Flush().ok());
    CHECK(MustGet(s.get(), "k").value == std::string(10000, 'z'));
  }
  L3Options bad = Opts(dir.path() + "/bad", &clock);
  bad.compression = "snappy";
  auto s = L3Store::Open(bad);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().code() == Code::kBadArgs);
  CHECK(s.status().message().find("l3.compression") != std::string::npos);
}

TEST_CASE("l3 store: under max_bytes, ingested files are trimmed oldest first", "[l3]") {
  L3TempDir dir;
  ManualClock clock;
  L3Options o = Opts(dir.path(), &clock);
  o.max_bytes = 2 << 20;
  o.compression = "none";
  auto s = OpenL3(o);
  std::mt19937_64 rng(9);
  std::string value(4096, '\0');
  // 16 files of 128 x 4 KiB = 512 KiB each; unpadded numbers, so their key
  // ranges interleave ("k:1000" < "k:200").
  for (int f = 0; f < 16; ++f) {
    std::vector<std::string> keys;
    std::vector<std::string> values;
    std::vector<L3Write> batch;
    for (int i = 0; i < 128; ++i) {
      keys.push_back("k:" + std::to_string(f * 128 + i));
      for (char& c : value) c = static_cast<char>(rng());
      values.push_back(value);
    }
    for (int i = 0; i < 128; ++i) batch.push_back({L3Write::Kind::kPut, keys[i], values[i], 0});
    REQUIRE(s->Ingest(batch).ok());
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (s->disk_bytes() > (3u << 20) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(s->disk_bytes() <= (3u << 20));
  CHECK(s->stats().trimmed_bytes > (4u << 20));
  for (int i = 15 * 128; i < 16 * 128; ++i) {
    INFO(i);
    REQUIRE(MustGet(s.get(), "k:" + std::to_string(i)).found);  // the newest file stays
  }
  CHECK_FALSE(MustGet(s.get(), "k:0").found);  // the oldest went first
}

TEST_CASE("l3 store: max_bytes bounds the disk, drops oldest first, never resurrects", "[l3]") {
  L3TempDir dir;
  ManualClock clock;
  L3Options o = Opts(dir.path(), &clock);
  o.max_bytes = 8 << 20;  // automatic write buffer: 512 KiB
  o.compression = "none";
  auto s = OpenL3(o);
  std::mt19937_64 rng(42);
  auto random_value = [&](size_t n) {
    std::string v(n, '\0');
    for (size_t i = 0; i < n; i += 8) {
      uint64_t r = rng();
      for (size_t j = 0; j < 8 && i + j < n; ++j) v[i + j] = static_cast<char>(r >> (8 * j));
    }
    return v;
  };
  bool applied = false, existed = false;
  // Early: keys deleted, and keys overwritten, while their old versions sit
  // in older files than the tombstone / new version.
  for (int i = 0; i < 100; ++i) {
    REQUIRE(s->Put("gone:" + std::to_string(i), "old", 0, false, false, &applied).ok());
    REQUIRE(s->Put("over:" + std::to_string(i), "old", 0, false, false, &applied).ok());
  }
  REQUIRE(s->Flush().ok());
  constexpr size_t kValue = 4096;
  constexpr int kKeys = 10 * 1024;  // 40 MiB
  auto start = std::chrono::steady_clock::now();
  uint64_t peak = 0;
  for (int i = 0; i < kKeys; ++i) {
    if (i == 256) {
      for (int j = 0; j < 100; ++j) {
        REQUIRE(s->Delete("gone:" + std::to_string(j), &existed).ok());
        REQUIRE(s->Put("over:" + std::to_string(j), "new", 0, false, false, &applied).ok());
      }
    }
    REQUIRE(s->Put(Key(i), random_value(kValue), 0, false, false, &applied).ok());
    if (i % 64 == 0) peak = std::max(peak, s->disk_bytes());
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // FIFO deletes in the background after a flush: give it a moment.
  const uint64_t bound = o.max_bytes + 3 * (512 << 10);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (s->disk_bytes() > bound && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto st = s->stats();
  WARN("max_bytes 8 MiB, 40 MiB written in " << secs << " s; disk now " << st.disk_bytes
                                             << " B, peak sampled " << peak << " B, trimmed "
                                             << st.trimmed_bytes << " B");
  CHECK(st.disk_bytes <= bound);
  // While writing flat out, flushes and FIFO's deletions lag a little, and an
  // intra-L0 compaction's output exists next to its inputs until it ends.
  CHECK(peak <= o.max_bytes + o.max_bytes / 2);
  CHECK(st.trimmed_bytes > 20ull << 20);
  // The newest ~4 MiB (half the budget) are all there.
  for (int i = kKeys - 1024; i < kKeys; ++i) {
    INFO(i);
    REQUIRE(MustGet(s.get(), Key(i)).found);
  }
  CHECK_FALSE(MustGet(s.get(), Key(0)).found);  // the oldest went first
  for (int j = 0; j < 100; ++j) {
    CHECK_FALSE(MustGet(s.get(), "gone:" + std::to_string(j)).found);
    L3Value v = MustGet(s.get(), "over:" + std::to_string(j));
    if (v.found) CHECK(v.value == "new");  // trimmed or new, never the old version
  }
  // And after a restart too.
  s.reset();
  s = OpenL3(o);
  for (int j = 0; j < 100; ++j) CHECK_FALSE(MustGet(s.get(), "gone:" + std::to_string(j)).found);
  CHECK(MustGet(s.get(), Key(kKeys - 1)).found);
}

}  // namespace
}  // namespace strata
