#include "proxy/server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "common/log.h"
#include "proxy/admin_routes.h"
#include "proxy/admin_server.h"
#include "proxy/listener.h"
#include "proxy/rpc_writer.h"
#include "proxy/worker.h"

namespace strata {

namespace {
template <typename H>
uv_handle_t* AsHandle(H* h) {
  return reinterpret_cast<uv_handle_t*>(h);
}
}  // namespace

Server::Server(const Config& config) : config_(config) {
  uv_loop_init(&loop_);
  L1Options l1;
  l1.max_bytes = config_.l1.max_bytes;
  l1.shards = config_.l1.shards;
  l1_ = std::make_unique<L1Cache>(l1);
  shared_.config = &config_;
  shared_.l1 = l1_.get();
  shared_.tiers.l1 = l1_.get();
  shared_.start_ms = SystemClock::Default()->NowMs();
}

Server::~Server() {
  if (admin_) admin_->Stop();
  admin_.reset();
  for (auto& w : workers_) {
    w->Stop();
    w->Join();
  }
  workers_.clear();
  uv_run(&loop_, UV_RUN_NOWAIT);
  uv_loop_close(&loop_);
}

Status Server::Start() {
  // Each worker builds its own tiers on its loop; check what they will need
  // first, so that a bad endpoint is a startup error, not a worker crash.
  if (Status s = CheckTierConfig(config_); !s.ok()) return s;
  if (Status s = OpenLowerTiers(); !s.ok()) return s;
  StatusOr<int> fd = ListenUnix(config_.server.socket, config_.server.socket_mode, 1024);
  if (!fd.ok()) return fd.status();
  listen_fd_ = *fd;

  uint32_t n = config_.server.threads;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  for (uint32_t i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<Worker>(int(i), &shared_, [this] { return Stats(); }));
  }
  for (auto& w : workers_) w->Start();
  // The admin server reads the workers, so it starts after them; if its
  // address is taken, start nothing and leave no socket file behind.
  if (Status s = StartAdmin(); !s.ok()) {
    close(listen_fd_);
    listen_fd_ = -1;
    unlink(config_.server.socket.c_str());
    return s;
  }

  uv_poll_init(&loop_, &accept_poll_, listen_fd_);
  accept_poll_.data = this;
  uv_poll_start(&accept_poll_, UV_READABLE, OnAcceptable);
  uv_signal_init(&loop_, &sigterm_);
  sigterm_.data = this;
  uv_signal_start(&sigterm_, OnSignal, SIGTERM);
  uv_signal_init(&loop_, &sigint_);
  sigint_.data = this;
  uv_signal_start(&sigint_, OnSignal, SIGINT);
  uv_timer_init(&loop_, &sweep_timer_);
  sweep_timer_.data = this;
  uv_timer_start(&sweep_timer_, OnSweep, config_.l1.sweep_interval_ms,
                 config_.l1.sweep_interval_ms);
  uv_timer_init(&loop_, &shutdown_timer_);
  shutdown_timer_.data = this;
  // main() blocked these until now; a pending one is delivered to libuv here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);

  listening_ = true;
  LOG_INFO("strata listening on %s (mode %04o, %u worker threads, l1.max_bytes %llu)",
           config_.server.socket.c_str(), config_.server.socket_mode, n,
           static_cast<unsigned long long>(config_.l1.max_bytes));
  return Status::Ok();
}

Status Server::StartAdmin() {
  if (config_.admin.listen.empty()) return Status::Ok();
  AdminHooks hooks;
  hooks.metrics_text = [this] { return RenderPrometheus(Metrics()); };
  hooks.stats_json = [this] { return RenderJson(Stats()); };
  hooks.ready = [this](std::string* reason) { return Ready(reason); };
  AdminServerOptions o;
  o.listen = config_.admin.listen;
  auto admin = AdminServer::Start(
      o, [hooks = std::move(hooks)](const HttpRequest& r) { return HandleAdminRequest(hooks, r); });
  if (!admin.ok()) return admin.status();
  admin_ = std::move(admin).value();
  LOG_INFO("admin HTTP on %s (port %d): /healthz /readyz /metrics /stats",
           config_.admin.listen.c_str(), admin_->port());
  return Status::Ok();
}

int Server::admin_port() const { return admin_ ? admin_->port() : 0; }

