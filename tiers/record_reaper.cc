#include "tiers/record_reaper.h"

#include <algorithm>

namespace strata {

void RecordReaper::Add(std::vector<WriteRecord*>* records) {
  if (records->empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  records_.insert(records_.end(), records->begin(), records->end());
  count_.store(records_.size(), std::memory_order_relaxed);
  records->clear();
}

void RecordReaper::FreeSome(size_t n) {
  WriteRecord* take[16];
  n = std::min(n, sizeof take / sizeof take[0]);
  size_t got = 0;
  {
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    if (!lock.owns_lock()) return;
    while (got < n && !records_.empty()) {
      take[got++] = records_.back();
      records_.pop_back();
    }
    untouched_ = std::min(untouched_, records_.size());
    count_.store(records_.size(), std::memory_order_relaxed);
  }
  for (size_t i = 0; i < got; ++i) take[i]->Free();
}

size_t RecordReaper::FreeOldest(bool all) {
  std::vector<WriteRecord*> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const size_t n = all ? records_.size() : untouched_;
    const auto end = records_.begin() + static_cast<std::ptrdiff_t>(n);
    out.assign(records_.begin(), end);
    records_.erase(records_.begin(), end);
    untouched_ = records_.size();
    count_.store(records_.size(), std::memory_order_relaxed);
  }
  for (WriteRecord* r : out) r->Free();
  return out.size();
}

}  // namespace strata
