// CRC32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78): the
// checksum of WAL records and of the checkpoint file.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at run
// time) and a table otherwise; both give the same values.
//   Crc32c("123456789") == 0xE3069283
//
// Thread affinity: none; pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strata {

// The CRC32C of data[0, n) continued from `crc` (the CRC of what came before;
// 0 for a fresh start), so Extend(Crc(a), b) == Crc(a + b).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

inline uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }
inline uint32_t Crc32c(std::string_view data) { return Crc32cExtend(0, data.data(), data.size()); }

// Storing the CRC of a string that itself contains CRCs makes the outer CRC
// degenerate; masking (LevelDB's crc32c::Mask) avoids that. Store Mask(crc),
// compare Unmask(stored) with a fresh CRC.
inline uint32_t Crc32cMask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }
inline uint32_t Crc32cUnmask(uint32_t masked) {
  uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

// True if the hardware path is in use (for benchmarks and logs).
bool Crc32cHardware();
// The table path alone, so tests can compare the two on any machine.
uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t n);

}  // namespace strata