bool Server::Ready(std::string* reason_json) const {
  auto fail = [reason_json](const std::string& why) {
    if (reason_json != nullptr) *reason_json = "{\"ready\":false,\"reason\":" + why + "}";
    return false;
  };
  if (shutting_down_) return fail("\"draining: shutting down after a signal\"");
  if (!listening_) return fail("\"the socket is not listening yet\"");
  if (config_.l2.mode != "off" && config_.l2.required) {
    uint64_t nodes = 0, up = 0;
    for (const auto& w : workers_) {
      nodes += w->l2_counters().nodes.load(std::memory_order_relaxed);
      up += w->l2_counters().nodes_connected.load(std::memory_order_relaxed);
    }
    if (nodes == 0 || up < nodes) {
      return fail("\"l2 is required (l2.required) and " + std::to_string(up) + " of " +
                  std::to_string(nodes) + " Redis connections are up\"");
    }
  }
  if (reason_json != nullptr) *reason_json = "{\"ready\":true}";
  return true;
}

Status Server::OpenLowerTiers() {
  if (config_.l3.enabled) {
    L3Options o;
    o.path = config_.l3.path;
    o.block_cache_bytes = config_.l3.block_cache;
    o.compression = config_.l3.compression;
    o.bloom_bits_per_key = static_cast<int>(config_.l3.bloom_bits);
    o.max_bytes = config_.l3.max_bytes;
    auto store = L3Store::Open(o);
    if (!store.ok()) return Status(store.status().code(), "l3.path " + config_.l3.path + ": " +
                                                              store.status().message());
    l3_ = std::move(store).value();
    io_pool_ = std::make_unique<IoPool>(static_cast<int>(config_.l3.io_threads));
    shared_.tiers.l3 = l3_.get();
    shared_.tiers.io_pool = io_pool_.get();
    LOG_INFO("l3: RocksDB at %s", config_.l3.path.c_str());
  }
  bool below_l1 = config_.l2.mode != "off" || config_.l3.enabled;
  if (!config_.wal.enabled || !below_l1) return Status::Ok();
  pending_ = std::make_unique<PendingWrites>();
  WriteBehindOptions o;
  o.wal.dir = config_.wal.path;
  o.wal.sync = config_.wal.sync == "always"   ? WalSync::kAlways
               : config_.wal.sync == "never" ? WalSync::kNever
                                              : WalSync::kInterval;
  o.wal.sync_interval_ms = config_.wal.sync_interval_ms;
  o.wal.max_bytes = config_.wal.max_bytes;
  o.wal.segment_bytes = config_.wal.segment_bytes;
  o.wal.preallocate = config_.wal.preallocate;
  // Each worker loop writes its own journaled records (JournalWriter).
  o.wal.appender_writes = true;
  o.l1 = l1_.get();
  o.pending = pending_.get();
  o.l3 = l3_.get();
  o.l3_stage_bytes = config_.l3.ingest_bytes;
  o.l3_stage_ms = config_.l3.ingest_interval_ms;
  o.drain_linger_ms = config_.wal.drain_linger_ms;
  if (l3_ != nullptr && config_.l3.max_bytes > 0 && o.l3_stage_bytes > 0) {
    // A staged ingest becomes one file, and FIFO trims whole files: keep
    // each a small part of the budget (as the automatic write buffer is).
    o.l3_stage_bytes =
        std::min(o.l3_stage_bytes, std::max<uint64_t>(config_.l3.max_bytes / 16, 256 << 10));
  }
  if (config_.l2.mode != "off") {
    auto l2 = L2OptionsFromConfig(config_);
    if (!l2.ok()) return l2.status();
    o.l2 = true;
    o.l2_options = std::move(l2).value();
  }
  o.tiers_for_key = TierMaskFn(config_);
  auto wb = WriteBehind::Open(std::move(o));
  if (!wb.ok()) {
    return Status(wb.status().code(), "wal.path " + config_.wal.path + ": " +
                                          wb.status().message());
  }
  write_behind_ = std::move(wb).value();
  shared_.tiers.pending = pending_.get();
  shared_.tiers.write_behind = write_behind_.get();
  LOG_INFO("write-behind: journal at %s, wal.sync=%s", config_.wal.path.c_str(),
           config_.wal.sync.c_str());
  return Status::Ok();
}

int Server::Run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
  return 0;
}

void Server::OnAcceptable(uv_poll_t* p, int status, int) {
  auto* s = static_cast<Server*>(p->data);
  if (status < 0) {
    LOG_RATE_LIMITED(LogLevel::kError, "accept poll failed: %s", uv_strerror(status));
    return;
  }
  s->Accept();
}

