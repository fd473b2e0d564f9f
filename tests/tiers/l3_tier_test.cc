// L3Tier on a private libuv loop, with a real L3Store and IoPool.
#include "tiers/l3_tier.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/uv_loop.h"
#include "tests/tiers/l3_test_util.h"

namespace strata {
namespace {

using testing::L3TempDir;
using testing::Loop;
using testing::OpenL3;

std::string Key(int i) { return "key:" + std::to_string(i); }

L3Options Opts(const std::string& dir, Clock* clock) {
  L3Options o;
  o.path = dir + "/db";
  o.clock = clock;
  o.block_cache_bytes = 8 << 20;
  return o;
}

// Writes `n` keys and flushes, then reopens: the data blocks are cold.
std::unique_ptr<L3Store> ColdStore(const L3Options& o, int n) {
  {
    auto s = OpenL3(o);
    bool applied = false;
    for (int i = 0; i < n; ++i) {
      REQUIRE(s->Put(Key(i), "v" + std::to_string(i), 0, false, false, &applied).ok());
    }
    REQUIRE(s->Flush().ok());
  }
  return OpenL3(o);
}

TEST_CASE("l3 tier: a get that needs I/O completes via the pool on the loop thread", "[l3]") {
  L3TempDir dir;
  ManualClock clock;
  auto store = ColdStore(Opts(dir.path(), &clock), 100);
  IoPool pool(2);
  Loop loop;
  auto tier = std::make_unique<L3Tier>(store.get(), &pool, loop.get());
  CHECK(tier->name() == "l3");

  const auto loop_thread = std::this_thread::get_id();
  int calls = 0;
  std::string got;
  bool on_loop = false, fillable = false;
  tier->Get(Key(5), [&](const GetResult& r) {
    ++calls;
    REQUIRE(r.status.ok());
    CHECK(r.found);
    got = std::string(r.value);
    fillable = r.fillable;
    on_loop = std::this_thread::get_id() == loop_thread;
  });
  CHECK(calls == 0);  // not inline: it went to the pool
  CHECK(tier->in_flight() == 1);
  REQUIRE(loop.RunUntil([&] { return calls == 1; }));
  CHECK(got == "v5");
  CHECK(on_loop);
  CHECK(fillable);
  CHECK(store->stats().io_reads == 1);

  // Now in the block cache: answered inline.
  calls = 0;
  tier->Get(Key(6), [&](const GetResult& r) {
    ++calls;
    CHECK(r.value == "v6");
  });
  CHECK(calls == 1);

  // Ttl of a cached key inline; set with expiry then ttl through the pool.
  int64_t ttl = 0;
  tier->Ttl(Key(6), [&](const TtlResult& t) { ttl = t.ttl_ms; });
  CHECK(ttl == -1);
  bool set_done = false;
  WriteOptions wo;
  wo.expire_at_ms = clock.NowMs() + 3000;
  tier->Set("t", "x", wo, [&](const WriteResult& w) {
    CHECK(w.status.ok());
    CHECK(w.applied);
    set_done = true;
  });
  CHECK_FALSE(set_done);
  REQUIRE(loop.RunUntil([&] { return set_done; }));
  tier->Ttl("t", [&](const TtlResult& t) { ttl = t.ttl_ms; });
  CHECK(ttl == 3000);
  tier.reset();
  loop.RunFor(5);
}

TEST_CASE("l3 tier: set/delete/expire, nx/xx, negative writes", "[l3]") {
  L3TempDir dir;
  ManualClock clock;
  auto store = OpenL3(Opts(dir.path(), &clock));
  IoPool pool(2);
  Loop loop;
  auto tier = std::make_unique<L3Tier>(store.get(), &pool, loop.get());
  auto write = [&](auto issue) {
    std::optional<WriteResult> out;
    issue([&](const WriteResult& w) { out = w; });
    REQUIRE(loop.RunUntil([&] { return out.has_value(); }));
    REQUIRE(out->status.ok());
    return out->applied;
  };
  WriteOptions nx;
  nx.condition = WriteCondition::kIfAbsent;
  WriteOptions xx;
  xx.condition = WriteCondition::kIfPresent;
  CHECK_FALSE(write([&](WriteCallback cb) { tier->Set("k", "1", xx, cb); }));
  CHECK(write([&](WriteCallback cb) { tier->Set("k", "2", nx, cb); }));
  CHECK_FALSE(write([&](WriteCallback cb) { tier->Set("k", "3", nx, cb); }));
  CHECK(write([&](WriteCallback cb) { tier->Expire("k", clock.NowMs() + 100, cb); }));
  CHECK(store->Get("k")->expire_at_ms == clock.NowMs() + 100);
  CHECK(write([&](WriteCallback cb) { tier->Delete("k", cb); }));
  CHECK_FALSE(write([&](WriteCallback cb) { tier->Delete("k", cb); }));
  CHECK_FALSE(write([&](WriteCallback cb) { tier->Expire("k", clock.NowMs() + 100, cb); }));
  WriteOptions neg;
  neg.negative = true;
  neg.expire_at_ms = clock.NowMs() + 100;
  CHECK_FALSE(write([&](WriteCallback cb) { tier->Set("n", "", neg, cb); }));
  CHECK_FALSE(store->Get("n")->found);
  tier.reset();
  loop.RunFor(5);
}

TEST_CASE("l3 tier: concurrent gets of a cold key share one read; a write detaches it", "[l3]") {
  L3TempDir dir;
  ManualClock clock;
  auto store = ColdStore(Opts(dir.path(), &clock), 100);
  IoPool pool(2);
  Loop loop;
  auto tier = std::make_unique<L3Tier>(store.get(), &pool, loop.get());
  int answered = 0, unfillable = 0;
  auto get = [&](const GetResult& r) {
    ++answered;
    CHECK(r.status.ok());
    if (!r.fillable) ++unfillable;
  };
  for (int i = 0; i < 5; ++i) tier->Get(Key(1), get);
  CHECK(tier->in_flight() == 1);
  REQUIRE(loop.RunUntil([&] { return answered == 5; }));
  CHECK(store->stats().io_reads == 1);
  CHECK(unfillable == 0);

  // A get in flight, then a delete, then a get: the first answer is not
  // fillable, the second get waits for the delete and sees it.
  auto cold = ColdStore(Opts(dir.path() + "/2", &clock), 100);
  auto tier2 = std::make_unique<L3Tier>(cold.get(), &pool, loop.get());
  answered = 0;
  bool wrote = false, second_found = true;
  tier2->Get(Key(2), get);
  tier2->Delete(Key(2), [&](const WriteResult& w) { wrote = w.status.ok() && w.applied; });
  tier2->Get(Key(2), [&](const GetResult& r) {
    CHECK(wrote);  // parked until the delete's callback has run
    get(r);
    second_found = r.found;
    CHECK(r.fillable);
  });
  CHECK(tier2->in_flight() == 2);  // the first get and the delete; the second is parked
  REQUIRE(loop.RunUntil([&] { return answered == 2 && wrote; }));
  CHECK(unfillable == 1);
  CHECK_FALSE(second_found);
  tier.reset();
  tier2.reset();
  loop.RunFor(5);
}

TEST_CASE("l3 tier: writes of one key apply in the order issued", "[l3]") {
  L3TempDir dir;
  ManualClock clock;
  auto store = OpenL3(Opts(dir.path(), &clock));
  IoPool pool(4);
  Loop loop;
  auto tier = std::make_unique<L3Tier>(store.get(), &pool, loop.get());
  std::vector<int> order;
  std::string last_read;
  for (int i = 0; i < 200; ++i) {
    tier->Set("k", std::to_string(i), WriteOptions{}, [&, i](const WriteResult& w) {
      CHECK(w.status.ok());
      order.push_back(i);
    });
    if (i % 50 == 49) {
      tier->Get("k", [&, i](const GetResult& r) {
        // Sees every write issued before it; not held back by later ones.
        CHECK(std::stoi(std::string(r.value)) >= i);
        CHECK(order.size() >= static_cast<size_t>(i + 1));
        if (i < 199) CHECK(order.size() < 200);
        CHECK(r.fillable == (i == 199 || order.size() == 200));
        last_read = std::string(r.value);
      });
    }
  }
  REQUIRE(loop.RunUntil([&] { return order.size() == 200 && last_read == "199"; }));
  for (int i = 0; i < 200; ++i) CHECK(order[i] == i);
  CHECK(store->Get("k")->value == "199");
  tier.reset();
  loop.RunFor(5);
}

TEST_CASE("l3 tier: 1000 concurrent gets and sets each complete exactly once", "[l3]") {
  L3TempDir dir;
  ManualClock clock;
  auto store = ColdStore(Opts(dir.path(), &clock), 2000);
  IoPool pool(2);
  Loop loop;
  auto tier = std::make_unique<L3Tier>(store.get(), &pool, loop.get());
  constexpr int kOps = 1000;
  std::vector<int> get_calls(kOps), set_calls(kOps);
  std::atomic<int> wrong_thread{0};
  const auto loop_thread = std::this_thread::get_id();
  int found = 0;
  for (int i = 0; i < kOps; ++i) {
    // Spread over the 2000 cold keys (many distinct blocks), plus sets of
    // new keys and of keys being read.
    tier->Get(Key(i * 2), [&, i](const GetResult& r) {
      ++get_calls[i];
      if (std::this_thread::get_id() != loop_thread) ++wrong_thread;
      REQUIRE(r.status.ok());
      if (r.found) ++found;
    });
    tier->Set(i % 2 == 0 ? Key(i * 2) : "new:" + std::to_string(i), "s", WriteOptions{},
              [&, i](const WriteResult& w) {
                ++set_calls[i];
                if (std::this_thread::get_id() != loop_thread) ++wrong_thread;
                CHECK(w.status.ok());
              });
  }
  auto all = [&] {
    for (int i = 0; i < kOps; ++i) {
      if (get_calls[i] == 0 || set_calls[i] == 0) return false;
    }
    return true;
  };
  REQUIRE(loop.RunUntil(all, 10000));
  loop.RunFor(20);  // nothing more arrives
  for (int i = 0; i < kOps; ++i) {
    INFO(i);
    CHECK(get_calls[i] == 1);
    CHECK(set_calls[i] == 1);
  }
  CHECK(found == kOps);  // every key existed (before or after its set)
  CHECK(wrong_thread == 0);
  CHECK(tier->in_flight() == 0);
  tier.reset();
  loop.RunFor(5);
}

TEST_CASE("l3 tier: destroying the tier with work in flight is safe", "[l3]") {
  L3TempDir dir;
  ManualClock clock;
  auto store = ColdStore(Opts(dir.path(), &clock), 2000);
  IoPool pool(2);
  Loop loop;
  for (int round = 0; round < 20; ++round) {
    auto tier = std::make_unique<L3Tier>(store.get(), &pool, loop.get());
    std::vector<int> calls(400);
    int unavailable = 0;
    for (int i = 0; i < 200; ++i) {
      tier->Get(Key((i * 7 + round * 13) % 2000), [&, i](const GetResult& r) {
        ++calls[i];
        if (r.status.code() == Code::kUnavailable) ++unavailable;
      });
      tier->Set("w:" + std::to_string(i), "v", WriteOptions{}, [&, i](const WriteResult& w) {
        ++calls[200 + i];
        if (w.status.code() == Code::kUnavailable) ++unavailable;
      });
    }
    if (round % 2 == 1) loop.RunFor(1);  // some answers arrive first
    tier.reset();                        // the rest are answered now, with UNAVAILABLE
    for (int c : calls) REQUIRE(c == 1);
    loop.RunFor(2);  // close callback; pool jobs still finishing
    for (int c : calls) REQUIRE(c == 1);
    if (round == 0) CHECK(unavailable > 0);
  }
  // The pool drains jobs of dead tiers without touching them (ASan).
}

TEST_CASE("l3 tier: a full I/O queue fails fast with OVERLOADED", "[l3]") {
  L3TempDir dir;
  ManualClock clock;
  auto store = OpenL3(Opts(dir.path(), &clock));
  IoPool pool(1, 1);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<bool> started{false};
  REQUIRE(pool.Submit([gate, &started] {
    started = true;
    gate.wait();
  }));
  while (!started) std::this_thread::yield();
  REQUIRE(pool.Submit([] {}));  // fills the queue of one
  Loop loop;
  auto tier = std::make_unique<L3Tier>(store.get(), &pool, loop.get());
  std::optional<Status> st;
  tier->Set("k", "v", WriteOptions{}, [&](const WriteResult& w) { st = w.status; });
  REQUIRE(st.has_value());  // inline
  CHECK(st->code() == Code::kOverloaded);
  release.set_value();
  tier.reset();
  loop.RunFor(5);
}

}  // namespace
}  // namespace strata
