#include "tiers/chain.h"

#include <catch2/catch.hpp>
#include <string>

#include "tiers/l1_cache.h"

namespace strata {
namespace {

// Two in-memory tiers stand in for "L1 over a lower tier": the chain only
// sees the Tier interface, so the policies can be pinned down without Redis.
struct TwoTiers {
  ManualClock clock;
  L1Cache upper{{.max_bytes = 1 << 20, .shards = 2, .clock = &clock}};
  L1Cache lower{{.max_bytes = 1 << 20, .shards = 2, .clock = &clock}};
  Chain chain{{&upper, &lower}, ChainOptions{.l1_max_ttl_ms = 0, .clock = &clock}};
};

std::string GetValue(Chain& chain, std::string_view key, bool* found) {
  std::string out;
  chain.Get(key, [&](const GetResult& r) {
    REQUIRE(r.status.ok());
    *found = r.found;
    out = std::string(r.value);
  });
  return out;
}

TEST_CASE("chain: a lower-tier hit fills the upper tier with the remaining TTL") {
  TwoTiers t;
  bool applied = false;
  REQUIRE(t.lower.Insert("k", "v", {.expire_at_ms = t.clock.NowMs() + 5000}, &applied).ok());
  t.clock.Advance(1000);
  bool found = false;
  CHECK(GetValue(t.chain, "k", &found) == "v");
  CHECK(found);
  CHECK(t.upper.TtlMs("k") == 4000);
}

TEST_CASE("chain: l1.max_ttl caps what a fill may live in the upper tier") {
  ManualClock clock;
  L1Cache upper({.max_bytes = 1 << 20, .shards = 2, .clock = &clock});
  L1Cache lower({.max_bytes = 1 << 20, .shards = 2, .clock = &clock});
  Chain chain({&upper, &lower}, ChainOptions{.l1_max_ttl_ms = 100, .clock = &clock});
  bool applied = false;
  REQUIRE(lower.Insert("forever", "v", {}, &applied).ok());
  bool found = false;
  GetValue(chain, "forever", &found);
  CHECK(found);
  CHECK(upper.TtlMs("forever") == 100);
  CHECK(lower.TtlMs("forever") == -1);
}

TEST_CASE("chain: writes reach every tier; around skips the first") {
  TwoTiers t;
  bool ok = false;
  t.chain.Set("k", "v", {}, WriteMode::kThrough, [&](const WriteResult& r) { ok = r.applied; });
  CHECK(ok);
  CHECK(t.upper.Lookup("k", nullptr));
  CHECK(t.lower.Lookup("k", nullptr));
  t.chain.Set("a", "v", {}, WriteMode::kAround, [&](const WriteResult& r) { ok = r.applied; });
  CHECK(ok);
  CHECK_FALSE(t.upper.Lookup("a", nullptr));
  CHECK(t.lower.Lookup("a", nullptr));
}

TEST_CASE("chain: nx is decided by the first tier; delete reaches all tiers") {
  TwoTiers t;
  bool applied = true;
  t.chain.Set("k", "v1", {}, WriteMode::kDefault, [](const WriteResult&) {});
  t.chain.Set("k", "v2", {.condition = WriteCondition::kIfAbsent}, WriteMode::kDefault,
              [&](const WriteResult& r) { applied = r.applied; });
  CHECK_FALSE(applied);
  std::string v;
  REQUIRE(t.lower.Lookup("k", &v));
  CHECK(v == "v1");
  bool existed = false;
  t.chain.Delete("k", [&](const WriteResult& r) { existed = r.applied; });
  CHECK(existed);
  CHECK_FALSE(t.upper.Lookup("k", nullptr));
  CHECK_FALSE(t.lower.Lookup("k", nullptr));
}

TEST_CASE("chain: ttl falls through to the lower tier; around with one tier is unavailable") {
  TwoTiers t;
  bool applied = false;
  REQUIRE(t.lower.Insert("k", "v", {.expire_at_ms = t.clock.NowMs() + 300}, &applied).ok());
  int64_t ttl = 0;
  t.chain.Ttl("k", [&](const TtlResult& r) { ttl = r.ttl_ms; });
  CHECK(ttl == 300);

  L1Cache only({.max_bytes = 1 << 20, .shards = 1});
  Chain one({&only}, {});
  Status s;
  one.Set("k", "v", {}, WriteMode::kAround, [&](const WriteResult& r) { s = r.status; });
  CHECK(s.code() == Code::kUnavailable);
}

}  // namespace
}  // namespace strata
