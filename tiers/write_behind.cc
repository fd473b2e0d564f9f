#include "tiers/write_behind.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/log.h"

namespace strata {
namespace {

void Bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.fetch_add(n, std::memory_order_relaxed);
}

// A journaled write's effect on L1 (Journal, and replay at start). `drop`:
// a set removes the key's L1 copy instead (write "around", or an expired
// record replayed).
void ApplyToL1(L1Cache* l1, WriteBehind::Op op, std::string_view key, std::string_view value,
               int64_t expire_at_ms, bool drop) {
  if (op == WriteBehind::Op::kSet && !drop) {
    bool applied = false;
    WriteOptions o;
    o.expire_at_ms = expire_at_ms;
    (void)l1->Insert(key, value, o, &applied);
  } else if (op == WriteBehind::Op::kExpire) {
    l1->SetExpiry(key, expire_at_ms);
  } else {
    l1->Erase(key);
  }
}

}  // namespace

// A batch's net effect on one key (views into the batch's records).
struct NetWrite {
  uint64_t seq = 0;
  WriteBehind::Op op = WriteBehind::Op::kSet;
  std::string_view key;
  std::string_view value;
  int64_t expire_at_ms = 0;
  uint8_t mask = 0;
};

// The L3 write for a net write (views into the same bytes).
static L3Write ToL3Write(const NetWrite& r) {
  L3Write w;
  w.key = r.key;
  if (r.op == WriteBehind::Op::kSet) {
    w.kind = L3Write::Kind::kPut;
    w.value = r.value;
    w.expire_at_ms = r.expire_at_ms;
  } else if (r.op == WriteBehind::Op::kDelete) {
    w.kind = L3Write::Kind::kDelete;
  } else {
    w.kind = L3Write::Kind::kExpire;
    w.expire_at_ms = r.expire_at_ms;
  }
  return w;
}

// The drain: its own thread and libuv loop (so that it can own an L2Tier),
// taking batches in sequence order from the queue that Journal() fills.
class WriteBehind::Drain {
 public:
  explicit Drain(WriteBehind* wb) : wb_(wb) {}
  ~Drain() {
    for (WriteRecord* r : queue_) r->Unref();  // left for the next start's replay
  }

  // Under mu(): Journal appends to the WAL and pushes here in one step, so
  // the queue is in sequence order.
  std::mutex& mu() { return mu_; }
  // Returns whether the drain should be notified now: the queue was empty
  // (the drain may be idle: it starts its linger timer) or holds a full
  // minimum batch. In between, the linger timer takes what is queued.
  // Takes over one reference of `r`.
  bool PushLocked(WriteRecord* r) {
    queue_.push_back(r);
    const size_t waiting = queue_.size() - staged_ - in_batch_;
    return waiting == 1 || waiting >= wb_->o_.drain_min_batch;
  }
  // The drain stopped at a record the journal did not hold yet: whoever
  // writes the journal next (WriteBehind::WriteOut) notifies it. The
  // checkpoint timer is the backstop for a lost race.
  bool TakeWalWaiting() {
    return wal_waiting_.load(std::memory_order_relaxed) &&
           wal_waiting_.exchange(false, std::memory_order_seq_cst);
  }
  // REQUIRES: mu() held. The queued record `seq`, or nullptr (records leave
  // the queue only when confirmed or withdrawn).
  WriteRecord* FindLocked(uint64_t seq) {
    auto it = std::lower_bound(queue_.begin(), queue_.end(), seq,
                               [](const WriteRecord* r, uint64_t s) { return r->seq < s; });
    return it != queue_.end() && (*it)->seq == seq ? *it : nullptr;
  }
  // REQUIRES: mu() held. The unconfirmed records of `key` older than `seq`
  // that still count (not withdrawn, not failed), oldest first, from the
  // newest set or delete on (an expire-only tail has no base: the tiers
  // below hold it).
  std::vector<WriteRecord*> HistoryLocked(std::string_view key, uint64_t seq) {
    std::vector<WriteRecord*> out;
    auto end = std::lower_bound(queue_.begin(), queue_.end(), seq,
                                [](const WriteRecord* r, uint64_t s) { return r->seq < s; });
    for (auto it = end; it != queue_.begin();) {
      WriteRecord* r = *--it;
      if (r->key() != key || r->withdrawn) continue;
      if (wb_->wal_->StateOf(r->seq) == Wal::SeqState::kFailed) continue;
      out.push_back(r);
      if (r->op != WriteBehind::Op::kExpire) break;
    }
    std::reverse(out.begin(), out.end());
    return out;
  }
  uint64_t backlog() {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_.size();
  }

