#include "proxy/journal_writer.h"

#include <utility>

namespace strata {

JournalWriter::JournalWriter(WriteBehind* wb, uv_loop_t* loop, int64_t through_timeout_ms,
                             Clock* clock)
    : wb_(wb),
      through_timeout_ms_(through_timeout_ms),
      clock_(clock != nullptr ? clock : SystemClock::Default()),
      wake_(std::make_shared<Wake>()),
      async_(new uv_async_t),
      check_(new uv_check_t) {
  uv_async_init(loop, async_, &JournalWriter::OnAsync);
  async_->data = this;
  uv_check_init(loop, check_);
  check_->data = this;
  wake_->async = async_;
  wb_->AddWaker([wake = wake_] {
    std::lock_guard<std::mutex> lock(wake->mu);
    if (wake->async != nullptr) uv_async_send(wake->async);
  });
}

JournalWriter::~JournalWriter() {
  {
    std::lock_guard<std::mutex> lock(wake_->mu);
    wake_->async = nullptr;
  }
  async_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(async_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
  check_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(check_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_check_t*>(h); });
  auto waiters = std::move(waiters_);
  for (auto& w : waiters) {
    WriteResult r;
    r.status = Status::ShuttingDown("shutting down before the write was acknowledged "
                                    "(it is journaled and will be replayed)");
    w.done(r);
  }
}

void JournalWriter::Write(const WriteBehind::Write& w, bool through, WriteCallback done) {
  WriteBehind::Journaled j = wb_->Journal(w);
  WriteResult r;
  r.status = j.status;
  r.applied = j.applied;
  if (!j.status.ok() || j.seq == 0) {
    done(r);
    return;
  }
  WriteBehind::Ack ack = wb_->AckFor(through);
  if (wb_->Satisfied(j.seq, ack)) {
    done(r);
    return;
  }
  if (ack == WriteBehind::Ack::kConfirmed) wb_->ConfirmSoon(j.seq);
  int64_t deadline = ack == WriteBehind::Ack::kConfirmed && through_timeout_ms_ > 0
                         ? clock_->NowMs() + through_timeout_ms_
                         : 0;
  waiters_.push_back({j.seq, ack, j.applied, deadline, std::move(done)});
  if (!check_active_ && wb_->appender_writes()) {
    check_active_ = true;
    uv_check_start(check_, &JournalWriter::OnCheck);
  }
}

void JournalWriter::OnCheck(uv_check_t* c) {
  auto* self = static_cast<JournalWriter*>(c->data);
  if (self == nullptr) return;
  self->check_active_ = false;
  uv_check_stop(c);
  // False: the WAL writer thread writes them and wakes us (OnAsync).
  if (self->wb_->WriteOut()) self->Resolve();
}

void JournalWriter::OnAsync(uv_async_t* a) {
  auto* self = static_cast<JournalWriter*>(a->data);
  if (self != nullptr) self->Resolve();
}

void JournalWriter::Resolve() {
  // Answer in arrival order; stop at the first that must keep waiting only
  // if it waits for the same thing as the rest (cheap, and order-preserving
  // per connection is the connection's job, not ours).
  size_t n = waiters_.size();
  for (size_t i = 0; i < n; ++i) {
    Waiter w = std::move(waiters_.front());
    waiters_.pop_front();
    WriteResult r;
    if (wb_->Failed(w.seq)) {
      wb_->ResolveFailed(w.seq);
      r.status = wb_->wal_error();
      if (r.status.ok()) r.status = Status::Unavailable("wal: the write could not be made durable");
      w.done(r);
    } else if (wb_->Satisfied(w.seq, w.ack)) {
      r.applied = w.applied;
      w.done(r);
    } else {
      waiters_.push_back(std::move(w));
    }
  }
}

void JournalWriter::Tick() {
  if (waiters_.empty()) return;
  Resolve();
  int64_t now = clock_->NowMs();
  size_t n = waiters_.size();
  for (size_t i = 0; i < n; ++i) {
    Waiter w = std::move(waiters_.front());
    waiters_.pop_front();
    if (w.deadline_ms != 0 && now >= w.deadline_ms) {
      WriteResult r;
      r.status = Status::Timeout("write \"through\" not confirmed by every tier within "
                                 "wal.through_timeout; it stays journaled and will be applied");
      w.done(r);
    } else {
      waiters_.push_back(std::move(w));
    }
  }
}

}  // namespace strata
