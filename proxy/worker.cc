#include "proxy/worker.h"

#include <unistd.h>

#include <cstdlib>

#include "common/log.h"
#include "proxy/connection.h"

namespace strata {

Worker::Worker(int index, SharedState* shared, StatsProvider stats)
    : index_(index), shared_(shared) {
  const ServerConfig& sc = shared->config->server;
  RequestLimits limits{sc.max_key_bytes, sc.max_value_bytes, sc.max_batch_keys};
  dispatcher_ = std::make_unique<Dispatcher>(nullptr, limits, std::move(stats), nullptr);
  uv_loop_init(&loop_);
  uv_async_init(&loop_, &async_, OnAsync);
  async_.data = this;
  uv_timer_init(&loop_, &tick_);
  tick_.data = this;
}

Worker::~Worker() { uv_loop_close(&loop_); }

void Worker::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Worker::Run() {
  // The tiers belong to this loop (L2 connections live on it). The server
  // checked the configuration before starting workers, so a failure here is
  // a bug, not a user error.
  auto tiers = TierSet::Build(*shared_->config, shared_->tiers, &loop_, &l2_counters_,
                              shared_->config->admin.tier_metrics ? &tier_metrics_ : nullptr);
  if (!tiers.ok()) {
    LOG_ERROR("worker %d: cannot build tiers: %s", index_, tiers.status().message().c_str());
    std::abort();
  }
  tiers_ = std::move(tiers).value();
  dispatcher_->SetPolicies(&tiers_->policies());
  if (shared_->tiers.write_behind != nullptr) {
    journal_ = std::make_unique<JournalWriter>(shared_->tiers.write_behind, &loop_,
                                               shared_->config->wal.through_timeout_ms, nullptr);
    dispatcher_->SetJournal(journal_.get());
  }
  // The tick retries paused reads and finishes draining connections.
  uv_timer_start(&tick_, OnTick, 10, 10);
  uv_run(&loop_, UV_RUN_DEFAULT);
}

void Worker::Adopt(int fd) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    incoming_.push_back(fd);
  }
  uv_async_send(&async_);
}

void Worker::BeginDrain() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    drain_requested_ = true;
  }
  uv_async_send(&async_);
}

void Worker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_requested_ = true;
  }
  uv_async_send(&async_);
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::Forget(Connection* c) {
  conns_.erase(c);
  ticking_.erase(c);
  open_.fetch_sub(1, std::memory_order_relaxed);
  shared_->connections.fetch_sub(1, std::memory_order_relaxed);
}

void Worker::OnAsync(uv_async_t* a) {
  auto* w = static_cast<Worker*>(a->data);
  std::vector<int> fds;
  bool drain, stop;
  {
    std::lock_guard<std::mutex> lock(w->mu_);
    fds.swap(w->incoming_);
    drain = w->drain_requested_;
    stop = w->stop_requested_;
  }
  for (int fd : fds) {
    if (stop) {
      close(fd);
      w->shared_->connections.fetch_sub(1, std::memory_order_relaxed);
      continue;
    }
    auto* c = new Connection(w);
    w->conns_.insert(c);
    w->open_.fetch_add(1, std::memory_order_relaxed);
    if (!c->Open(fd)) continue;  // it closed and will Forget itself
    if (w->draining_) c->BeginDrain();
  }
  if (drain && !w->draining_) {
    w->draining_ = true;
    std::vector<Connection*> all(w->conns_.begin(), w->conns_.end());
    for (Connection* c : all) c->BeginDrain();
  }
  if (stop) {
    std::vector<Connection*> all(w->conns_.begin(), w->conns_.end());
    for (Connection* c : all) c->Close();
    // L2's connections and timers keep the loop alive: close them (requests
    // still waiting on Redis are answered with UNAVAILABLE, to closed sinks).
    w->dispatcher_->SetPolicies(nullptr);
    w->dispatcher_->SetJournal(nullptr);
    w->journal_.reset();
    w->tiers_.reset();
    uv_timer_stop(&w->tick_);
    uv_close(reinterpret_cast<uv_handle_t*>(&w->tick_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&w->async_), nullptr);
  }
}

void Worker::OnTick(uv_timer_t* t) {
  auto* w = static_cast<Worker*>(t->data);
  if (w->journal_) w->journal_->Tick();
  const auto& set = w->draining_ ? w->conns_ : w->ticking_;
  if (set.empty()) return;
  std::vector<Connection*> due(set.begin(), set.end());
  w->ticking_.clear();
  for (Connection* c : due) c->Tick();  // re-registers itself if still paused
}

}  // namespace strata
