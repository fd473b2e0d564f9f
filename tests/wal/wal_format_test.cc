#include "wal/wal_format.h"

#include <catch2/catch.hpp>
#include <string>

namespace strata {
namespace {

namespace fmt = wal_format;

std::string Encode(uint64_t seq, const WalRecord& r) {
  std::string out(fmt::EncodedSize(r.key.size(), r.value.size()), '\0');
  fmt::EncodeRecordNoCrc(out.data(), seq, r);
  fmt::FillCrc(out.data());
  return out;
}

TEST_CASE("wal_format: a record round-trips and its layout is the documented one", "[wal]") {
  std::string key("k\0\xff", 3);
  std::string value("value");
  WalRecord in{0, WalOp::kSet, 1234567890123, key, value};
  std::string bytes = Encode(42, in);
  REQUIRE(bytes.size() == 33 + 3 + 5);
  CHECK(static_cast<uint8_t>(bytes[0]) == 25 + 3 + 5);  // length: bytes after the crc
  CHECK(static_cast<uint8_t>(bytes[8]) == 42);           // seq, little-endian
  CHECK(bytes[16] == 1);                                 // op
  CHECK(bytes.substr(33, 3) == key);
  CHECK(fmt::RecordSizeAt(bytes.data()) == bytes.size());
  size_t pos = 0;
  WalRecord out;
  std::string why;
  REQUIRE(fmt::DecodeRecord(bytes, &pos, &out, &why) == fmt::DecodeResult::kOk);
  CHECK(pos == bytes.size());
  CHECK(out.seq == 42);
  CHECK(out.op == WalOp::kSet);
  CHECK(out.expire_at_ms == 1234567890123);
  CHECK(out.key == key);
  CHECK(out.value == value);
  CHECK(fmt::DecodeRecord(bytes, &pos, &out, &why) == fmt::DecodeResult::kEnd);
}

TEST_CASE("wal_format: every damage is caught", "[wal]") {
  std::string good = Encode(7, WalRecord{0, WalOp::kExpire, 99, "key", ""});
  auto decode = [](const std::string& b) {
    size_t pos = 0;
    WalRecord out;
    std::string why;
    return fmt::DecodeRecord(b, &pos, &out, &why);
  };
  // Any flipped bit anywhere.
  for (size_t i = 0; i < good.size() * 8; ++i) {
    std::string bad = good;
    bad[i / 8] ^= static_cast<char>(1 << (i % 8));
    INFO("bit " << i);
    CHECK(decode(bad) == fmt::DecodeResult::kCorrupt);
  }
  // Any truncation.
  for (size_t n = 1; n < good.size(); ++n) {
    CHECK(decode(good.substr(0, n)) == fmt::DecodeResult::kCorrupt);
  }
  // Zeros to the end are a preallocated segment's unwritten rest: the end,
  // not damage; zeros with anything after them are damage.
  {
    size_t pos = 0;
    WalRecord out;
    std::string why;
    std::string data = good + std::string(64, '\0');
    CHECK(fmt::DecodeRecord(data, &pos, &out, &why) == fmt::DecodeResult::kOk);
    CHECK(fmt::DecodeRecord(data, &pos, &out, &why) == fmt::DecodeResult::kEnd);
    CHECK(pos == good.size());
  }
  CHECK(decode(std::string(64, '\0')) == fmt::DecodeResult::kEnd);
  CHECK(decode(std::string(3, '\0')) == fmt::DecodeResult::kEnd);
  CHECK(decode(std::string(64, '\0') + "x") == fmt::DecodeResult::kCorrupt);
  CHECK(decode(std::string(4, '\0') + good) == fmt::DecodeResult::kCorrupt);
}

TEST_CASE("wal_format: names, headers, checkpoints", "[wal]") {
  CHECK(fmt::SegmentName(1) == "wal-00000000000000000001.log");
  uint64_t seq = 0;
  CHECK(fmt::ParseSegmentName(fmt::SegmentName(18446744073709551615ull), &seq));
  CHECK(seq == 18446744073709551615ull);
  CHECK_FALSE(fmt::ParseSegmentName("wal-99999999999999999999.log", &seq));
  CHECK_FALSE(fmt::ParseSegmentName("wal-0000000000000000000x.log", &seq));
  CHECK_FALSE(fmt::ParseSegmentName("CHECKPOINT", &seq));
  char header[fmt::kSegmentHeaderSize];
  fmt::EncodeSegmentHeader(header);
  CHECK(fmt::CheckSegmentHeader(std::string_view(header, sizeof(header))).empty());
  CHECK_FALSE(fmt::CheckSegmentHeader("SWAL").empty());
  CHECK_FALSE(fmt::CheckSegmentHeader(std::string("SWAL\x02\0\0\0", 8)).empty());
  std::string cp = fmt::EncodeCheckpoint(12345);
  CHECK(fmt::DecodeCheckpoint(cp, &seq));
  CHECK(seq == 12345);
  cp[5] ^= 1;
  CHECK_FALSE(fmt::DecodeCheckpoint(cp, &seq));
}

}  // namespace
}  // namespace strata