  Status Start();
  // From any thread (Journal, the WAL writer's waker, Stop). Cheap when a
  // wake-up is already pending; a no-op once Stop has begun closing.
  void Notify() {
    if (notified_.exchange(true, std::memory_order_acq_rel)) return;
    std::lock_guard<std::mutex> lock(notify_mu_);
    if (accepting_) uv_async_send(&async_);
  }
  uint64_t Stop(int64_t deadline_ms);

  // Whether L3 writes are staged and ingested (see WriteBehindOptions).
  bool staging() const { return wb_->o_.l3 != nullptr && wb_->o_.l3_stage_bytes > 0; }
  // A "through" write waits for `seq` to be confirmed: take it without
  // lingering, and ingest the stage as soon as it holds it. Any thread.
  void WantConfirm(uint64_t seq) {
    uint64_t cur = confirm_target_.load(std::memory_order_relaxed);
    while (cur < seq &&
           !confirm_target_.compare_exchange_weak(cur, seq, std::memory_order_relaxed)) {
    }
    Notify();
  }

 private:
  void Run();
  static void OnAsync(uv_async_t* a);
  static void OnRetryTimer(uv_timer_t* t);
  void StartRetryTimer(int* attempt);  // after the *attempt-th failure in a row
  // Staged bytes that make the stage due; a batch carries at most as many,
  // so an ingested file stays under twice this.
  uint64_t StageLimit() const;
  bool StageDue();
  bool IngestStage();
  static void OnCheckpointTimer(uv_timer_t* t);
  static void OnLingerTimer(uv_timer_t* t);
  void PersistCheckpoint();
  void Pump(bool linger_done = false);
  bool TakeBatch();
  void Coalesce();
  void Apply();
  void ApplyL2();
  void TierDone();
  void Complete();
  // Counts a batch L2 (and, without staging, L3) confirmed.
  void RecordBatch(uint64_t records);
  // Every tier has the first `n` queued records, up to `seq`: pop them, let
  // the pending map forget them, free their journal share, answer "through"
  // writes.
  void ConfirmFront(size_t n, uint64_t seq);

  WriteBehind* wb_;
  std::mutex mu_;
  std::condition_variable idle_cv_;
  // In sequence order, one reference each. The first staged_ records were
  // applied to L2 and wait in the stage for L3's ingest (staging only); the
  // next in_batch_ are the batch being applied. The drain reads both through
  // batch_ and stage_ without mu_ (nobody writes a record once a batch took
  // it: it is durable, so never withdrawn); records leave the queue when
  // every tier has them.
  std::deque<WriteRecord*> queue_;
  size_t staged_ = 0;
  size_t in_batch_ = 0;
  bool stopping_ = false;

  // Drain thread only.
  uv_loop_t loop_;
  uv_async_t async_;
  uv_timer_t retry_timer_;
  uv_timer_t checkpoint_timer_;
  uv_timer_t linger_timer_;
  bool lingering_ = false;
  uint64_t checkpointed_seq_ = 0;  // last seq handed to Wal::SetCheckpoint
  std::thread thread_;
  std::atomic<bool> notified_{false};
  std::atomic<bool> wal_waiting_{false};
  bool started_ = false;
  std::mutex notify_mu_;
  bool accepting_ = false;  // under notify_mu_: async_ may be sent to
  std::unique_ptr<L2Tier> l2_;
  std::vector<const WriteRecord*> batch_;  // the records of the batch, in order
  // Reused per batch (no large allocation per batch: each one made glibc
  // consolidate its fastbins).
  std::vector<NetWrite> net_;          // the batch coalesced: one per key
  std::vector<WriteRecord*> done_;     // popped records, released outside mu_
  std::vector<WriteRecord*> dead_;     // ... of which this was the last reference
  std::unordered_map<std::string_view, size_t> index_;
  std::vector<L3Write> l3_writes_;
  uint64_t batch_last_seq_ = 0;
  bool busy_ = false;
  bool closed_ = false;
  bool l2_done_ = true, l3_done_ = true;
  int l2_outstanding_ = 0;
  bool l2_failed_ = false;
  int attempt_ = 0;
  // Staging (drain thread only): the L3 part of the batches L2 confirmed,
  // written as one SST file by IngestStage.
  std::vector<NetWrite> stage_;
  uint64_t stage_bytes_ = 0;
  int64_t stage_since_ms_ = 0;  // when the first staged batch completed
  uint64_t staged_last_seq_ = 0;
  bool ingest_failed_ = false;  // the retry timer retries the ingest
  int ingest_attempt_ = 0;
  std::atomic<uint64_t> confirm_target_{0};  // see WantConfirm
  std::atomic<bool> stop_requested_{false};  // Stop is waiting: ingest what is staged
};

