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
TEST_CASE("record reaper: loops free the newest few, the drain what waited a whole tick",
          "[write_behind]") {
  RecordReaper reaper;
  std::vector<WriteRecord*> batch = Dead(40);
  reaper.Add(&batch);
  CHECK(batch.empty());
  CHECK(reaper.size() == 40);
  reaper.FreeSome(8);
  CHECK(reaper.size() == 32);
  reaper.FreeSome(100);  // at most 16 per call
  CHECK(reaper.size() == 16);
  // The first tick only marks what is here; the next frees what is still
  // untouched.
  CHECK(reaper.FreeStale() == 0);
  CHECK(reaper.size() == 16);
  std::vector<WriteRecord*> more = Dead(5);
  reaper.Add(&more);
  reaper.FreeSome(8);  // the 5 new ones and 3 of the marked 16
  CHECK(reaper.size() == 13);
  CHECK(reaper.FreeStale() == 13);  // the rest of the marked ones
  CHECK(reaper.size() == 0);
  std::vector<WriteRecord*> later = Dead(4);
  reaper.Add(&later);
  CHECK(reaper.FreeStale() == 0);  // new since the last tick
  CHECK(reaper.FreeStale() == 4);
  reaper.FreeSome(8);  // nothing left: a no-op
  std::vector<WriteRecord*> empty;
  reaper.Add(&empty);
  CHECK(reaper.size() == 0);

  RecordReaper left;
  std::vector<WriteRecord*> rest = Dead(5);
  left.Add(&rest);
  CHECK(left.FreeAll() == 5);
  rest = Dead(3);
  left.Add(&rest);
  CHECK(left.size() == 3);  // freed by the destructor
}

}  // namespace
}  // namespace strata
