#include "tiers/l1_index.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "routing/murmur3.h"

namespace strata {
namespace {

TEST_CASE("L1Index agrees with a reference map through incremental resizes") {
  L1Index index;
  std::unordered_map<std::string, L1Entry*> ref;
  std::mt19937_64 rng(1234);
  bool saw_resize = false;
  for (int step = 0; step < 200000; ++step) {
    std::string key = "k" + std::to_string(rng() % 20000);
    uint64_t h = KeyHash(key);
    auto it = ref.find(key);
    int op = int(rng() % 10);
    if (it == ref.end()) {
      REQUIRE(index.Find(h, key) == nullptr);
      if (op < 7) {
        L1Entry* e = L1Entry::Create(key, "v", 0);
        index.Insert(h, e);
        ref[key] = e;
      }
    } else {
      REQUIRE(index.Find(h, key) == it->second);
      if (op < 3) {
        index.Remove(h, it->second);
        L1Entry::Destroy(it->second);
        ref.erase(it);
      } else if (op < 5) {
        L1Entry* e = L1Entry::Create(key, "w", 0);
        index.Replace(h, it->second, e);
        L1Entry::Destroy(it->second);
        it->second = e;
      }
    }
    saw_resize |= index.resizing();
    REQUIRE(index.size() == ref.size());
  }
  CHECK(saw_resize);
  for (auto& [key, e] : ref) {
    CHECK(index.Find(KeyHash(key), key) == e);
    L1Entry::Destroy(e);
  }
}

TEST_CASE("L1Index: a resize left half-way is finished by AdvanceResize") {
  L1Index index;
  std::vector<L1Entry*> entries;
  // Insert until a resize starts, then stop growing.
  for (int i = 0; !index.resizing(); ++i) {
    std::string key = "key" + std::to_string(i);
    entries.push_back(L1Entry::Create(key, "v", 0));
    index.Insert(KeyHash(key), entries.back());
  }
  uint64_t during = index.memory_bytes();
  while (index.resizing()) index.AdvanceResize(4);
  CHECK(index.memory_bytes() < during);
  for (L1Entry* e : entries) {
    CHECK(index.Find(KeyHash(e->key()), e->key()) == e);
    L1Entry::Destroy(e);
  }
}

TEST_CASE("L1Index shrinks as entries go, incrementally") {
  L1Index index;
  std::vector<L1Entry*> entries;
  for (int i = 0; i < 50000; ++i) {
    std::string key = "key" + std::to_string(i);
    entries.push_back(L1Entry::Create(key, "v", 0));
    index.Insert(KeyHash(key), entries.back());
  }
  uint64_t full = index.memory_bytes();
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i % 100 == 0) continue;  // keep 1%
    index.Remove(KeyHash(entries[i]->key()), entries[i]);
    L1Entry::Destroy(entries[i]);
    entries[i] = nullptr;
  }
  // The background sweep keeps calling AdvanceResize: successive shrinks.
  for (int i = 0; i < 100000 && (i == 0 || index.resizing()); ++i) index.AdvanceResize(64);
  CHECK_FALSE(index.resizing());
  CHECK(index.size() == 500);
  CHECK(index.memory_bytes() * 16 < full);
  for (L1Entry* e : entries) {
    if (e == nullptr) continue;
    CHECK(index.Find(KeyHash(e->key()), e->key()) == e);
    L1Entry::Destroy(e);
  }
}

TEST_CASE("L1Index: empty key and many colliding tags") {
  L1Index index;
  L1Entry* empty = L1Entry::Create("", "x", 0);
  index.Insert(KeyHash(""), empty);
  CHECK(index.Find(KeyHash(""), "") == empty);
  index.Remove(KeyHash(""), empty);
  CHECK(index.Find(KeyHash(""), "") == nullptr);
  CHECK(index.size() == 0);
  L1Entry::Destroy(empty);
}

}  // namespace
}  // namespace strata
