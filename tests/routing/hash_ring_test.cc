#include "routing/hash_ring.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "routing/murmur3.h"

namespace strata {
namespace {

constexpr int kKeys = 100000;

std::string Key(int i) { return "key:" + std::to_string(i); }

HashRing MustBuild(std::vector<std::string> nodes, int vnodes = HashRing::kDefaultVnodes,
                   bool tags = false) {
  StatusOr<HashRing> r = HashRing::Build(std::move(nodes), vnodes, tags);
  REQUIRE(r.ok());
  return std::move(r).value();
}

const std::string& OwnerName(const HashRing& ring, std::string_view key) {
  return ring.nodes()[ring.Owner(key)];
}

// The documented formula, written out the slow way: a second implementation
// that other languages would copy.
std::string ReferenceOwner(const std::vector<std::string>& nodes, int vnodes,
                           std::string_view key) {
  const uint64_t h = KeyHash(key);
  std::string best, first;
  uint64_t best_hash = 0, first_hash = UINT64_MAX;
  bool found = false;
  for (const std::string& n : nodes) {
    for (int i = 0; i < vnodes; i++) {
      uint64_t p = KeyHash(n + "#" + std::to_string(i));
      if (p < first_hash || (p == first_hash && n < first)) first_hash = p, first = n;
      if (p >= h && (!found || p < best_hash || (p == best_hash && n < best))) {
        best_hash = p, best = n, found = true;
      }
    }
  }
  return found ? best : first;
}

const std::vector<std::string> kThree = {"redis-a:6379", "redis-b:6379", "redis-c:6379"};

TEST_CASE("HashRing spreads 100k keys over 3 nodes within 10% of an even share", "[hash_ring]") {
  HashRing ring = MustBuild(kThree);
  std::vector<int> count(3, 0);
  for (int i = 0; i < kKeys; i++) count[ring.Owner(Key(i))]++;
  const double even = kKeys / 3.0;
  for (int n = 0; n < 3; n++) {
    INFO("node " << n << " got " << count[n]);
    CHECK(count[n] > even * 0.9);
    CHECK(count[n] < even * 1.1);
  }
}

TEST_CASE("HashRing adding a 4th node moves about 1/4 of keys, all to the new node",
          "[hash_ring]") {
  HashRing three = MustBuild(kThree);
  std::vector<std::string> four_nodes = kThree;
  four_nodes.push_back("redis-d:6379");
  HashRing four = MustBuild(four_nodes);
  int moved = 0, moved_elsewhere = 0;
  for (int i = 0; i < kKeys; i++) {
    const std::string k = Key(i);
    const std::string& before = OwnerName(three, k);
    const std::string& after = OwnerName(four, k);
    if (before != after) {
      moved++;
      if (after != "redis-d:6379") moved_elsewhere++;
    }
  }
  INFO("moved " << moved << " of " << kKeys);
  CHECK(moved > kKeys * 0.8 / 4);
  CHECK(moved < kKeys * 1.2 / 4);
  CHECK(moved_elsewhere == 0);
}

TEST_CASE("HashRing removing a node moves only that node's keys", "[hash_ring]") {
  HashRing three = MustBuild(kThree);
  HashRing two = MustBuild({"redis-a:6379", "redis-c:6379"});
  int moved = 0, wrongly_moved = 0;
  for (int i = 0; i < kKeys; i++) {
    const std::string k = Key(i);
    const std::string& before = OwnerName(three, k);
    const std::string& after = OwnerName(two, k);
    if (before == "redis-b:6379") {
      moved++;
    } else if (before != after) {
      wrongly_moved++;
    }
  }
  INFO("redis-b owned " << moved);
  CHECK(wrongly_moved == 0);
  CHECK(moved > kKeys / 3.0 * 0.9);
}

TEST_CASE("HashRing matches the documented formula", "[hash_ring]") {
  const int vnodes = 16;
  HashRing ring = MustBuild(kThree, vnodes);
  for (int i = 0; i < 2000; i++) {
    const std::string k = Key(i);
    REQUIRE(OwnerName(ring, k) == ReferenceOwner(kThree, vnodes, k));
  }
}

TEST_CASE("HashRing wraps keys past the last point to the first point", "[hash_ring]") {
  // One point per node: find keys hashing above both points.
  HashRing ring = MustBuild({"a", "b"}, 1);
  const uint64_t pa = KeyHash("a#0"), pb = KeyHash("b#0");
  const std::string lowest = pa < pb ? "a" : "b";
  int checked = 0;
  for (int i = 0; i < 10000 && checked < 20; i++) {
    const std::string k = Key(i);
    if (KeyHash(k) > std::max(pa, pb)) {
      CHECK(OwnerName(ring, k) == lowest);
      checked++;
    }
  }
  CHECK(checked > 0);
  // A key hashing exactly onto a point belongs to that point's node.
  CHECK(OwnerName(ring, "a#0") == "a");
  CHECK(OwnerName(ring, "b#0") == "b");
}

TEST_CASE("HashRing hash tags co-locate related keys", "[hash_ring]") {
  HashRing ring = MustBuild(kThree, HashRing::kDefaultVnodes, /*tags=*/true);
  CHECK(ring.Owner("{user42}:a") == ring.Owner("{user42}:b"));
  CHECK(ring.RoutingBytes("{user42}:a") == "user42");
  for (int u = 0; u < 500; u++) {
    const std::string tag = "{user" + std::to_string(u) + "}";
    const size_t owner = ring.Owner(tag + ":profile");
    CHECK(ring.Owner("cart:" + tag) == owner);
    CHECK(ring.Owner(tag) == owner);
    CHECK(ring.Owner(tag.substr(1, tag.size() - 2)) == owner);  // the bare tag content
  }
  // Same edge rules as Redis Cluster.
  CHECK(ring.RoutingBytes("{}x") == "{}x");
  CHECK(ring.RoutingBytes("a{b}c{d}") == "b");
  CHECK(ring.RoutingBytes("no-tag") == "no-tag");

  // Off by default: the whole key is hashed.
  HashRing plain = MustBuild(kThree);
  CHECK(plain.RoutingBytes("{user42}:a") == "{user42}:a");
}

TEST_CASE("HashRing is deterministic and ignores node list order", "[hash_ring]") {
  HashRing r1 = MustBuild(kThree);
  HashRing r2 = MustBuild(kThree);
  HashRing r3 = MustBuild({"redis-c:6379", "redis-a:6379", "redis-b:6379"});
  for (int i = 0; i < 5000; i++) {
    const std::string k = Key(i);
    REQUIRE(r1.Owner(k) == r2.Owner(k));
    REQUIRE(OwnerName(r1, k) == OwnerName(r3, k));
  }
}

TEST_CASE("HashRing with a single node owns everything", "[hash_ring]") {
  HashRing ring = MustBuild({"only:6379"}, 4);
  for (int i = 0; i < 1000; i++) REQUIRE(ring.Owner(Key(i)) == 0);
  CHECK(ring.Owner("") == 0);
}

TEST_CASE("HashRing::Build rejects bad input", "[hash_ring]") {
  CHECK(HashRing::Build({}).status().code() == Code::kBadArgs);
  CHECK(HashRing::Build({"a", ""}).status().code() == Code::kBadArgs);
  CHECK(HashRing::Build({"a", "b", "a"}).status().code() == Code::kBadArgs);
  CHECK(HashRing::Build({"a"}, 0).status().code() == Code::kBadArgs);
  CHECK(HashRing::Build({"a"}, 65537).status().code() == Code::kBadArgs);
  CHECK(HashRing::Build({"a"}, 1).ok());
}

// Not run by default: prints the worst deviation from an even share and the
// fraction moved when a 4th node joins, for several vnode counts and several
// naming schemes; this is how kDefaultVnodes was chosen.
//   routing_tests "[.measure]"
TEST_CASE("HashRing vnode measurement", "[.measure]") {
  const std::vector<std::vector<std::string>> schemes = {
      {"redis-a:6379", "redis-b:6379", "redis-c:6379", "redis-d:6379"},
      {"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"},
      {"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379", "10.0.0.4:6379"},
      {"node0", "node1", "node2", "node3"},
      {"cache-1.internal:6379", "cache-2.internal:6379", "cache-3.internal:6379",
       "cache-4.internal:6379"},
  };
  for (int vnodes : {64, 128, 256, 512, 1024, 2048, 4096}) {
    double worst = 0, min_moved = 1, max_moved = 0;
    for (const auto& names : schemes) {
      HashRing three = MustBuild({names[0], names[1], names[2]}, vnodes);
      HashRing four = MustBuild(names, vnodes);
      std::vector<int> count(3, 0);
      int moved = 0;
      for (int i = 0; i < kKeys; i++) {
        const std::string k = Key(i);
        size_t o = three.Owner(k);
        count[o]++;
        if (four.Owner(k) != o) moved++;
      }
      const double even = kKeys / 3.0;
      for (int c : count) worst = std::max(worst, std::abs(c - even) / even);
      min_moved = std::min(min_moved, double(moved) / kKeys);
      max_moved = std::max(max_moved, double(moved) / kKeys);
    }
    std::printf("vnodes=%4d worst_dev=%5.2f%% moved_on_add=%.4f..%.4f (%zu name schemes)\n", vnodes,
                worst * 100, min_moved, max_moved, schemes.size());
  }
}

}  // namespace
}  // namespace strata