Status WriteBehind::Drain::Start() {
  uv_loop_init(&loop_);
  uv_async_init(&loop_, &async_, &Drain::OnAsync);
  async_.data = this;
  uv_timer_init(&loop_, &retry_timer_);
  retry_timer_.data = this;
  uv_timer_init(&loop_, &checkpoint_timer_);
  checkpoint_timer_.data = this;
  uv_timer_init(&loop_, &linger_timer_);
  linger_timer_.data = this;
  checkpointed_seq_ = wb_->confirmed_seq();
  const uint64_t every = static_cast<uint64_t>(std::max<int64_t>(1, wb_->o_.checkpoint_interval_ms));
  uv_timer_start(&checkpoint_timer_, &Drain::OnCheckpointTimer, every, every);
  if (wb_->o_.l2) {
    L2Options o = wb_->o_.l2_options;
    o.counters = &wb_->l2_counters_;
    auto l2 = L2Tier::Create(&loop_, std::move(o));
    if (!l2.ok()) return l2.status();
    l2_ = std::move(l2).value();
  }
  started_ = true;
  {
    std::lock_guard<std::mutex> lock(notify_mu_);
    accepting_ = true;
  }
  thread_ = std::thread([this] { Run(); });
  Notify();  // replayed records may be waiting
  return Status::Ok();
}

void WriteBehind::Drain::Run() {
  pthread_setname_np(pthread_self(), "strata-drain");  // for top -H, perf, /proc
  // Linux: a nice value is per thread (setpriority(2) on the thread id).
  const int nice = wb_->o_.drain_nice;
  if (nice > 0) {
    const auto tid = static_cast<id_t>(syscall(SYS_gettid));
    errno = 0;
    const int cur = getpriority(PRIO_PROCESS, tid);
    if (errno != 0 || setpriority(PRIO_PROCESS, tid, std::min(19, cur + nice)) != 0) {
      LOG_WARN("write-behind: could not lower the drain thread's priority: %s",
               std::strerror(errno));
    }
  }
  uv_run(&loop_, UV_RUN_DEFAULT);
}

void WriteBehind::Drain::OnAsync(uv_async_t* a) {
  auto* d = static_cast<Drain*>(a->data);
  d->notified_.store(false, std::memory_order_release);
  bool stop;
  {
    std::lock_guard<std::mutex> lock(d->mu_);
    stop = d->stopping_;
  }
  if (!stop) {
    if (!d->busy_) d->Pump();
    return;
  }
  // Stop() gave up waiting (or the queue is empty): a batch still waiting
  // for a retry is abandoned; it stays in the WAL for the next start. Close
  // everything so that the loop ends.
  if (d->closed_) return;
  d->closed_ = true;
  d->busy_ = false;
  uv_timer_stop(&d->retry_timer_);
  uv_timer_stop(&d->checkpoint_timer_);
  uv_timer_stop(&d->linger_timer_);
  d->PersistCheckpoint();  // what was drained need not be replayed
  d->l2_.reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&d->retry_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&d->checkpoint_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&d->linger_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&d->async_), nullptr);
}

void WriteBehind::Drain::OnLingerTimer(uv_timer_t* t) {
  auto* d = static_cast<Drain*>(t->data);
  d->lingering_ = false;
  if (!d->busy_) d->Pump(/*linger_done=*/true);
}

void WriteBehind::Drain::Pump(bool linger_done) {
  if (busy_) return;
  if (staged_ > 0 && StageDue() && !IngestStage()) return;  // the retry timer tries again
  if (!linger_done && wb_->o_.drain_linger_ms > 0) {
    bool wait;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const size_t waiting = queue_.size() - staged_;  // not busy: no batch in flight
      // A "through" write waits for its confirmation: no lingering then.
      const bool through_waits =
          confirm_target_.load(std::memory_order_relaxed) > wb_->confirmed_seq();
      wait = !stopping_ && !through_waits && waiting > 0 && waiting < wb_->o_.drain_min_batch;
    }
    if (wait) {
      if (!lingering_) {
        lingering_ = true;
        uv_timer_start(&linger_timer_, &Drain::OnLingerTimer,
                       static_cast<uint64_t>(wb_->o_.drain_linger_ms), 0);
      }
      return;
    }
  }
  if (!TakeBatch()) {
    idle_cv_.notify_all();
    return;
  }
  busy_ = true;
  attempt_ = 0;
  Coalesce();
  l2_done_ = !l2_;
  l3_done_ = wb_->o_.l3 == nullptr;
  Apply();
}