void Server::Accept() {
  // Bounded so one burst of connects cannot starve signals and the sweep.
  for (int i = 0; i < 256; ++i) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      LOG_RATE_LIMITED(LogLevel::kError, "accept failed: %s", strerror(errno));
      return;
    }
    uint64_t open = shared_.connections.load(std::memory_order_relaxed);
    if (open >= config_.server.max_connections) {
      shared_.connections_rejected.fetch_add(1, std::memory_order_relaxed);
      LOG_RATE_LIMITED(LogLevel::kWarn, "rejecting a connection: server.max_connections %llu reached",
                       static_cast<unsigned long long>(config_.server.max_connections));
      std::string out;
      RpcWriter(&out).Error(0, Status::Overloaded(
                                   "too many connections: server.max_connections is " +
                                   std::to_string(config_.server.max_connections)));
      ssize_t unused = send(fd, out.data(), out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      (void)unused;
      close(fd);
      continue;
    }
    shared_.connections.fetch_add(1, std::memory_order_relaxed);
    shared_.connections_total.fetch_add(1, std::memory_order_relaxed);
    workers_[next_worker_]->Adopt(fd);
    next_worker_ = (next_worker_ + 1) % workers_.size();
  }
}

void Server::OnSignal(uv_signal_t* s, int signum) {
  static_cast<Server*>(s->data)->BeginShutdown(signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

void Server::OnSweep(uv_timer_t* t) {
  auto* s = static_cast<Server*>(t->data);
  // Every shard gets at least one batch per tick; shards where most of a
  // batch had expired get more, up to four batches per shard on average.
  size_t batch = s->config_.l1.sweep_batch;
  s->l1_->Sweep(batch, batch * s->l1_->shard_count() * 4);
}

void Server::BeginShutdown(const char* why) {
  if (shutting_down_) {
    LOG_WARN("%s again during shutdown: stopping now", why);
    Finish();
    return;
  }
  shutting_down_ = true;
  LOG_INFO("%s: draining %llu connections (server.shutdown_timeout %lld ms)", why,
           static_cast<unsigned long long>(shared_.connections.load()),
           static_cast<long long>(config_.server.shutdown_timeout_ms));
  uv_poll_stop(&accept_poll_);
  uv_close(AsHandle(&accept_poll_), nullptr);
  close(listen_fd_);
  listen_fd_ = -1;
  unlink(config_.server.socket.c_str());
  for (auto& w : workers_) w->BeginDrain();
  shutdown_deadline_ns_ = MonotonicNs() + config_.server.shutdown_timeout_ms * 1'000'000;
  uv_timer_start(&shutdown_timer_, OnShutdownCheck, 5, 5);
}

void Server::OnShutdownCheck(uv_timer_t* t) {
  auto* s = static_cast<Server*>(t->data);
  bool idle = s->shared_.connections.load() == 0;
  bool late = MonotonicNs() >= s->shutdown_deadline_ns_;
  if (!idle && !late) return;
  if (late && !idle) {
    LOG_WARN("shutdown_timeout reached with %llu connections open; closing them",
             static_cast<unsigned long long>(s->shared_.connections.load()));
  }
  s->Finish();
}

void Server::Finish() {
  if (finished_) return;
  finished_ = true;
  // Its handler reads the workers: stop it first.
  if (admin_) admin_->Stop();
  admin_.reset();
  for (auto& w : workers_) w->Stop();
  for (auto& w : workers_) w->Join();
  workers_.clear();
  if (write_behind_) {
    // Whatever the drain cannot finish within the shutdown budget stays in
    // the WAL and is replayed at the next start.
    int64_t budget_ms = shutting_down_
                            ? std::max<int64_t>(0, (shutdown_deadline_ns_ - MonotonicNs()) / 1000000)
                            : 0;
    int64_t now = SystemClock::Default()->NowMs();
    uint64_t left = write_behind_->Stop(now + std::max<int64_t>(budget_ms, 100));
    if (left > 0) {
      LOG_WARN("write-behind: %llu records not yet in every tier; they stay in the WAL",
               static_cast<unsigned long long>(left));
    }
  }
  uv_close(AsHandle(&shutdown_timer_), nullptr);
  uv_close(AsHandle(&sweep_timer_), nullptr);
  uv_close(AsHandle(&sigterm_), nullptr);
  uv_close(AsHandle(&sigint_), nullptr);
  if (!shutting_down_) {
    uv_close(AsHandle(&accept_poll_), nullptr);
    close(listen_fd_);
    unlink(config_.server.socket.c_str());
  }
  LOG_INFO("stopped");
}

}  // namespace strata
