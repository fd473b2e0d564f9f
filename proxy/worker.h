// Worker: one libuv loop on its own thread, owning the connections handed to
// it by the acceptor.
//
// Other threads talk to a worker only through Adopt/BeginDrain/Stop, which
// queue a command under a mutex and wake the loop with uv_async_send.
//
// Thread affinity: the public methods are safe from any thread; everything
// else runs on the worker's thread.
#pragma once

#include <uv.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "proxy/dispatch.h"
#include "proxy/shared_state.h"
#include "proxy/journal_writer.h"
#include "proxy/tier_set.h"

namespace strata {

class Connection;

class Worker {
 public:
  Worker(int index, SharedState* shared, StatsProvider stats);
  ~Worker();

  void Start();
  // Hands over an accepted client fd.
  void Adopt(int fd);
  void BeginDrain();
  // Closes every connection, ends the loop; Join() waits for the thread.
  void Stop();
  void Join();

  size_t open_connections() const { return open_.load(std::memory_order_relaxed); }
  // This loop's L2 counters (zero without L2). Safe from any thread.
  const L2Counters& l2_counters() const { return l2_counters_; }
  const DispatchCounters& counters() const { return dispatcher_->counters(); }
  // This loop's per-tier lookups and latencies. Safe from any thread.
  const LoopTierMetrics& tier_metrics() const { return tier_metrics_; }

  // --- loop thread only ---
  uv_loop_t* loop() { return &loop_; }
  Dispatcher* dispatcher() { return dispatcher_.get(); }
  SharedState* shared() { return shared_; }
  bool draining() const { return draining_; }
  void Forget(Connection* c);
  // The loop's shared read buffer: connections with no partial message read
  // into it and decode in place, so an idle connection holds no input buffer.
  std::vector<char>& read_buffer() { return read_buffer_; }
  // A connection whose reading is paused asks to be ticked until it resumes.
  void WantTick(Connection* c) { ticking_.insert(c); }

 private:
  static void OnAsync(uv_async_t* a);
  static void OnTick(uv_timer_t* t);
  void Run();

  int index_;
  SharedState* shared_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<TierSet> tiers_;  // built and destroyed on the loop thread
  std::unique_ptr<JournalWriter> journal_;  // with write-behind
  L2Counters l2_counters_;
  LoopTierMetrics tier_metrics_;
  uv_loop_t loop_;
  uv_async_t async_;
  uv_timer_t tick_;
  std::thread thread_;

  std::mutex mu_;
  std::vector<int> incoming_;
  bool drain_requested_ = false;
  bool stop_requested_ = false;

  bool draining_ = false;
  std::vector<char> read_buffer_ = std::vector<char>(64 << 10);
  std::unordered_set<Connection*> conns_;
  std::unordered_set<Connection*> ticking_;
  std::atomic<size_t> open_{0};
};

}  // namespace strata
