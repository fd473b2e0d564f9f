// MurmurHash3 (Austin Appleby's public-domain reference, x86_32 and x64_128).
//
// Strata uses the x64_128 variant everywhere a key must be placed: L1 shard
// and slot, consistent-hash ring, partition map. Results are bit-identical to
// the reference implementation (tests check the SMHasher verification values),
// so other languages can compute the same placement.
//
// Thread affinity: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strata {

uint32_t Murmur3_x86_32(const void* data, size_t len, uint32_t seed);

struct Hash128 {
  uint64_t lo;  // h1 of the reference implementation (first 8 output bytes)
  uint64_t hi;  // h2
};
Hash128 Murmur3_x64_128(const void* data, size_t len, uint32_t seed);

// The 64-bit key hash Strata routes by: the low half of x64_128, seed 0.
inline uint64_t KeyHash(std::string_view key) {
  return Murmur3_x64_128(key.data(), key.size(), 0).lo;
}

}  // namespace strata