bool WriteBehind::Drain::TakeBatch() {
  std::lock_guard<std::mutex> lock(mu_);
  batch_.clear();
  uint64_t bytes = 0;
  size_t n = staged_;  // records covered from the front, withdrawn ones included
  const uint64_t max_bytes =
      staging() ? std::min(wb_->o_.batch_bytes, StageLimit()) : wb_->o_.batch_bytes;
  while (n < queue_.size() && batch_.size() < wb_->o_.batch_records && bytes < max_bytes) {
    const WriteRecord* r = queue_[n];
    if (!r->withdrawn) {
      // Not in the journal yet (or not synced, with wal.sync = always): wait.
      // If its write failed, the loop withdraws it (ResolveFailed).
      if (wb_->wal_->StateOf(r->seq) != Wal::SeqState::kDurable) {
        wal_waiting_.store(true, std::memory_order_seq_cst);
        break;
      }
      bytes += r->key().size() + r->value().size();
      batch_.push_back(r);
    }
    ++n;
  }
  if (batch_.empty()) {
    // Only withdrawn records after the stage: drop them if nothing is staged
    // (the queue's front must stay the stage).
    if (staged_ == 0) {
      for (size_t i = 0; i < n; ++i) {
        queue_.front()->Unref();
        queue_.pop_front();
      }
    }
    in_batch_ = 0;
    return false;
  }
  in_batch_ = n - staged_;
  batch_last_seq_ = batch_.back()->seq;
  return true;
}

void WriteBehind::Drain::Coalesce() {
  // Net effect per key, in first-seen order (keys are independent; the
  // order that matters, per key, is kept by folding later records in).
  std::unordered_map<std::string_view, size_t>& index = index_;
  index.clear();
  index.reserve(batch_.size());
  std::vector<NetWrite>& out = net_;
  out.clear();
  out.reserve(batch_.size());
  uint64_t folded = 0;
  for (const WriteRecord* r : batch_) {
    auto it = index.find(r->key());
    if (it == index.end()) {
      out.push_back(NetWrite{r->seq, r->op, r->key(), r->value(), r->expire_at_ms, r->mask});
      index.emplace(out.back().key, out.size() - 1);
      continue;
    }
    NetWrite& cur = out[it->second];
    ++folded;
    cur.seq = r->seq;
    if (r->op == Op::kExpire) {
      // On a set or an expire: the new expiry; after a delete: still deleted.
      if (cur.op != Op::kDelete) cur.expire_at_ms = r->expire_at_ms;
    } else {
      // A set or delete replaces whatever came before.
      cur.op = r->op;
      cur.value = r->value();
      cur.expire_at_ms = r->expire_at_ms;
      cur.mask = r->mask;
    }
  }
  index.clear();
  Bump(wb_->counters_.coalesced, folded);
}

void WriteBehind::Drain::Apply() {
  if (!l3_done_ && staging()) {
    // Staged: written with the next ingest (IngestStage); the views stay
    // valid because the records stay queued until then.
    for (const NetWrite& r : net_) {
      if (!(r.mask & kTierL3)) continue;
      stage_.push_back(r);
      stage_bytes_ += r.key.size() + r.value.size() + 32;  // ~ its journal record
    }
    l3_done_ = true;
  }
  if (!l3_done_) {
    std::vector<L3Write>& writes = l3_writes_;
    writes.clear();
    writes.reserve(net_.size());
    for (const NetWrite& r : net_) {
      if (!(r.mask & kTierL3)) continue;
      writes.push_back(ToL3Write(r));
    }
    Status s = writes.empty() ? Status::Ok() : wb_->o_.l3->Write(writes);
    writes.clear();  // views into the batch's records
    if (s.ok()) {
      l3_done_ = true;
    } else {
      Bump(wb_->counters_.l3_failures);
      LOG_RATE_LIMITED(LogLevel::kWarn, "write-behind: L3 batch failed: %s", s.message().c_str());
    }
  }
  if (!l2_done_) {
    ApplyL2();
    return;  // TierDone() continues when L2 answered
  }
  TierDone();
}

