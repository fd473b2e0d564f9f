// JournalWriter: one loop's side of write-behind. It journals writes through
// WriteBehind and answers each when its acknowledgement condition holds
// (appended / durable / confirmed by every tier, see write_behind.h), or
// fails it if the WAL could not make it durable, or with TIMEOUT if a
// "through" write is not confirmed within wal.through_timeout (the write
// stays journaled and will still reach the tiers).
//
// With wal.sync = interval / never the loop writes the journal itself: a
// uv_check handle, started when a write waits, calls WriteBehind::WriteOut
// once per loop iteration (one write() for every write journaled in it), then
// answers them. Other wake-ups (fsyncs with wal.sync = always, the drain's
// confirmations, the WAL writer thread doing a write the loop could not)
// come through a uv_async handle; the worker's tick enforces the through
// timeout.
//
// Thread affinity: the loop thread of `loop`, except the waker (any thread).
// Ownership: borrows WriteBehind (which outlives every worker); owns its
// async and check handles (freed in their close callbacks: run the loop once
// more).
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "tiers/tier.h"
#include "tiers/write_behind.h"

namespace strata {

class JournalWriter {
 public:
  JournalWriter(WriteBehind* wb, uv_loop_t* loop, int64_t through_timeout_ms, Clock* clock);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // `done` fires exactly once: inline if the write is already acknowledged
  // or failed, else later on this loop.
  void Write(const WriteBehind::Write& w, bool through, WriteCallback done);
  // Fails through-writes whose wait passed wal.through_timeout.
  void Tick();
  size_t waiting() const { return waiters_.size(); }

 private:
  struct Waiter {
    uint64_t seq;
    WriteBehind::Ack ack;
    bool applied;
    int64_t deadline_ms;  // 0 = none
    WriteCallback done;
  };
  // Shared with the waker closure registered in WriteBehind (which cannot be
  // unregistered): after destruction the waker finds no handle.
  struct Wake {
    std::mutex mu;
    uv_async_t* async = nullptr;
  };

  static void OnAsync(uv_async_t* a);
  static void OnCheck(uv_check_t* c);
  void Resolve();

  WriteBehind* wb_;
  int64_t through_timeout_ms_;
  Clock* clock_;
  std::shared_ptr<Wake> wake_;
  uv_async_t* async_;
  uv_check_t* check_;
  bool check_active_ = false;
  std::deque<Waiter> waiters_;
};

}  // namespace strata
