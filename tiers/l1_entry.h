// L1Entry: one cached item, a single heap block: header, key bytes, value bytes.
//
// The header is 24 bytes so that a 16-byte key with a 32-byte value fits an
// 80-byte malloc chunk (see l1_shard.h for the per-entry memory budget).
// An entry is owned by exactly one L1Shard and only touched under its lock.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace strata {

struct L1Entry {
  L1Entry* next;       // link in the shard's small or main FIFO
  int64_t expire_at;   // absolute ms; 0 = never
  uint32_t value_len;
  uint16_t key_len;
  uint8_t freq;        // S3-FIFO access counter, saturates at 3
  uint8_t flags;       // kInMain | kDead | kNegative

  static constexpr uint8_t kInMain = 1;  // lives in the main FIFO (else small)
  static constexpr uint8_t kDead = 2;    // no longer indexed; freed when dequeued
  // A negative-cache marker (WriteOptions::negative): the key is known to be
  // absent below L1 until expire_at. It has no value bytes and is not a key:
  // only Lookup's callers tell it apart; eviction and expiry treat it like
  // any other entry.
  static constexpr uint8_t kNegative = 4;

  char* data() { return reinterpret_cast<char*>(this + 1); }
  const char* data() const { return reinterpret_cast<const char*>(this + 1); }
  std::string_view key() const { return {data(), key_len}; }
  std::string_view value() const { return {data() + key_len, value_len}; }
  bool dead() const { return flags & kDead; }
  bool in_main() const { return flags & kInMain; }
  bool negative() const { return flags & kNegative; }
  bool expired(int64_t now_ms) const { return expire_at != 0 && expire_at <= now_ms; }

  // Bytes charged against l1.max_bytes: the malloc chunk this block occupies
  // (glibc: request + 8-byte header, rounded up to 16, at least 32).
  static uint64_t ChargeFor(size_t key_len, size_t value_len) {
    uint64_t n = sizeof(L1Entry) + key_len + value_len + 8;
    n = (n + 15) & ~uint64_t(15);
    return n < 32 ? 32 : n;
  }
  uint64_t charge() const { return ChargeFor(key_len, value_len); }

  // Allocates and fills an entry; returns nullptr if out of memory.
  static L1Entry* Create(std::string_view key, std::string_view value, int64_t expire_at) {
    auto* e = static_cast<L1Entry*>(std::malloc(sizeof(L1Entry) + key.size() + value.size()));
    if (e == nullptr) return nullptr;
    e->next = nullptr;
    e->expire_at = expire_at;
    e->value_len = static_cast<uint32_t>(value.size());
    e->key_len = static_cast<uint16_t>(key.size());
    e->freq = 0;
    e->flags = 0;
    if (!key.empty()) std::memcpy(e->data(), key.data(), key.size());
    if (!value.empty()) std::memcpy(e->data() + key.size(), value.data(), value.size());
    return e;
  }
  static void Destroy(L1Entry* e) { std::free(e); }
};

static_assert(sizeof(L1Entry) == 24, "keep the L1 entry header at 24 bytes");

}  // namespace strata
