// SharedState: what the main thread and every worker loop see in common.
//
// Built by Server before the workers start; the pointers are borrowed and
// outlive the workers. The counters are atomics updated from any thread.
#pragma once

#include <atomic>
#include <cstdint>

#include "proxy/config.h"
#include "proxy/tier_set.h"

namespace strata {

struct SharedState {
  const Config* config = nullptr;
  L1Cache* l1 = nullptr;
  SharedTiers tiers;  // L1, L3, the I/O pool, pending writes, write-behind
  int64_t start_ms = 0;

  std::atomic<uint64_t> connections{0};        // open now
  std::atomic<uint64_t> connections_total{0};  // accepted since start
  std::atomic<uint64_t> connections_rejected{0};
  std::atomic<uint64_t> protocol_errors{0};    // connections closed for bad bytes
  std::atomic<uint64_t> idle_closed{0};
  // Input-buffer bytes held beyond each connection's free baseline, bounded
  // by server.max_input_bytes (PROTOCOL.md: memory for incomplete messages).
  std::atomic<int64_t> input_bytes{0};
  std::atomic<uint64_t> input_paused{0};       // times a read was paused for it
  std::atomic<bool> input_overdraft{false};    // one connection may exceed it
  std::atomic<uint64_t> output_paused{0};      // times a read was paused for output
};

}  // namespace strata
