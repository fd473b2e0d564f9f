// SpinLock: a test-and-test-and-set lock for very short critical sections.
//
// Why not std::mutex: on this class of VM a futex sleep/wake costs tens of
// microseconds, and sharded maps behind a sleeping mutex ran slower with two
// threads than with one (shared/BENCHMARKING.md). L1 critical sections are a
// hash probe and a memcpy, so waiters spin (with `pause`) and only yield the
// CPU after a while, which matters when there are more threads than cores.
//
// Thread affinity: any thread. Not recursive.
#pragma once

#include <atomic>
#include <sched.h>

namespace strata {

class SpinLock {
 public:
  void lock() {
    for (;;) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      int spins = 0;
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins < 128) {
#if defined(__x86_64__) || defined(__i386__)
          __builtin_ia32_pause();
#endif
        } else {
          sched_yield();  // the holder may be descheduled: give it the core
          spins = 0;
        }
      }
    }
  }
  bool try_lock() { return !locked_.exchange(true, std::memory_order_acquire); }
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace strata
