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

// Stores a negative entry (the chain always gives one an expiry).
bool PutNegative(L1Cache& c, std::string_view k, int64_t expire_at,
                 WriteCondition cond = WriteCondition::kAlways, std::string_view v = {}) {
  WriteOptions o = Opts(expire_at, cond);
  o.negative = true;
  return Put(c, k, v, o);
}

// What the Tier Get reports for key.
GetResult TierGet(L1Cache& c, std::string_view key, std::string* value = nullptr) {
  GetResult out;
  out.status = Status::Internal("callback not called");
  c.Get(key, [&](const GetResult& r) {
    out = r;
    if (value != nullptr) value->assign(r.value);
    out.value = {};  // the view dies with the callback
  });
  return out;
}

TEST_CASE("L1 stores, overwrites and deletes", "[l1]") {
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

TEST_CASE("L1 nx and xx", "[l1]") {
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

TEST_CASE("L1 TTL follows Redis PTTL meanings", "[l1]") {
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

TEST_CASE("L1 expire sets, replaces and deletes", "[l1]") {
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

TEST_CASE("L1 stays under its byte budget while inserting far more than fits", "[l1]") {
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

TEST_CASE("L1 rejects an entry larger than the whole budget", "[l1]") {
  L1Cache c({.max_bytes = 1 << 20, .shards = 4});
  bool applied = true;
  Status s = c.Insert("big", std::string(2 << 20, 'x'), Opts(), &applied);
  CHECK(s.code() == Code::kTooLarge);
  CHECK_FALSE(applied);
}

TEST_CASE("L1 keeps frequently read keys over a scan (S3-FIFO)", "[l1]") {
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

TEST_CASE("L1 sweep returns the memory of expired and deleted entries", "[l1]") {
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

TEST_CASE("L1 overwrites never push out live keys when the live set fits", "[l1]") {
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

TEST_CASE("L1 overwrites with a same-size value happen in place", "[l1]") {
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

TEST_CASE("L1 Tier interface answers inline", "[l1]") {
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

// --- Negative entries (WriteOptions::negative; rules in tier.h) ---

TEST_CASE("L1 negative entry: Get reports a negative miss, Lookup returns false", "[l1]") {
  ManualClock clock;
  L1Cache c({.max_bytes = 1 << 20, .shards = 2, .clock = &clock});
  CHECK(PutNegative(c, "gone", clock.NowMs() + 1000));

  std::string value = "untouched";
  GetResult r = TierGet(c, "gone", &value);
  CHECK(r.status.ok());
  CHECK_FALSE(r.found);
  CHECK(r.negative);
  CHECK(value.empty());

  std::string v = "untouched";
  int64_t expire_at = 42;
  bool negative = false;
  CHECK_FALSE(c.Lookup("gone", &v, &expire_at, &negative));
  CHECK(negative);
  CHECK(v == "untouched");
  CHECK(expire_at == 42);
  CHECK_FALSE(c.Lookup("gone", nullptr));  // the old three-argument form

  // Plain misses and hits are not negative.
  r = TierGet(c, "never-written");
  CHECK(r.status.ok());
  CHECK_FALSE(r.found);
  CHECK_FALSE(r.negative);
  Put(c, "real", "v");
  r = TierGet(c, "real", &value);
  CHECK(r.found);
  CHECK_FALSE(r.negative);
  CHECK(value == "v");
  negative = false;
  CHECK_FALSE(c.Lookup("never-written", nullptr, nullptr, &negative));
  CHECK_FALSE(negative);

  // Negative hits are neither hits nor misses; the marker is an item.
  L1Stats st = c.GetStats();
  CHECK(st.negative_hits == 3);
  CHECK(st.hits == 1);
  CHECK(st.misses == 2);
  CHECK(st.items == 2);
  CHECK(st.negative_items == 1);
}

TEST_CASE("L1 negative entry never returns a value, whatever value was passed", "[l1]") {
  ManualClock clock;
  L1Cache a({.max_bytes = 1 << 20, .shards = 1, .clock = &clock});
  L1Cache b({.max_bytes = 1 << 20, .shards = 1, .clock = &clock});
  const std::string big(1000, 'x');
  CHECK(PutNegative(a, "k", clock.NowMs() + 1000, WriteCondition::kAlways, big));
  CHECK(PutNegative(b, "k", clock.NowMs() + 1000));
  // The value is ignored: same charge as a marker written without one.
  CHECK(a.used_bytes() == b.used_bytes());
  std::string value = "untouched";
  GetResult r = TierGet(a, "k", &value);
  CHECK_FALSE(r.found);
  CHECK(r.negative);
  CHECK(value.empty());
  std::string v = "untouched";
  CHECK_FALSE(a.Lookup("k", &v));
  CHECK(v == "untouched");
  // A value that is never larger than the budget does not make a marker too large.
  L1Cache tiny({.max_bytes = 4096, .shards = 1, .clock = &clock});
  CHECK(PutNegative(tiny, "k", clock.NowMs() + 1000, WriteCondition::kAlways,
                    std::string(8192, 'y')));
  CHECK(TierGet(tiny, "k").negative);
}

TEST_CASE("L1 negative entry: TTL -2, Erase drops it and says no, Expire leaves it", "[l1]") {
  ManualClock clock;
  L1Cache c({.max_bytes = 1 << 20, .shards = 2, .clock = &clock});
  const int64_t until = clock.NowMs() + 1000;
  PutNegative(c, "k", until);
  CHECK(c.TtlMs("k") == -2);

  // SetExpiry does not apply, neither extending nor deleting the marker.
  CHECK_FALSE(c.SetExpiry("k", clock.NowMs() + 5000));
  CHECK(TierGet(c, "k").negative);
  CHECK_FALSE(c.SetExpiry("k", clock.NowMs()));  // would delete a real key
  CHECK(TierGet(c, "k").negative);
  clock.Advance(1000);  // still expires at its own time, not 5000
  CHECK_FALSE(TierGet(c, "k").negative);

  PutNegative(c, "k", clock.NowMs() + 1000);
  CHECK(c.GetStats().negative_items == 1);
  CHECK_FALSE(c.Erase("k"));
  CHECK(c.GetStats().negative_items == 0);
  CHECK(c.GetStats().items == 0);
  GetResult r = TierGet(c, "k");
  CHECK_FALSE(r.found);
  CHECK_FALSE(r.negative);  // gone, not just hidden
  CHECK_FALSE(c.Erase("k"));

  // The same through the Tier interface.
  PutNegative(c, "t", clock.NowMs() + 1000);
  bool applied = true;
  int64_t ttl = 0;
  c.Ttl("t", [&](const TtlResult& t) { ttl = t.ttl_ms; });
  CHECK(ttl == -2);
  c.Expire("t", clock.NowMs() + 10, [&](const WriteResult& w) { applied = w.applied; });
  CHECK_FALSE(applied);
  CHECK(TierGet(c, "t").negative);
  applied = true;
  c.Delete("t", [&](const WriteResult& w) { applied = w.applied; });
  CHECK_FALSE(applied);
  CHECK_FALSE(TierGet(c, "t").negative);
}

TEST_CASE("L1 value writes over a negative entry: nx replaces, xx does not apply", "[l1]") {
  ManualClock clock;
  L1Cache c({.max_bytes = 1 << 20, .shards = 2, .clock = &clock});
  std::string v;
  const int64_t until = clock.NowMs() + 1000;

  SECTION("nx treats the marker as absent") {
    PutNegative(c, "k", until);
    CHECK(Put(c, "k", "v", Opts(0, WriteCondition::kIfAbsent)));
    REQUIRE(c.Lookup("k", &v));
    CHECK(v == "v");
    CHECK(c.TtlMs("k") == -1);
    CHECK(c.GetStats().negative_items == 0);
    CHECK(c.GetStats().items == 1);
  }
  SECTION("xx does not apply and leaves the marker") {
    PutNegative(c, "k", until);
    CHECK_FALSE(Put(c, "k", "v", Opts(0, WriteCondition::kIfPresent)));
    CHECK_FALSE(c.Lookup("k", &v));
    CHECK(TierGet(c, "k").negative);
    CHECK(c.GetStats().negative_items == 1);
  }
  SECTION("a plain set replaces the marker") {
    PutNegative(c, "k", until);
    CHECK(Put(c, "k", "value", Opts(clock.NowMs() + 50)));
    REQUIRE(c.Lookup("k", &v));
    CHECK(v == "value");
    CHECK(c.TtlMs("k") == 50);
    CHECK(c.GetStats().negative_items == 0);
  }
  SECTION("an empty value replaces the marker in place and is found") {
    PutNegative(c, "k", until);
    uint64_t before = c.used_bytes();
    CHECK(Put(c, "k", ""));
    CHECK(c.used_bytes() == before);  // same lengths: overwritten in place
    GetResult r = TierGet(c, "k", &v);
    CHECK(r.found);
    CHECK_FALSE(r.negative);
    CHECK(v.empty());
    CHECK(c.TtlMs("k") == -1);
    CHECK(c.GetStats().negative_items == 0);
  }
}

TEST_CASE("L1 negative writes over a live value: nx keeps it, a plain write replaces it",
          "[l1]") {
  ManualClock clock;
  L1Cache c({.max_bytes = 1 << 20, .shards = 2, .clock = &clock});
  std::string v;
  const int64_t until = clock.NowMs() + 1000;

  Put(c, "k", "real");
  CHECK_FALSE(PutNegative(c, "k", until, WriteCondition::kIfAbsent));
  REQUIRE(c.Lookup("k", &v));
  CHECK(v == "real");
  CHECK(c.TtlMs("k") == -1);
  CHECK(c.GetStats().negative_items == 0);

  CHECK(PutNegative(c, "k", until));
  CHECK_FALSE(c.Lookup("k", &v));
  CHECK(TierGet(c, "k").negative);
  CHECK(c.GetStats().negative_items == 1);
  CHECK(c.GetStats().items == 1);

  // nx over an expired value, over nothing, and over a marker (which it refreshes).
  Put(c, "e", "v", Opts(clock.NowMs() + 10));
  clock.Advance(10);
  CHECK(PutNegative(c, "e", clock.NowMs() + 100, WriteCondition::kIfAbsent));
  CHECK(TierGet(c, "e").negative);
  CHECK(PutNegative(c, "n", clock.NowMs() + 100, WriteCondition::kIfAbsent));
  CHECK(PutNegative(c, "n", clock.NowMs() + 200, WriteCondition::kIfAbsent));
  clock.Advance(150);
  CHECK(TierGet(c, "n").negative);

  // A marker over an empty value is done in place and hides it.
  Put(c, "empty", "");
  CHECK(PutNegative(c, "empty", clock.NowMs() + 100));
  CHECK_FALSE(c.Lookup("empty", &v));
  CHECK(TierGet(c, "empty").negative);
  // Like items, negative_items counts an expired marker until it is found or swept.
  CHECK(c.GetStats().negative_items == 4);
  CHECK_FALSE(TierGet(c, "e").negative);  // expired at +110
  CHECK(c.GetStats().negative_items == 3);  // k, n, empty
}

TEST_CASE("L1 negative entry expires at its expiry and is swept", "[l1]") {
  ManualClock clock;
  L1Cache c({.max_bytes = 1 << 20, .shards = 2, .clock = &clock});
  uint64_t empty = c.used_bytes();
  PutNegative(c, "k", clock.NowMs() + 100);
  clock.Advance(99);
  CHECK(TierGet(c, "k").negative);
  clock.Advance(1);  // inclusive, as for values
  GetResult r = TierGet(c, "k");
  CHECK(r.status.ok());
  CHECK_FALSE(r.found);
  CHECK_FALSE(r.negative);
  CHECK(c.GetStats().expired == 1);
  CHECK(c.GetStats().negative_items == 0);
  // Once expired, xx still does not apply and nx does.
  CHECK_FALSE(Put(c, "k", "v", Opts(0, WriteCondition::kIfPresent)));
  CHECK(Put(c, "k", "v", Opts(0, WriteCondition::kIfAbsent)));
  CHECK(c.Erase("k"));

  // Unread markers are reclaimed by the sweep.
  for (int i = 0; i < 1000; ++i) PutNegative(c, "m" + std::to_string(i), clock.NowMs() + 10);
  CHECK(c.GetStats().negative_items == 1000);
  clock.Advance(10);
  for (int i = 0; i < 100 && c.GetStats().items > 0; ++i) c.Sweep(64, 4096);
  L1Stats st = c.GetStats();
  CHECK(st.items == 0);
  CHECK(st.negative_items == 0);
  CHECK(st.dead == 0);
  CHECK(st.expired == 1001);
  CHECK(c.used_bytes() < empty + 64 * 1024);  // only index tables remain

  // Without an expiry a marker lives until evicted or replaced.
  PutNegative(c, "forever", 0);
  clock.Advance(int64_t(1) << 40);
  CHECK(TierGet(c, "forever").negative);
  CHECK(c.TtlMs("forever") == -2);
}

TEST_CASE("L1 negative entries are charged and evicted like any entry", "[l1]") {
  ManualClock clock;
  const uint64_t budget = 1 << 20;
  L1Cache c({.max_bytes = budget, .shards = 4, .clock = &clock});
  uint64_t before = c.used_bytes();
  PutNegative(c, "one", clock.NowMs() + 100000);
  CHECK(c.used_bytes() > before);
  std::mt19937_64 rng(3);
  for (int i = 0; i < 100000; ++i) {
    std::string key = "key:" + std::to_string(rng() % 200000);
    if (i % 2 == 0) {
      PutNegative(c, key, clock.NowMs() + 100000);
    } else {
      Put(c, key, std::string(40, 'v'));
    }
    if (i % 1000 == 0) REQUIRE(c.used_bytes() <= budget);
  }
  L1Stats st = c.GetStats();
  CHECK(st.bytes <= budget);
  CHECK(st.evictions > 0);
  CHECK(st.negative_items > 0);
  CHECK(st.negative_items < st.items);
  // negative_items matches what Get sees.
  uint64_t seen = 0;
  for (int i = 0; i < 200000; ++i) seen += TierGet(c, "key:" + std::to_string(i)).negative;
  seen += TierGet(c, "one").negative;
  CHECK(seen == st.negative_items);
}

}  // namespace
}  // namespace strata
