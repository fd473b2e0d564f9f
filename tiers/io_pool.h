// IoPool: a small fixed pool of threads for blocking work (RocksDB reads and
// writes) that must not run on a loop thread.
//
// Submit() queues a job and never blocks: when the bounded queue is full it
// returns false and the caller fails the operation (OVERLOADED) instead of
// piling up work. Jobs run in submission order per thread, with no ordering
// between threads; a job that must reach a loop thread posts its result itself
// (see L3Tier).
//
// Thread affinity: Submit() and queued() are safe from any thread, including
// from a job. Ownership: the destructor stops accepting work, runs every job
// already queued, and joins the threads; it must not be called from a job.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace strata {

class IoPool {
 public:
  // REQUIRES: threads >= 1, max_queue >= 1.
  explicit IoPool(int threads = 2, size_t max_queue = 65536);
  ~IoPool();
  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  // False (and `job` is dropped unrun) when the queue is full or the pool is
  // being destroyed.
  [[nodiscard]] bool Submit(std::function<void()> job);

  size_t queued() const;  // jobs waiting, not counting those running

 private:
  void Run();

  const size_t max_queue_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace strata
