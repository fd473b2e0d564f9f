#include "tiers/record_reaper.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tiers/pending_writes.h"

namespace strata {
namespace {

std::vector<WriteRecord*> Dead(int n) {
  std::vector<WriteRecord*> out;
  for (int i = 0; i < n; ++i) {
    std::string key = "k" + std::to_string(i);
    WriteRecord* r = WriteRecord::Make(WriteRecord::Op::kSet, key, std::string(100, 'v'), 0, 0,
                                       /*refs=*/1, PendingWrites::HashOf(key));
    REQUIRE(r->Release());  // the last reference: the reaper owns it now
    out.push_back(r);
  }
  return out;
}

// Leaks and double frees show under ASan (the CI's sanitizer build).
TEST_CASE("record reaper: frees a few per call, the rest at once or on destruction",
          "[write_behind]") {
  RecordReaper reaper;
  std::vector<WriteRecord*> batch = Dead(40);
  reaper.Add(&batch);
  CHECK(batch.empty());
  CHECK(reaper.size() == 40);
  reaper.FreeSome(8);
  CHECK(reaper.size() == 32);
  CHECK(reaper.freed_some() == 8);
  reaper.FreeSome(100);  // at most 16 per call
  CHECK(reaper.size() == 16);
  CHECK(reaper.freed_some() == 24);
  CHECK(reaper.FreeAll() == 16);
  CHECK(reaper.size() == 0);
  reaper.FreeSome(8);  // nothing left: a no-op
  CHECK(reaper.freed_some() == 24);
  std::vector<WriteRecord*> empty;
  reaper.Add(&empty);
  CHECK(reaper.size() == 0);

  RecordReaper left;
  std::vector<WriteRecord*> more = Dead(5);
  left.Add(&more);
  CHECK(left.size() == 5);  // freed by the destructor
}

}  // namespace
}  // namespace strata
