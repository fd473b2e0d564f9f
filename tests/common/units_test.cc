#include "common/units.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>

namespace strata {
namespace {

uint64_t SizeOf(std::string_view text) {
  StatusOr<uint64_t> bytes = ParseSize(text);
  INFO("ParseSize(\"" << std::string(text) << "\"): " << bytes.status().ToString());
  REQUIRE(bytes.ok());
  return *bytes;
}

std::string SizeError(std::string_view text) {
  StatusOr<uint64_t> bytes = ParseSize(text);
  INFO("ParseSize(\"" << std::string(text) << "\") should fail");
  REQUIRE_FALSE(bytes.ok());
  CHECK(bytes.status().code() == Code::kBadArgs);
  return bytes.status().message();
}

int64_t DurationOf(std::string_view text) {
  StatusOr<int64_t> ms = ParseDuration(text);
  INFO("ParseDuration(\"" << std::string(text) << "\"): " << ms.status().ToString());
  REQUIRE(ms.ok());
  return *ms;
}

std::string DurationError(std::string_view text) {
  StatusOr<int64_t> ms = ParseDuration(text);
  INFO("ParseDuration(\"" << std::string(text) << "\") should fail");
  REQUIRE_FALSE(ms.ok());
  CHECK(ms.status().code() == Code::kBadArgs);
  return ms.status().message();
}

TEST_CASE("ParseSize reads plain bytes", "[units]") {
  CHECK(SizeOf("0") == 0);
  CHECK(SizeOf("1") == 1);
  CHECK(SizeOf("4096") == 4096);
  CHECK(SizeOf("007") == 7);
}

TEST_CASE("ParseSize reads every unit", "[units]") {
  CHECK(SizeOf("3B") == 3);
  CHECK(SizeOf("3KB") == 3'000);
  CHECK(SizeOf("3MB") == 3'000'000);
  CHECK(SizeOf("3GB") == 3'000'000'000);
  CHECK(SizeOf("3TB") == 3'000'000'000'000);
  CHECK(SizeOf("3KiB") == 3ull << 10);
  CHECK(SizeOf("3MiB") == 3ull << 20);
  CHECK(SizeOf("3GiB") == 3ull << 30);
  CHECK(SizeOf("3TiB") == 3ull << 40);
}

TEST_CASE("ParseSize ignores the unit's case and allows spaces", "[units]") {
  CHECK(SizeOf("512mib") == 512ull << 20);
  CHECK(SizeOf("512MIB") == 512ull << 20);
  CHECK(SizeOf("16 KiB") == 16ull << 10);
  CHECK(SizeOf("1gb") == 1'000'000'000);
  CHECK(SizeOf("  64MiB  ") == 64ull << 20);
  CHECK(SizeOf("10 b") == 10);
}

TEST_CASE("ParseSize rejects overflow", "[units]") {
  CHECK(SizeOf("18446744073709551615") == std::numeric_limits<uint64_t>::max());
  CHECK(SizeOf("16777215TiB") == 16777215ull << 40);
  CHECK_THAT(SizeError("18446744073709551616"), Catch::Contains("too large"));
  CHECK_THAT(SizeError("16777216TiB"), Catch::Contains("too large"));
  CHECK_THAT(SizeError("99999999999999999999999999MiB"), Catch::Contains("too large"));
  CHECK_THAT(SizeError("18446744073709552GB"), Catch::Contains("too large"));
}

TEST_CASE("ParseSize rejects negatives, fractions and garbage", "[units]") {
  CHECK_THAT(SizeError("-1"), Catch::Contains("negative"));
  CHECK_THAT(SizeError("-1MiB"), Catch::Contains("negative"));
  CHECK_THAT(SizeError("1.5GiB"), Catch::Contains("fractions"));
  CHECK_THAT(SizeError(""), Catch::Contains("empty"));
  CHECK_THAT(SizeError("   "), Catch::Contains("empty"));
  CHECK_THAT(SizeError("abc"), Catch::Contains("expected a whole number"));
  CHECK_THAT(SizeError("MiB"), Catch::Contains("expected a whole number"));
  CHECK_THAT(SizeError("+5"), Catch::Contains("expected a whole number"));
  CHECK_THAT(SizeError("1k"), Catch::Contains("unknown unit \"k\""));
  CHECK_THAT(SizeError("1k"), Catch::Contains("KiB"));
  CHECK_THAT(SizeError("12abc"), Catch::Contains("unknown unit \"abc\""));
  CHECK_THAT(SizeError("1 2MiB"), Catch::Contains("unknown unit"));
  CHECK_THAT(SizeError("5MiBs"), Catch::Contains("unknown unit"));
  CHECK_THAT(SizeError("0x10"), Catch::Contains("unknown unit"));
}

TEST_CASE("ParseDuration reads every unit; a plain number is milliseconds", "[units]") {
  CHECK(DurationOf("0") == 0);
  CHECK(DurationOf("250") == 250);
  CHECK(DurationOf("250ms") == 250);
  CHECK(DurationOf("10s") == 10'000);
  CHECK(DurationOf("5m") == 300'000);
  CHECK(DurationOf("2h") == 7'200'000);
  CHECK(DurationOf("10 S") == 10'000);
  CHECK(DurationOf("3MS") == 3);
  CHECK(DurationOf("0s") == 0);
}

TEST_CASE("ParseDuration rejects overflow, negatives and garbage", "[units]") {
  CHECK(DurationOf("9223372036854775807") == std::numeric_limits<int64_t>::max());
  CHECK_THAT(DurationError("9223372036854775808"), Catch::Contains("too large"));
  CHECK_THAT(DurationError("2562047788015216h"), Catch::Contains("too large"));
  CHECK_THAT(DurationError("-5s"), Catch::Contains("negative"));
  CHECK_THAT(DurationError("1.5s"), Catch::Contains("fractions"));
  CHECK_THAT(DurationError("1w"), Catch::Contains("unknown unit \"w\""));
  CHECK_THAT(DurationError("1w"), Catch::Contains("ms, s, m, h or d"));
  CHECK_THAT(DurationError("1m30s"), Catch::Contains("unknown unit"));
  CHECK_THAT(DurationError("soon"), Catch::Contains("expected a whole number"));
  CHECK_THAT(DurationError(""), Catch::Contains("empty"));
}

TEST_CASE("FormatSize picks the largest exact unit", "[units]") {
  CHECK(FormatSize(0) == "0");
  CHECK(FormatSize(1) == "1B");
  CHECK(FormatSize(1500) == "1500B");
  CHECK(FormatSize(1000) == "1KB");
  CHECK(FormatSize(1024) == "1KiB");
  CHECK(FormatSize(16 << 10) == "16KiB");
  CHECK(FormatSize(268435456) == "256MiB");
  CHECK(FormatSize(64ull << 20) == "64MiB");
  CHECK(FormatSize(1ull << 30) == "1GiB");
  CHECK(FormatSize(1'000'000'000) == "1GB");
  CHECK(FormatSize(2'048'000) == "2000KiB");
  CHECK(FormatSize(5ull << 40) == "5TiB");
  CHECK(FormatSize(7'000'000'000'000) == "7TB");
  CHECK(FormatSize(std::numeric_limits<uint64_t>::max()) == "18446744073709551615B");
}

TEST_CASE("FormatDuration picks the largest exact unit", "[units]") {
  CHECK(FormatDuration(0) == "0");
  CHECK(FormatDuration(250) == "250ms");
  CHECK(FormatDuration(1000) == "1s");
  CHECK(FormatDuration(10'000) == "10s");
  CHECK(FormatDuration(90'000) == "90s");
  CHECK(FormatDuration(60'000) == "1m");
  CHECK(FormatDuration(3'600'000) == "1h");
  CHECK(FormatDuration(1500) == "1500ms");
  CHECK(FormatDuration(-250) == "-250ms");
  CHECK(FormatDuration(std::numeric_limits<int64_t>::min()) == "-9223372036854775808ms");
}

TEST_CASE("Format output parses back to the same value", "[units]") {
  const uint64_t sizes[] = {0,           1,
                            999,         1000,
                            1023,        1024,
                            4096,        1'000'000,
                            2'048'000,   1ull << 30,
                            3ull << 40,  10ull << 40,
                            123'456'789, std::numeric_limits<uint64_t>::max()};
  for (uint64_t size : sizes) {
    INFO(size);
    CHECK(SizeOf(FormatSize(size)) == size);
  }
  // A deterministic sweep over products of small numbers and every scale.
  for (uint64_t n = 1; n < 3000; n += 7) {
    for (uint64_t scale : {1ull, 1000ull, 1024ull, 1ull << 20, 1'000'000'000ull, 1ull << 40}) {
      CHECK(SizeOf(FormatSize(n * scale)) == n * scale);
    }
  }
  const int64_t durations[] = {
      0,      1,         999,       1000,       59'999,
      60'000, 3'599'999, 3'600'000, 86'400'000, std::numeric_limits<int64_t>::max()};
  for (int64_t ms : durations) {
    INFO(ms);
    CHECK(DurationOf(FormatDuration(ms)) == ms);
  }
}

}  // namespace
}  // namespace strata