void WriteBehind::Drain::ApplyL2() {
  l2_outstanding_ = 1;  // guard: completions may run inline
  l2_failed_ = false;
  auto done = [this](const WriteResult& r) {
    if (!r.status.ok()) l2_failed_ = true;
    if (--l2_outstanding_ == 0) {
      if (!l2_failed_) l2_done_ = true;
      else Bump(wb_->counters_.l2_failures);
      TierDone();
    }
  };
  for (const NetWrite& r : net_) {
    if (!(r.mask & kTierL2)) continue;
    ++l2_outstanding_;
    if (r.op == Op::kSet) {
      WriteOptions o;
      o.expire_at_ms = r.expire_at_ms;
      l2_->Set(r.key, r.value, o, done);
    } else if (r.op == Op::kDelete) {
      l2_->Delete(r.key, done);
    } else {
      l2_->Expire(r.key, r.expire_at_ms, done);
    }
  }
  done(WriteResult{});  // release the guard
}

void WriteBehind::Drain::TierDone() {
  if (l2_done_ && l3_done_) {
    Complete();
    return;
  }
  // Retry what failed, with doubling delays; the queue keeps growing behind
  // (bounded by wal.max_bytes on the write side).
  Bump(wb_->counters_.retries);
  StartRetryTimer(&attempt_);
}

void WriteBehind::Drain::StartRetryTimer(int* attempt) {
  const int shift = std::min((*attempt)++, 16);  // doubling delays, capped
  const int64_t delay = std::min(wb_->o_.retry_max_ms, wb_->o_.retry_base_ms << shift);
  uv_timer_start(&retry_timer_, &Drain::OnRetryTimer, static_cast<uint64_t>(delay), 0);
}

void WriteBehind::Drain::OnRetryTimer(uv_timer_t* t) {
  auto* d = static_cast<Drain*>(t->data);
  if (d->ingest_failed_) {
    d->ingest_failed_ = false;
    d->busy_ = false;
    d->Pump(/*linger_done=*/true);  // the stage is still due: ingest again
    return;
  }
  if (d->busy_) d->Apply();
}

uint64_t WriteBehind::Drain::StageLimit() const {
  const WriteBehindOptions& o = wb_->o_;
  uint64_t limit = o.l3_stage_bytes;
  if (o.wal.max_bytes > 0) limit = std::min<uint64_t>(limit, std::max<uint64_t>(o.wal.max_bytes / 4, 1));
  return limit;
}

bool WriteBehind::Drain::StageDue() {
  if (stop_requested_.load(std::memory_order_relaxed)) return true;
  const WriteBehindOptions& o = wb_->o_;
  if (stage_bytes_ >= StageLimit()) return true;
  if (wb_->clock_->NowMs() - stage_since_ms_ >= o.l3_stage_ms) return true;
  const uint64_t want = confirm_target_.load(std::memory_order_relaxed);
  return want > wb_->confirmed_seq() && want <= staged_last_seq_;
}

// Writes the stage to L3 as one SST file, then confirms every staged record:
// the pending map forgets them, the journal may drop them, "through" writes
// are answered.
bool WriteBehind::Drain::IngestStage() {
  std::vector<L3Write>& writes = l3_writes_;
  writes.clear();
  writes.reserve(stage_.size());
  for (const NetWrite& r : stage_) {
    writes.push_back(ToL3Write(r));
  }
  Status s = wb_->o_.l3->Ingest(writes);
  writes.clear();
  if (!s.ok()) {
    Bump(wb_->counters_.l3_failures);
    LOG_RATE_LIMITED(LogLevel::kWarn, "write-behind: L3 ingest failed: %s", s.message().c_str());
    busy_ = true;  // nothing else happens until the ingest succeeds
    ingest_failed_ = true;
    StartRetryTimer(&ingest_attempt_);
    return false;
  }
  ingest_attempt_ = 0;
  if (!stage_.empty()) Bump(wb_->counters_.l3_ingests);
  stage_.clear();
  stage_bytes_ = 0;
  stage_since_ms_ = 0;
  ConfirmFront(staged_, staged_last_seq_);
  return true;
}

void WriteBehind::Drain::RecordBatch(uint64_t records) {
  Bump(wb_->counters_.batches);
  wb_->counters_.batch_records.Record(records);
  if (records > wb_->counters_.batch_records_max.load(std::memory_order_relaxed)) {
    wb_->counters_.batch_records_max.store(records, std::memory_order_relaxed);
  }
}

