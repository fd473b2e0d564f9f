// The fixed-size items every L1 benchmark here uses: 16-byte keys
// ("key:" + 12 decimal digits) and 32-byte values, so every entry charges
// the same number of bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace strata::l1bench {

inline constexpr size_t kKeyBytes = 16;
inline constexpr size_t kValueBytes = 32;
inline constexpr char kValue[kValueBytes + 1] = "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv";

// Writes the 16-byte key of id k to out.
inline void KeyOf(uint32_t k, char out[kKeyBytes]) {
  std::memcpy(out, "key:", 4);
  for (int i = 15; i >= 4; --i) {
    out[i] = char('0' + k % 10);
    k /= 10;
  }
}

}  // namespace strata::l1bench
