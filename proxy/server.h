// Server: the process's main loop. It owns the tiers, the chain and the
// workers; accepts clients on the Unix socket and deals them round-robin to
// the worker loops; runs the L1 expiry sweep; and handles SIGTERM/SIGINT.
//
// Shutdown (SIGTERM or SIGINT): stop accepting and remove the socket file;
// every connection keeps being served until it has been quiet for a worker
// tick with nothing in flight, then closes; when none is left, or when
// server.shutdown_timeout has passed, the workers stop and Run() returns 0.
//
// Thread affinity: construct, Run() and destroy on the main thread.
#pragma once

#include <uv.h>

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "proxy/config.h"
#include "proxy/metrics.h"
#include "proxy/shared_state.h"
#include "tiers/chain.h"
#include "tiers/io_pool.h"
#include "tiers/l1_cache.h"
#include "tiers/pending_writes.h"
#include "tiers/rocksdb_store.h"
#include "tiers/write_behind.h"

namespace strata {

class AdminServer;
class Worker;

class Server {
 public:
  explicit Server(const Config& config);
  ~Server();

  // Binds the socket and starts the workers. Fails (and starts nothing) if
  // the socket cannot be bound.
  Status Start();
  // Runs until shutdown; returns the process exit code.
  int Run();

  // Every metric (server_metrics.cc): /metrics renders it; `stats` and
  // /stats flatten it (Stats). Any thread.
  MetricsSnapshot Metrics() const;
  std::vector<std::pair<std::string, double>> Stats() const;
  // /readyz: the socket listens, the server is not draining, and every tier
  // the config marks required is reachable (l2.required: every Redis
  // connection of every loop up). Otherwise false, with a JSON object
  // saying why in *reason_json (if given). Any thread.
  bool Ready(std::string* reason_json) const;
  // The admin HTTP port (0 without admin.listen); for tests with port 0.
  int admin_port() const;

 private:
  // L3, the I/O pool and write-behind (WAL replay happens here).
  Status OpenLowerTiers();
  // The admin HTTP server on its own thread, if admin.listen is set.
  Status StartAdmin();

 public:

 private:
  static void OnAcceptable(uv_poll_t* p, int status, int events);
  static void OnSignal(uv_signal_t* s, int signum);
  static void OnSweep(uv_timer_t* t);
  static void OnShutdownCheck(uv_timer_t* t);
  void Accept();
  void BeginShutdown(const char* why);
  void Finish();

  Config config_;
  std::unique_ptr<L1Cache> l1_;
  std::unique_ptr<L3Store> l3_;
  std::unique_ptr<IoPool> io_pool_;
  std::unique_ptr<PendingWrites> pending_;
  std::unique_ptr<WriteBehind> write_behind_;
  SharedState shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
  // Started after the workers, stopped before them (its handler reads them).
  std::unique_ptr<AdminServer> admin_;
  std::atomic<bool> listening_{false};
  size_t next_worker_ = 0;

  uv_loop_t loop_;
  int listen_fd_ = -1;
  uv_poll_t accept_poll_;
  uv_signal_t sigterm_;
  uv_signal_t sigint_;
  uv_timer_t sweep_timer_;
  uv_timer_t shutdown_timer_;
  std::atomic<bool> shutting_down_{false};
  bool finished_ = false;
  int64_t shutdown_deadline_ns_ = 0;
};

}  // namespace strata
