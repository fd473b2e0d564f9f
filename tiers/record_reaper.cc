#include "tiers/record_reaper.h"

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
  if (n > sizeof take / sizeof take[0]) n = sizeof take / sizeof take[0];
  size_t got = 0;
  {
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    if (!lock.owns_lock()) return;
    while (got < n && !records_.empty()) {
      take[got++] = records_.back();
      records_.pop_back();
    }
    count_.store(records_.size(), std::memory_order_relaxed);
  }
  for (size_t i = 0; i < got; ++i) take[i]->Free();
  freed_some_.fetch_add(got, std::memory_order_relaxed);
}

size_t RecordReaper::FreeAll() {
  std::vector<WriteRecord*> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all.swap(records_);
    count_.store(0, std::memory_order_relaxed);
  }
  for (WriteRecord* r : all) r->Free();
  return all.size();
}

}  // namespace strata
