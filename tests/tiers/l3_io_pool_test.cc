#include <atomic>
#include <catch2/catch.hpp>
#include <future>
#include <thread>

#include "tiers/io_pool.h"

namespace strata {
namespace {

TEST_CASE("io pool: runs every job; the destructor drains the queue", "[l3]") {
  std::atomic<int> ran{0};
  {
    IoPool pool(3, 10000);
    for (int i = 0; i < 5000; ++i) REQUIRE(pool.Submit([&] { ran++; }));
  }
  CHECK(ran == 5000);
}

TEST_CASE("io pool: Submit refuses when the bounded queue is full", "[l3]") {
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<bool> started{false};
  std::atomic<int> ran{0};
  {
    IoPool pool(1, 2);
    REQUIRE(pool.Submit([&, gate] {
      started = true;
      gate.wait();
    }));
    while (!started) std::this_thread::yield();
    CHECK(pool.Submit([&] { ran++; }));
    CHECK(pool.Submit([&] { ran++; }));
    CHECK(pool.queued() == 2);
    CHECK_FALSE(pool.Submit([&] { ran++; }));
    release.set_value();
  }
  CHECK(ran == 2);
}

}  // namespace
}  // namespace strata
