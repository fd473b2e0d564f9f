// RecordReaper: journal records that the drain let go of, freed later on a
// loop thread, a few per write.
//
// Why: a record is allocated by the loop thread that journals it (glibc gives
// that thread its own malloc arena) and let go of by the drain once every tier
// confirmed it, ~130k per second under load. A free from another thread takes
// the arena's lock, which the loop's own mallocs (L1 entries, records) need:
// the loop made ~1.1k futex calls per 2 s waiting for it (perf trace,
// bench/README.md session 6). Freed on a loop, the memory goes back through
// that thread's cache, uncontended, and is reused by its next allocation.
//
// A record waits at most two calls of FreeStale (the drain's checkpoint tick,
// 200 ms): what the loops did not free by then (idle loops, or a burst far
// larger than the write rate, such as a backlog drained after Redis came
// back) the drain frees itself.
//
// Thread affinity: Add and FreeStale from the drain; FreeSome from loops (it
// never waits for the lock); FreeAll and the destructor from any thread. The
// reaper owns what it holds.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <vector>

#include "tiers/pending_writes.h"

namespace strata {

class RecordReaper {
 public:
  RecordReaper() = default;
  ~RecordReaper() { FreeAll(); }
  RecordReaper(const RecordReaper&) = delete;
  RecordReaper& operator=(const RecordReaper&) = delete;

  // Takes every record in *records (each with no references left) and clears it.
  void Add(std::vector<WriteRecord*>* records);
  // Frees up to `n` (at most 16) of the newest records, unless another
  // thread holds the lock right now.
  void FreeSome(size_t n);
  // Frees the records that were already here at the previous call and that
  // FreeSome has not freed since; returns how many.
  size_t FreeStale() { return FreeOldest(/*all=*/false); }
  // Frees everything held; returns how many.
  size_t FreeAll() { return FreeOldest(/*all=*/true); }

  size_t size() const { return count_.load(std::memory_order_relaxed); }

 private:
  // Frees the untouched front records (or all); marks what is left untouched.
  size_t FreeOldest(bool all);

  std::mutex mu_;
  std::vector<WriteRecord*> records_;  // oldest first; FreeSome takes from the back
  size_t untouched_ = 0;  // front records here since the last FreeStale, none taken since
  std::atomic<size_t> count_{0};
};

}  // namespace strata