void WriteBehind::Drain::ConfirmFront(size_t n, uint64_t seq) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < n; ++i) {
      done_.push_back(queue_.front());
      queue_.pop_front();
    }
    staged_ -= std::min(staged_, n);  // the stage, when it is what was confirmed
  }
  uint64_t confirmed = 0;
  for (WriteRecord* r : done_) {
    if (r->withdrawn) continue;
    wb_->o_.pending->Confirm(r, seq);
    ++confirmed;
  }
  Bump(wb_->counters_.drained_records, confirmed);
  // Frees the records' wal.max_bytes share now; the CHECKPOINT file follows
  // on the checkpoint timer (PersistCheckpoint).
  wb_->wal_->Release(seq);
  wb_->confirmed_seq_.store(seq, std::memory_order_release);
  // Outside mu_. The loops free the memory (see RecordReaper).
  for (WriteRecord* r : done_) {
    if (r->Release()) dead_.push_back(r);
  }
  done_.clear();
  wb_->reaper_.Add(&dead_);
  wb_->Wake();
}

void WriteBehind::Drain::OnCheckpointTimer(uv_timer_t* t) {
  auto* d = static_cast<Drain*>(t->data);
  d->PersistCheckpoint();
  // Confirmed records the loops did not free within a tick (they are idle,
  // or the batch was large): free them here.
  d->wb_->reaper_.FreeStale();
  // See TakeWalWaiting; and a stage that has waited l3_stage_ms is due.
  if (!d->busy_ && !d->lingering_) d->Pump(/*linger_done=*/true);
}

// The journal's checkpoint may only claim what the tiers below hold
// durably: L3 writes go through RocksDB's WAL without sync, so sync it first
// (unless wal.sync = never: then nothing is meant to survive a power loss).
// L2 (Redis) persists on its own terms.
void WriteBehind::Drain::PersistCheckpoint() {
  const uint64_t seq = wb_->confirmed_seq();
  if (seq <= checkpointed_seq_) return;
  if (wb_->o_.l3 != nullptr && wb_->o_.wal.sync != WalSync::kNever) {
    Status s = wb_->o_.l3->SyncWal();
    if (!s.ok()) {
      Bump(wb_->counters_.l3_failures);
      LOG_RATE_LIMITED(LogLevel::kWarn, "write-behind: L3 WAL sync failed: %s",
                       s.message().c_str());
      return;  // the next tick tries again; the old checkpoint stays
    }
  }
  wb_->wal_->SetCheckpoint(seq);
  checkpointed_seq_ = seq;
}

void WriteBehind::Drain::Complete() {
  RecordBatch(batch_.size());
  net_.clear();
  batch_.clear();
  size_t n;
  {
    std::lock_guard<std::mutex> lock(mu_);
    n = in_batch_;
    in_batch_ = 0;
    // Staging: L2 has the batch; its L3 part waits in the stage, its records
    // in the queue (IngestStage confirms them).
    if (staging()) staged_ += n;
  }
  busy_ = false;
  if (staging()) {
    if (stage_since_ms_ == 0) stage_since_ms_ = wb_->clock_->NowMs();
    staged_last_seq_ = batch_last_seq_;
  } else {
    ConfirmFront(n, batch_last_seq_);
  }
  Pump();  // with staging, ingests the stage if it is due
}

uint64_t WriteBehind::Drain::Stop(int64_t deadline_ms) {
  if (!started_) return backlog();
  stop_requested_.store(true, std::memory_order_relaxed);  // the stage is due now
  {
    std::unique_lock<std::mutex> lock(mu_);
    while (!queue_.empty() && wb_->clock_->NowMs() < deadline_ms) {
      lock.unlock();
      Notify();
      lock.lock();
      idle_cv_.wait_for(lock, std::chrono::milliseconds(10));
    }
    stopping_ = true;
  }
  {
    std::lock_guard<std::mutex> lock(notify_mu_);
    accepting_ = false;  // later Notify calls (e.g. a WAL waker) do nothing
  }
  uv_async_send(&async_);  // the drain thread closes its handles and ends
  thread_.join();
  uv_loop_close(&loop_);
  started_ = false;
  return backlog();
}

// ---------------------------------------------------------------- WriteBehind

WriteBehind::WriteBehind(WriteBehindOptions options)
    : o_(std::move(options)),
      clock_(o_.clock != nullptr ? o_.clock : SystemClock::Default()) {}

