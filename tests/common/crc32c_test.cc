#include "common/crc32c.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <string>

namespace strata {
namespace {

TEST_CASE("crc32c matches the published check values", "[common][crc32c]") {
  CHECK(Crc32c(std::string_view("123456789")) == 0xE3069283u);
  std::string zeros(32, '\0');
  CHECK(Crc32c(zeros) == 0x8A9136AAu);
  std::string ones(32, '\xff');
  CHECK(Crc32c(ones) == 0x62A8AB43u);  // RFC 3720 B.4
  CHECK(Crc32c(std::string_view()) == 0u);
  CHECK(Crc32cExtendPortable(0, "123456789", 9) == 0xE3069283u);
}

TEST_CASE("crc32c: hardware and table agree, and Extend composes", "[common][crc32c]") {
  std::mt19937_64 rng(42);
  std::string data(4099, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t start : {0, 1, 3, 7}) {
    for (size_t len : {0, 1, 5, 8, 15, 64, 1000, 4090}) {
      std::string_view s(data.data() + start, len);
      uint32_t whole = Crc32c(s);
      CHECK(whole == Crc32cExtendPortable(0, s.data(), s.size()));
      size_t cut = len / 3;
      CHECK(Crc32cExtend(Crc32c(s.substr(0, cut)), s.data() + cut, len - cut) == whole);
    }
  }
}

TEST_CASE("crc32c mask round-trips and changes the value", "[common][crc32c]") {
  for (uint32_t crc : {0u, 1u, 0xE3069283u, 0xffffffffu}) {
    CHECK(Crc32cUnmask(Crc32cMask(crc)) == crc);
    CHECK(Crc32cMask(crc) != crc);
  }
}

}  // namespace
}  // namespace strata
