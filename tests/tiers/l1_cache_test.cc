#include "tiers/l1_cache.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>

namespace strata {
namespace {

WriteOptions Opts(int64_t expire_at = 0, WriteCondition c = WriteCondition::kAlways) {
  WriteOptions o;
  o.expire_at_ms = expire_at;
  o.condition = c;
  return o;
}

bool Put(L1Cache& c, std::string_view k, std::string_view v, WriteOptions o = Opts()) {
  bool applied = false;
  Status s = c.Insert(k, v, o, &applied);
  REQUIRE(s.ok());
  return applied;
}

TEST_CASE("L1 stores, overwrites and deletes") {
  ManualClock clock;
  L1Cache c({.max_bytes = 1 << 20, .shards = 4, .clock = &clock});
  std::string v;
  CHECK_FALSE(c.Lookup("a", &v));
  CHECK(Put(c, "a", "1"));
  REQUIRE(c.Lookup("a", &v));
  CHECK(v == "1");
  CHECK(Put(c, "a", "22"));
  REQUIRE(c.Lookup("a", &v));
  CHECK(v == "22");
  CHECK(c.GetStats().items == 1);
  CHECK(c.Erase("a"));
  CHECK_FALSE(c.Erase("a"));
  CHECK_FALSE(c.Lookup("a", &v));
  CHECK(Put(c, "", "empty key"));
  REQUIRE(c.Lookup("", &v));
  CHECK(v == "empty key");
  std::string binary("\0\xff\0", 3);
  CHECK(Put(c, binary, binary));
  REQUIRE(c.Lookup(binary, &v));
  CHECK(v == binary);
}

TEST_CASE("L1 nx and xx") {
  ManualClock clock;
  L1Cache c({.max_bytes = 1 << 20, .shards = 2, .clock = &clock});
  CHECK_FALSE(Put(c, "k", "v", Opts(0, WriteCondition::kIfPresent)));
  CHECK(Put(c, "k", "v", Opts(0, WriteCondition::kIfAbsent)));
  CHECK_FALSE(Put(c, "k", "w", Opts(0, WriteCondition::kIfAbsent)));
  CHECK(Put(c, "k", "x", Opts(0, WriteCondition::kIfPresent)));
  std::string v;
  REQUIRE(c.Lookup("k", &v));
  CHECK(v == "x");
  // An expired key counts as absent for nx.
  CHECK(Put(c, "t", "v", Opts(clock.NowMs() + 10)));
  clock.Advance(10);
  CHECK(Put(c, "t", "new", Opts(0, WriteCondition::kIfAbsent)));
}

TEST_CASE("L1 TTL follows Redis PTTL meanings") {
  ManualClock clock;
  L1Cache c({.max_bytes = 1 << 20, .shards = 2, .clock = &clock});
  CHECK(c.TtlMs("missing") == -2);
  Put(c, "forever", "v");
  CHECK(c.TtlMs("forever") == -1);
  Put(c, "t", "v", Opts(clock.NowMs() + 1000));
  CHECK(c.TtlMs("t") == 1000);
  clock.Advance(999);
  CHECK(c.TtlMs("t") == 1);
  std::string v;
  CHECK(c.Lookup("t", &v));
  clock.Advance(1);  // expiry is inclusive: at expire_at the entry is gone
  CHECK_FALSE(c.Lookup("t", &v));
  CHECK(c.TtlMs("t") == -2);
  CHECK(c.GetStats().expired == 1);
}

TEST_CASE("L1 expire sets, replaces and deletes") {
  ManualClock clock;
  L1Cache c({.max_bytes = 1 << 20, .shards = 2, .clock = &clock});
  CHECK_FALSE(c.SetExpiry("nope", clock.NowMs() + 100));
  Put(c, "k", "v");
  CHECK(c.SetExpiry("k", clock.NowMs() + 100));
  CHECK(c.TtlMs("k") == 100);
  CHECK(c.SetExpiry("k", clock.NowMs()));  // ttl <= 0 deletes
  CHECK(c.TtlMs("k") == -2);
  // A plain set clears an expiry (as Redis SET does).
  Put(c, "k", "v", Opts(clock.NowMs() + 100));
  Put(c, "k", "v2");
  CHECK(c.TtlMs("k") == -1);
}

TEST_CASE("L1 stays under its byte budget while inserting far more than fits") {
  ManualClock clock;
  const uint64_t budget = 4 << 20;
  L1Cache c({.max_bytes = budget, .shards = 16, .clock = &clock});
  std::mt19937_64 rng(42);
  std::string value(100, 'x');
  for (int i = 0; i < 200000; ++i) {
    std::string key = "key:" + std::to_string(rng() % 1000000);
    value.resize(50 + rng() % 400, 'y');
    Put(c, key, value);
    if (i % 1000 == 0) REQUIRE(c.used_bytes() <= budget);
  }
  L1Stats st = c.GetStats();
  CHECK(st.bytes <= budget);
  CHECK(st.evictions > 0);
  CHECK(st.items > 1000);
  // Honest accounting: the charged bytes cover at least the payload.
  CHECK(st.bytes >= st.items * (4 + 50));
}

TEST_CASE("L1 rejects an entry larger than the whole budget") {
  L1Cache c({.max_bytes = 1 << 20, .shards = 4});
  bool applied = true;
  Status s = c.Insert("big", std::string(2 << 20, 'x'), Opts(), &applied);
  CHECK(s.code() == Code::kTooLarge);
  CHECK_FALSE(applied);
}

TEST_CASE("L1 keeps frequently read keys over a scan (S3-FIFO)") {
  ManualClock clock;
  L1Cache c({.max_bytes = 1 << 20, .shards = 1, .clock = &clock});
  std::string v(64, 'v');
  for (int i = 0; i < 100; ++i) Put(c, "hot" + std::to_string(i), v);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 100; ++i) c.Lookup("hot" + std::to_string(i), nullptr);
  }
  // A one-pass scan of many more keys than fit.
  for (int i = 0; i < 50000; ++i) Put(c, "scan" + std::to_string(i), v);
  int kept = 0;
  for (int i = 0; i < 100; ++i) kept += c.Lookup("hot" + std::to_string(i), nullptr) ? 1 : 0;
  CHECK(kept >= 90);
}

