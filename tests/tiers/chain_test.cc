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

TEST_CASE("chain: nx is decided by the slowest tier; delete reaches all tiers") {
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

  // The upper tier lacks the key, the lower (shared) one has it: nx is not met.
  bool inserted = false;
  REQUIRE(t.lower.Insert("shared", "theirs", {}, &inserted).ok());
  applied = true;
  t.chain.Set("shared", "mine", {.condition = WriteCondition::kIfAbsent}, WriteMode::kDefault,
              [&](const WriteResult& r) { applied = r.applied; });
  CHECK_FALSE(applied);
  CHECK_FALSE(t.upper.Lookup("shared", nullptr));
  REQUIRE(t.lower.Lookup("shared", &v));
  CHECK(v == "theirs");
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

// Wraps a tier and fails every call while `down` is set, like an L2 whose
// Redis went away.
class FlakyTier final : public Tier {
 public:
  explicit FlakyTier(Tier* inner) : inner_(inner) {}
  bool down = false;
  std::string_view name() const override { return "flaky"; }
  template <typename R>
  static R Down() {
    R r;
    r.status = Status::Unavailable("down");
    return r;
  }
  void Get(std::string_view key, GetCallback done) override {
    if (down) return done(Down<GetResult>());
    inner_->Get(key, std::move(done));
  }
  void Set(std::string_view key, std::string_view value, const WriteOptions& options,
           WriteCallback done) override {
    if (down) return done(Down<WriteResult>());
    inner_->Set(key, value, options, std::move(done));
  }
  void Delete(std::string_view key, WriteCallback done) override {
    if (down) return done(Down<WriteResult>());
    inner_->Delete(key, std::move(done));
  }
  void Expire(std::string_view key, int64_t at, WriteCallback done) override {
    if (down) return done(Down<WriteResult>());
    inner_->Expire(key, at, std::move(done));
  }
  void Ttl(std::string_view key, TtlCallback done) override {
    if (down) return done(Down<TtlResult>());
    inner_->Ttl(key, std::move(done));
  }

 private:
  Tier* inner_;
};

struct UpperOverFlaky {
  ManualClock clock;
  L1Cache upper{{.max_bytes = 1 << 20, .shards = 2, .clock = &clock}};
  L1Cache lower{{.max_bytes = 1 << 20, .shards = 2, .clock = &clock}};
  FlakyTier flaky{&lower};
  Chain chain{{&upper, &flaky}, ChainOptions{.negative_ttl_ms = 1000, .clock = &clock}};
};

TEST_CASE("chain: a failed lower tier degrades reads to the upper tier's answer") {
  UpperOverFlaky t;
  t.chain.Set("k", "v", {}, WriteMode::kThrough, [](const WriteResult& r) {
    REQUIRE(r.status.ok());
  });
  t.flaky.down = true;
  bool found = false;
  CHECK(GetValue(t.chain, "k", &found) == "v");  // an upper hit needs nothing below
  CHECK(found);
  GetValue(t.chain, "absent", &found);  // a miss, not an error
  CHECK_FALSE(found);
  int64_t ttl = 0;
  t.chain.Ttl("absent", [&](const TtlResult& r) {
    CHECK(r.status.ok());
    ttl = r.ttl_ms;
  });
  CHECK(ttl == -2);
  // A miss while a tier failed is not remembered as absent.
  t.flaky.down = false;
  bool inserted = false;
  REQUIRE(t.lower.Insert("absent", "now here", {}, &inserted).ok());
  CHECK(GetValue(t.chain, "absent", &found) == "now here");
}

TEST_CASE("chain: a failed write invalidates the faster tiers") {
  UpperOverFlaky t;
  t.chain.Set("k", "old", {}, WriteMode::kThrough, [](const WriteResult&) {});
  REQUIRE(t.upper.Lookup("k", nullptr));
  t.flaky.down = true;
  Status s;
  t.chain.Set("k", "new", {}, WriteMode::kThrough, [&](const WriteResult& r) { s = r.status; });
  CHECK(s.code() == Code::kUnavailable);
  CHECK_FALSE(t.upper.Lookup("k", nullptr));  // neither "old" nor the unacknowledged "new"
}

TEST_CASE("chain: around deletes the first tier's copy; a fill never overwrites a write") {
  UpperOverFlaky t;
  t.chain.Set("k", "v1", {}, WriteMode::kThrough, [](const WriteResult&) {});
  t.chain.Set("k", "v2", {}, WriteMode::kAround, [](const WriteResult&) {});
  std::string v;
  CHECK_FALSE(t.upper.Lookup("k", &v));
  bool found = false;
  CHECK(GetValue(t.chain, "k", &found) == "v2");
  CHECK(t.upper.Lookup("k", &v));
  CHECK(v == "v2");
}

// A lower tier whose Get answers later, when the test says so: the window in
// which another loop's write or delete can race a fill.
class DeferredTier final : public Tier {
 public:
  explicit DeferredTier(Tier* inner) : inner_(inner) {}
  std::string_view name() const override { return "deferred"; }
  // Reads now (the value as of the request), answers at Answer().
  void Get(std::string_view key, GetCallback done) override {
    inner_->Get(key, [&](const GetResult& r) {
      pending_.push_back({r, std::string(r.value), std::move(done)});
    });
  }
  void Answer() {
    auto p = std::move(pending_);
    for (auto& a : p) {
      a.result.value = a.value;
      a.done(a.result);
    }
  }
  void Set(std::string_view k, std::string_view v, const WriteOptions& o,
           WriteCallback done) override { inner_->Set(k, v, o, std::move(done)); }
  void Delete(std::string_view k, WriteCallback done) override { inner_->Delete(k, std::move(done)); }
  void Expire(std::string_view k, int64_t at, WriteCallback done) override {
    inner_->Expire(k, at, std::move(done));
  }
  void Ttl(std::string_view k, TtlCallback done) override { inner_->Ttl(k, std::move(done)); }

 private:
  Tier* inner_;
  struct Pending {
    GetResult result;
    std::string value;
    GetCallback done;
  };
  std::vector<Pending> pending_;
};

TEST_CASE("chain: a fill racing a delete does not bring the value back") {
  ManualClock clock;
  L1Cache upper({.max_bytes = 1 << 20, .shards = 2, .clock = &clock});
  L1Cache lower({.max_bytes = 1 << 20, .shards = 2, .clock = &clock});
  DeferredTier slow(&lower);
  Chain reader({&upper, &slow}, ChainOptions{.clock = &clock});  // one loop
  Chain writer({&upper, &lower}, ChainOptions{.clock = &clock});  // another loop
  bool inserted = false;
  REQUIRE(lower.Insert("k", "old", {}, &inserted).ok());
  std::string got;
  reader.Get("k", [&](const GetResult& r) { got = std::string(r.value); });
  writer.Delete("k", [](const WriteResult&) {});  // lands while the get is out
  slow.Answer();                                  // the get returns the old value...
  CHECK(got == "old");                            // ...which is a fair answer for it
  CHECK_FALSE(upper.Lookup("k", nullptr));        // but it is not cached

  // Without a racing write, the fill happens.
  REQUIRE(lower.Insert("j", "v", {}, &inserted).ok());
  reader.Get("j", [](const GetResult&) {});
  slow.Answer();
  CHECK(upper.Lookup("j", nullptr));
}

TEST_CASE("chain: negative caching remembers a full miss for negative_ttl") {
  UpperOverFlaky t;
  bool found = true;
  GetValue(t.chain, "nobody", &found);
  CHECK_FALSE(found);
  // Written behind the chain's back: the negative entry hides it...
  bool inserted = false;
  REQUIRE(t.lower.Insert("nobody", "x", {}, &inserted).ok());
  GetValue(t.chain, "nobody", &found);
  CHECK_FALSE(found);
  // ...until negative_ttl passes.
  t.clock.Advance(1001);
  CHECK(GetValue(t.chain, "nobody", &found) == "x");
  CHECK(found);
  // A write through the chain replaces a negative entry at once.
  GetValue(t.chain, "later", &found);
  CHECK_FALSE(found);
  t.chain.Set("later", "y", {}, WriteMode::kThrough, [](const WriteResult&) {});
  CHECK(GetValue(t.chain, "later", &found) == "y");
}

}  // namespace
}  // namespace strata