StatusOr<std::unique_ptr<WriteBehind>> WriteBehind::Open(WriteBehindOptions options) {
  std::unique_ptr<WriteBehind> wb(new WriteBehind(std::move(options)));
  if (wb->o_.l1 == nullptr || wb->o_.pending == nullptr) {
    return Status::BadArgs("write-behind needs L1 and the pending map");
  }
  if (!wb->o_.tiers_for_key) {
    uint8_t all = kTierL1 | (wb->o_.l2 ? kTierL2 : 0) | (wb->o_.l3 ? kTierL3 : 0);
    wb->o_.tiers_for_key = [all](std::string_view) { return all; };
  }
  wb->drain_ = std::make_unique<Drain>(wb.get());
  WriteBehind* self = wb.get();
  int64_t now = wb->clock_->NowMs();
  auto replay = [self, now](const WalRecord& rec) {
    const Op op =
        rec.op == WalOp::kSet ? Op::kSet : rec.op == WalOp::kDelete ? Op::kDelete : Op::kExpire;
    const uint8_t mask = self->o_.tiers_for_key(rec.key);
    WriteRecord* r = WriteRecord::Make(op, rec.key, rec.value, rec.expire_at_ms, mask,
                                       /*refs=*/1,  // the drain queue's
                                       PendingWrites::HashOf(rec.key));
    r->seq = rec.seq;
    PendingWrites::Shard& shard = self->o_.pending->ShardOf(r->hash);
    {
      std::lock_guard<SpinLock> lock(shard.mu);
      self->o_.pending->PutLocked(shard, r);
      if (mask & kTierL1) {
        const bool expired = rec.expire_at_ms != 0 && rec.expire_at_ms <= now;
        ApplyToL1(self->o_.l1, op, rec.key, rec.value, rec.expire_at_ms, /*drop=*/expired);
      }
    }
    std::lock_guard<std::mutex> lock(self->drain_->mu());
    (void)self->drain_->PushLocked(r);
    Bump(self->counters_.replayed);
  };
  auto wal = Wal::Open(wb->o_.wal, replay);
  if (!wal.ok()) return wal.status();
  wb->wal_ = std::move(wal).value();
  wb->confirmed_seq_.store(wb->wal_->stats().checkpoint, std::memory_order_release);
  wb->wal_->AddWaker([self] {
    self->drain_->Notify();  // it takes only what the journal holds
    self->Wake();
  });
  if (wb->counters_.replayed.load() > 0) {
    LOG_INFO("write-behind: replayed %llu WAL records after checkpoint %llu",
             static_cast<unsigned long long>(wb->counters_.replayed.load()),
             static_cast<unsigned long long>(wb->confirmed_seq_.load()));
  }
  if (Status s = wb->drain_->Start(); !s.ok()) return s;
  return wb;
}

WriteBehind::~WriteBehind() {
  if (drain_) drain_->Stop(clock_->NowMs());
  // The WAL's writer thread may still write a last group and call its
  // wakers (our Wake(), which reads wakers_): join it while wakers_ and
  // wakers_mu_ (declared after wal_, so destroyed before it) still exist.
  wal_.reset();
}

WriteBehind::Journaled WriteBehind::Journal(const Write& w) {
  Journaled out;
  Op op = w.op;
  int64_t expire = w.expire_at_ms;
  if (op == Op::kExpire && expire <= clock_->NowMs()) op = Op::kDelete;  // as Redis does
  uint8_t mask = o_.tiers_for_key(w.key);
  L1Cache* l1 = o_.l1;
  const uint64_t hash = PendingWrites::HashOf(w.key);
  PendingWrites::Shard& shard = o_.pending->ShardOf(hash);
  std::lock_guard<SpinLock> lock(shard.mu);

  // Does the key exist, as this sidecar knows it? (nx/xx, and "applied" for
  // delete/expire.) A pending write is newer than anything in L1.
  // A plain set does not ask (one L1 lookup less per set).
  auto exists = [&] {
    const PendingWrites::Entry* p = PendingWrites::FindLocked(shard, w.key, hash);
    if (p != nullptr && p->op != Op::kExpire) {
      return p->op == Op::kSet &&
             (p->expire_at_ms == 0 || p->expire_at_ms > clock_->NowMs());
    }
    return l1->TtlMs(w.key) != -2;
  };
  if (op == Op::kSet) {
    if ((w.condition == WriteCondition::kIfAbsent && exists()) ||
        (w.condition == WriteCondition::kIfPresent && !exists())) {
      return out;  // ok, not applied, nothing journaled
    }
    out.applied = true;
  } else {
    out.applied = exists();
  }

  bool notify = false;
  WalRecord rec;
  rec.op = op == Op::kSet ? WalOp::kSet : op == Op::kDelete ? WalOp::kDelete : WalOp::kExpire;
  rec.key = w.key;
  rec.value = op == Op::kSet ? w.value : std::string_view();
  rec.expire_at_ms = op == Op::kDelete ? 0 : expire;
  // One allocation, shared by the drain queue and the pending map; ours until
  // the end of this function (the drain may pop the queue's reference as soon
  // as the record is in the journal).
  WriteRecord* r =
      WriteRecord::Make(op, w.key, rec.value, rec.expire_at_ms, mask, /*refs=*/2, hash);
  {
    std::lock_guard<std::mutex> qlock(drain_->mu());
    out.status = wal_->Append(rec, &out.seq);
    if (!out.status.ok()) {
      out.applied = false;
      out.seq = 0;
      r->Unref();
      r->Unref();
      return out;
    }
    r->seq = out.seq;
    notify = drain_->PushLocked(r);
  }
  o_.pending->PutLocked(shard, r);
  r->Unref();
  // A set too large for L1 is not an error: the pending map holds it.
  if (mask & kTierL1) ApplyToL1(l1, op, w.key, w.value, expire, /*drop=*/w.skip_l1);
  Bump(counters_.journaled);
  // wal.sync = always: the drain cannot take the record before it is
  // durable; the WAL's waker notifies it then (one wake-up per group, not
  // per write).
  if (notify && o_.wal.sync != WalSync::kAlways) drain_->Notify();
  // Frees a few confirmed records on this thread, which allocated most of
  // them; more than one per write, so that the reaper keeps up.
  if (reaper_.size() > 0) reaper_.FreeSome(8);
  return out;
}

