#include "routing/murmur3.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

namespace strata {
namespace {

// SMHasher's VerificationTest: hash keys {0}, {0,1}, ... {0..254} with seed
// 256-i, hash the concatenated outputs with seed 0, take the first 4 bytes.
uint32_t Verification(int hashbits, void (*hash)(const void*, int, uint32_t, void*)) {
  const int hashbytes = hashbits / 8;
  std::vector<uint8_t> key(256), hashes(hashbytes * 256), final(hashbytes);
  for (int i = 0; i < 256; i++) {
    key[i] = uint8_t(i);
    hash(key.data(), i, 256 - i, &hashes[i * hashbytes]);
  }
  hash(hashes.data(), hashbytes * 256, 0, final.data());
  uint32_t v;
  std::memcpy(&v, final.data(), 4);
  return v;
}

void Hash32(const void* k, int len, uint32_t seed, void* out) {
  uint32_t h = Murmur3_x86_32(k, len, seed);
  std::memcpy(out, &h, 4);
}
void Hash128Out(const void* k, int len, uint32_t seed, void* out) {
  Hash128 h = Murmur3_x64_128(k, len, seed);
  std::memcpy(out, &h.lo, 8);
  std::memcpy(static_cast<char*>(out) + 8, &h.hi, 8);
}

TEST_CASE("murmur3 matches the reference implementation's verification values") {
  CHECK(Verification(32, Hash32) == 0xB0F57EE3u);
  CHECK(Verification(128, Hash128Out) == 0x6384BA69u);
}

TEST_CASE("murmur3 known vectors") {
  CHECK(Murmur3_x86_32("", 0, 0) == 0u);
  CHECK(Murmur3_x86_32("", 0, 1) == 0x514E28B7u);
  CHECK(Murmur3_x86_32("hello", 5, 0) == 0x248BFA47u);
  CHECK(Murmur3_x64_128("", 0, 0).lo == 0u);
  CHECK(KeyHash("a") != KeyHash("b"));
}

}  // namespace
}  // namespace strata
