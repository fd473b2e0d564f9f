// Replay of damaged files: a torn tail and a flipped bit.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <vector>

#include "tests/wal/wal_test_util.h"
#include "wal/wal.h"
#include "wal/wal_format.h"

namespace strata {
namespace {

using wal_test::AppendOrDie;
using wal_test::MakeRec;
using wal_test::OpenOrDie;
using wal_test::Rec;
using wal_test::TempDir;

std::vector<std::string> Segments(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("wal-", 0) == 0) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Offsets at which the records of a segment start.
std::vector<size_t> RecordOffsets(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<size_t> out;
  size_t pos = wal_format::kSegmentHeaderSize;
  while (pos < data.size()) {
    out.push_back(pos);
    pos += wal_format::RecordSizeAt(data.data() + pos);
  }
  return out;
}

std::vector<Rec> WriteSome(const WalOptions& o, uint64_t n) {
  std::vector<Rec> appended;
  std::vector<Rec> replayed;
  auto wal = OpenOrDie(o, &replayed);
  for (uint64_t i = 0; i < n; ++i) {
    appended.push_back(AppendOrDie(wal.get(), MakeRec(i)));
    if (i % 10 == 0) REQUIRE(wal->Flush().ok());
  }
  return appended;
}

TEST_CASE("wal: a torn tail is truncated at the last good record and appends go on", "[wal]") {
  TempDir dir;
  WalOptions o;
  o.dir = dir.path();
  o.segment_bytes = 4096;
  // It counts records per segment: a spare's early rotation (at a time the
  // helper thread picks) could leave a segment with one record.
  o.preallocate = false;
  std::vector<Rec> appended = WriteSome(o, 100);
  std::vector<std::string> segs = Segments(o.dir);
  REQUIRE(segs.size() >= 3);
  // Cut the last segment in the middle of its last-but-one record.
  std::vector<size_t> offs = RecordOffsets(segs.back());
  REQUIRE(offs.size() >= 2);
  const size_t cut = offs[offs.size() - 2] + 13;
  std::filesystem::resize_file(segs.back(), cut);
  const size_t lost = 2;

  std::vector<Rec> replayed;
  {
    auto wal = OpenOrDie(o, &replayed);
    CHECK(wal->stats().truncated_tails == 1);
    CHECK(replayed == std::vector<Rec>(appended.begin(), appended.end() - lost));
    CHECK(std::filesystem::file_size(segs.back()) == offs[offs.size() - 2]);
    CHECK(wal->last_seq() == appended.size() - lost);
    // New appends continue the sequence right after the last good record.
    appended.resize(appended.size() - lost);
    for (uint64_t i = 500; i < 520; ++i) appended.push_back(AppendOrDie(wal.get(), MakeRec(i)));
    CHECK(appended.back().seq == 100 - lost + 20);
  }
  replayed.clear();
  auto wal = OpenOrDie(o, &replayed);
  CHECK(wal->stats().truncated_tails == 0);
  CHECK(replayed == appended);
}

TEST_CASE("wal: a tail of zeros is the segment's end, a half-written header a torn tail",
          "[wal]") {
  TempDir dir;
  WalOptions o;
  o.dir = dir.path();
  std::vector<Rec> appended = WriteSome(o, 20);
  std::string last = Segments(o.dir).back();
  const uintmax_t written = std::filesystem::file_size(last);
  {
    // Preallocated space never written (or a file system that extended the
    // file without its data): cut off, not counted as damage.
    std::ofstream out(last, std::ios::binary | std::ios::app);
    out << std::string(100, '\0');
  }
  // A segment created right before the crash, header only half written.
  {
    std::ofstream out(o.dir + "/" + wal_format::SegmentName(21), std::ios::binary);
    out << "SWA";
  }
  std::vector<Rec> replayed;
  {
    auto wal = OpenOrDie(o, &replayed);
    CHECK(replayed == appended);
    CHECK(wal->stats().truncated_tails == 1);  // the header
    CHECK(wal->last_seq() == 20);
  }
  CHECK(Segments(o.dir).size() == 1);  // the empty one is gone
  CHECK(std::filesystem::file_size(last) == written);  // the zeros are cut off
  replayed.clear();
  auto wal = OpenOrDie(o, &replayed);
  CHECK(replayed == appended);
  CHECK(wal->stats().truncated_tails == 0);
}

TEST_CASE("wal: a flipped bit drops the rest of its segment, never applies garbage", "[wal]") {
  TempDir dir;
  WalOptions o;
  o.dir = dir.path();
  o.segment_bytes = 4096;
  o.preallocate = false;  // as above: the test needs full segments
  std::vector<Rec> appended = WriteSome(o, 150);
  std::vector<std::string> segs = Segments(o.dir);
  REQUIRE(segs.size() >= 4);
  const std::string victim = segs[1];
  std::vector<size_t> offs = RecordOffsets(victim);
  REQUIRE(offs.size() >= 4);
  const size_t bad = offs.size() / 2;
  {
    std::fstream f(victim, std::ios::binary | std::ios::in | std::ios::out);
    f.seekg(static_cast<std::streamoff>(offs[bad] + 20));
    char c;
    f.get(c);
    c ^= 0x10;
    f.seekp(static_cast<std::streamoff>(offs[bad] + 20));
    f.put(c);
  }
  std::map<uint64_t, Rec> by_seq;
  for (const Rec& r : appended) by_seq[r.seq] = r;

  std::vector<Rec> replayed;
  uint64_t first_dropped = 0;
  uint64_t dropped = 0;
  {
    auto wal = OpenOrDie(o, &replayed);
    CHECK(wal->stats().truncated_tails == 1);
    // Everything replayed is exactly what was appended, in order.
    for (size_t i = 0; i < replayed.size(); ++i) {
      REQUIRE(by_seq.count(replayed[i].seq) == 1);
      CHECK(replayed[i] == by_seq[replayed[i].seq]);
      if (i > 0) CHECK(replayed[i].seq > replayed[i - 1].seq);
    }
    // The records from the damaged one to the end of its segment are gone;
    // the segments after it replay in full.
    std::set<uint64_t> seen;
    for (const Rec& r : replayed) seen.insert(r.seq);
    for (const Rec& r : appended) {
      if (!seen.count(r.seq)) {
        if (first_dropped == 0) first_dropped = r.seq;
        ++dropped;
      }
    }
    CHECK(dropped == offs.size() - bad);
    for (uint64_t s = first_dropped; s < first_dropped + dropped; ++s) CHECK(!seen.count(s));
    CHECK(replayed.back() == appended.back());
    CHECK(std::filesystem::file_size(victim) == offs[bad]);
    CHECK(wal->last_seq() == appended.back().seq);
  }
  // The damage was cut off: a second replay is clean and identical.
  std::vector<Rec> again;
  auto wal = OpenOrDie(o, &again);
  CHECK(again == replayed);
  CHECK(wal->stats().truncated_tails == 0);
}

TEST_CASE("wal: a damaged CHECKPOINT means replaying everything", "[wal]") {
  TempDir dir;
  WalOptions o;
  o.dir = dir.path();
  std::vector<Rec> appended;
  {
    std::vector<Rec> replayed;
    auto wal = OpenOrDie(o, &replayed);
    for (uint64_t i = 0; i < 10; ++i) appended.push_back(AppendOrDie(wal.get(), MakeRec(i)));
    wal->SetCheckpoint(5);
  }
  {
    std::fstream f(o.dir + "/CHECKPOINT", std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(6);
    f.put('\x55');
  }
  std::vector<Rec> replayed;
  auto wal = OpenOrDie(o, &replayed);
  CHECK(replayed == appended);
}

}  // namespace
}  // namespace strata