WriteBehind::Ack WriteBehind::AckFor(bool through) const {
  if (through) return Ack::kConfirmed;
  return o_.wal.sync == WalSync::kAlways ? Ack::kDurable : Ack::kWritten;
}

void WriteBehind::ConfirmSoon(uint64_t seq) { drain_->WantConfirm(seq); }

bool WriteBehind::WriteOut() {
  bool done = wal_->WriteOut();
  // The drain may have stopped at a record that was not written yet.
  if (drain_->TakeWalWaiting()) drain_->Notify();
  return done;
}

bool WriteBehind::Satisfied(uint64_t seq, Ack ack) const {
  // durable_seq: fsynced with wal.sync = always, written otherwise.
  const bool in_journal = wal_->StateOf(seq) == Wal::SeqState::kDurable;
  switch (ack) {
    case Ack::kWritten:
    case Ack::kDurable: return in_journal;
    case Ack::kConfirmed: return in_journal && confirmed_seq() >= seq;
  }
  return false;
}

bool WriteBehind::Failed(uint64_t seq) const {
  return wal_->StateOf(seq) == Wal::SeqState::kFailed;
}

void WriteBehind::ResolveFailed(uint64_t seq) {
  std::string key;
  {
    std::lock_guard<std::mutex> qlock(drain_->mu());
    WriteRecord* r = drain_->FindLocked(seq);
    if (r == nullptr || r->withdrawn) return;  // resolved already
    r->withdrawn = true;  // the drain skips it
    key = r->key();
  }
  Bump(counters_.wal_failures);
  // Lock order as in Journal: the key's shard, then the drain queue.
  const uint64_t hash = PendingWrites::HashOf(key);
  PendingWrites::Shard& shard = o_.pending->ShardOf(hash);
  {
    std::lock_guard<SpinLock> lock(shard.mu);
    const PendingWrites::Entry* p = PendingWrites::FindLocked(shard, key, hash);
    if (p != nullptr && p->seq == seq) {
      // The failed write was the newest of its key: take it back. If earlier
      // writes of the key are still unconfirmed, the newest that counts is
      // the key's acknowledged state again (read-your-writes); otherwise the
      // tiers below hold it.
      const bool has_older = p->has_older;
      o_.pending->EraseIfSeqLocked(shard, key, seq);
      if (has_older) {
        std::lock_guard<std::mutex> qlock(drain_->mu());
        for (WriteRecord* r : drain_->HistoryLocked(key, seq)) o_.pending->PutLocked(shard, r);
      }
      o_.l1->Erase(key);  // L1 held the failed value; reads now find the pending one
    }
  }
  drain_->Notify();
}

Status WriteBehind::wal_error() const { return wal_->last_error(); }

void WriteBehind::AddWaker(std::function<void()> wake) {
  std::lock_guard<std::mutex> lock(wakers_mu_);
  wakers_.push_back(std::move(wake));
}

void WriteBehind::Wake() {
  std::lock_guard<std::mutex> lock(wakers_mu_);
  for (auto& w : wakers_) w();
}

uint64_t WriteBehind::Stop(int64_t deadline_ms) { return drain_->Stop(deadline_ms); }

WalStats WriteBehind::wal_stats() const { return wal_->stats(); }
uint64_t WriteBehind::backlog_records() const { return drain_->backlog(); }

}  // namespace strata
