// The closed-loop load generator: N non-blocking Unix-socket connections on
// one epoll loop in one thread, each keeping `depth` requests in flight. Per
// round trip a connection costs one read() and one write(): a readable event
// is one read, every complete reply in it is matched and timed, the freed
// slots are refilled, and the new requests go out in one write. epoll is
// level-triggered, so a read that filled the buffer is simply resumed on the
// next turn; EPOLLOUT is armed only while a write is partial.
//
// Latency is from the write that carried a request to the read that completed
// it, one sample per reply even when pipelined. msgpack-RPC replies are matched
// by msgid (they may come out of order: the slot index is in the msgid's low
// bits, checked against the full msgid); RESP replies are matched in order.
//
// A phase (preload, or warm-up + measured window) is bounded by time and by a
// request count, and ends by draining in-flight requests for at most
// drain_timeout; requests still unanswered then are "lost" and their
// connection is closed, so a late reply can never be matched to a later phase.
//
// Thread affinity: one thread; not thread-safe. Owns its sockets and epoll fd.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/codec.h"
#include "bench/histogram.h"
#include "bench/options.h"
#include "bench/workload.h"

namespace strata::bench {

struct PhaseConfig {
  bool preload = false;  // SET keys 0..keyspace-1 once each (in order), then stop
  int depth = 1;         // REQUIRES: <= max_depth given to Connect
  double warmup_s = 0;   // ignored for preload
  double duration_s = 10;
  uint64_t max_requests = UINT64_MAX;
  double drain_timeout_s = 2;
  uint64_t seed = 1;
  bool progress = false;                  // a line on stderr every second
  std::function<void()> on_window_start;  // called when measurement starts
  std::function<void()> on_window_end;    // and when it stops
};

struct PhaseResult {
  bool window_started = false;
  double window_s = 0;             // measured window, seconds
  uint64_t replies_in_window = 0;  // replies received inside the window (→ ops/s)
  uint64_t issued = 0;             // requests sent in the whole phase
  // Requests sent inside the window and answered (each a latency sample):
  uint64_t gets = 0, sets = 0, hits = 0, misses = 0, server_errors = 0;
  uint64_t warmup_errors = 0;  // server errors to requests sent before the window
  uint64_t notifications = 0;
  uint64_t msgid_mismatch = 0;   // a reply whose msgid matched no request in flight
  uint64_t protocol_errors = 0;  // undecodable bytes / unexpected reply (conn closed)
  uint64_t lost = 0;             // in flight when the phase gave up on them
  uint64_t conns_closed = 0;     // by the server or by an error
  std::string stop_reason;       // duration | max_requests | done | interrupted | ...
  Histogram latency_ns;

  uint64_t Errors() const {
    return server_errors + warmup_errors + msgid_mismatch + protocol_errors + lost;
  }
};

class LoadClient {
 public:
  LoadClient();
  ~LoadClient();
  LoadClient(const LoadClient&) = delete;
  LoadClient& operator=(const LoadClient&) = delete;

  // Opens `connections` connections to the Unix socket at `path`. Returns ""
  // or an error.
  std::string Connect(const std::string& path, int connections, int max_depth, Protocol protocol);
  // Runs one phase on the open connections. Connections closed in an earlier
  // phase stay closed.
  PhaseResult Run(const Workload& workload, const PhaseConfig& cfg);
  int live_connections() const;
  void Close();

  struct Conn;  // defined in load_client.cc

 private:
  template <class Codec>
  PhaseResult RunWith(const Workload& workload, const PhaseConfig& cfg);

  Protocol protocol_ = Protocol::kMsgpack;
  int epfd_ = -1;
  int slot_bits_ = 0;
  std::vector<std::unique_ptr<Conn>> conns_;
};

}  // namespace strata::bench