TEST_CASE("L1 sweep returns the memory of expired and deleted entries") {
  ManualClock clock;
  L1Cache c({.max_bytes = 64 << 20, .shards = 8, .clock = &clock});
  uint64_t empty = c.used_bytes();
  for (int i = 0; i < 50000; ++i) {
    Put(c, "k" + std::to_string(i), std::string(40, 'v'), Opts(clock.NowMs() + 1000));
  }
  for (int i = 0; i < 1000; ++i) Put(c, "keep" + std::to_string(i), "v");
  for (int i = 0; i < 1000; i += 2) CHECK(c.Erase("keep" + std::to_string(i)));
  uint64_t full = c.used_bytes();
  CHECK(full > empty + 50000 * 64);
  clock.Advance(1000);
  // Without the sweep nothing would be reclaimed; with it, bounded rounds free it all.
  int rounds = 0;
  while (c.GetStats().items > 500 && rounds < 1000) {
    c.Sweep(64, 4096);
    ++rounds;
  }
  L1Stats st = c.GetStats();
  CHECK(st.items == 500);
  CHECK(st.dead == 0);
  CHECK(st.expired == 50000);
  // What remains: 500 entries and the index tables (which do not shrink).
  CHECK(c.used_bytes() < full / 4);
}

TEST_CASE("L1 overwrites never push out live keys when the live set fits") {
  // Regression: overwritten entries stayed charged until the sweep reached
  // them, so a write-heavy mix evicted live keys of a cache that fit them.
  ManualClock clock;
  L1Cache c({.max_bytes = 4 << 20, .shards = 16, .clock = &clock});
  std::mt19937_64 rng(7);
  const int keys = 4000;  // ~1 MiB live at most: a quarter of the budget
  for (int i = 0; i < keys; ++i) Put(c, "k" + std::to_string(i), std::string(100, 'a'));
  for (int i = 0; i < 300000; ++i) {
    size_t size = 16 + rng() % 240;  // sizes vary, so most overwrites reallocate
    Put(c, "k" + std::to_string(rng() % keys), std::string(size, 'b'));
    REQUIRE(c.used_bytes() <= (4u << 20));
  }
  L1Stats st = c.GetStats();
  CHECK(st.items == uint64_t(keys));
  CHECK(st.evictions == 0);
}

TEST_CASE("L1 overwrites with a same-size value happen in place") {
  ManualClock clock;
  L1Cache c({.max_bytes = 1 << 20, .shards = 1, .clock = &clock});
  Put(c, "k", std::string(32, 'a'));
  uint64_t before = c.used_bytes();
  for (int i = 0; i < 1000; ++i) Put(c, "k", std::string(32, char('a' + i % 26)));
  CHECK(c.used_bytes() == before);
  CHECK(c.GetStats().dead == 0);
  std::string v;
  REQUIRE(c.Lookup("k", &v));
  CHECK(v == std::string(32, char('a' + 999 % 26)));
  CHECK(Put(c, "k", "v", Opts(clock.NowMs() + 50)));
  CHECK(c.TtlMs("k") == 50);
}

TEST_CASE("L1 Tier interface answers inline") {
  L1Cache c({.max_bytes = 1 << 20, .shards = 2});
  bool called = false;
  c.Set("k", "v", Opts(), [&](const WriteResult& r) { called = r.applied && r.status.ok(); });
  CHECK(called);
  std::string got;
  c.Get("k", [&](const GetResult& r) { got = std::string(r.value); });
  CHECK(got == "v");
  int64_t ttl = 0;
  c.Ttl("k", [&](const TtlResult& r) { ttl = r.ttl_ms; });
  CHECK(ttl == -1);
}

}  // namespace
}  // namespace strata
