// Wal: the appender side (Append, SetCheckpoint, WriteOut) and the writer
// thread (group commit, rotation, failures, checkpoint). Open's replay is in
// wal_recover.cc. See wal.h for the contract and docs/wal_format.md for the
// bytes.
#include "wal/wal.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "common/clock.h"
#include "common/log.h"
#include "wal/wal_format.h"
#include "wal/wal_impl.h"

namespace strata {

namespace fmt = wal_format;
using wal_internal::Join;
using wal_internal::WithContext;

namespace wal_internal {

std::string Join(const std::string& dir, const std::string& name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

Status WithContext(const Status& s, const std::string& what) {
  return Status(s.code(), s.message() + " (" + what + ")");
}

}  // namespace wal_internal

namespace {

// The group buffer's cap: past it Append waits for the writer to take the
// group (or fails with the last error while the WAL is failing). Big enough
// that a healthy disk never fills it between two writer passes.
constexpr size_t kGroupCap = 4u << 20;
constexpr size_t kMaxFailedRanges = 1024;

}  // namespace

// ---------------------------------------------------------------- appender side

void Wal::Impl::AddMarkLocked(uint64_t seq) {
  if (marks_.empty() || marks_.back().end - marks_.back().start >= mark_step_) {
    uint64_t start = marks_.empty() ? checkpointed_bytes_ : marks_.back().end;
    marks_.push_back({seq, start, total_bytes_});
  } else {
    marks_.back().last_seq = seq;
    marks_.back().end = total_bytes_;
  }
}

Status Wal::Impl::Append(const WalRecord& record, uint64_t* seq) {
  if (record.key.size() + record.value.size() > fmt::kMaxRecordBody - fmt::kRecordFixedBody) {
    return Status::TooLarge("wal: record of " +
                            std::to_string(record.key.size() + record.value.size()) +
                            " bytes is too large");
  }
  const size_t size = fmt::EncodedSize(record.key.size(), record.value.size());
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    uint64_t backlog = total_bytes_ - checkpointed_bytes_;
    if (backlog + size > opt_.max_bytes) {
      return Status::Overloaded("wal.max_bytes (" + std::to_string(opt_.max_bytes) +
                                ") reached: " + std::to_string(backlog) +
                                " bytes appended and not checkpointed");
    }
    // An oversized record still goes into an empty group on its own.
    if (pending_.empty() || pending_.size() + size <= kGroupCap) break;
    if (failing_.load(std::memory_order_acquire)) return LastError();
    ++space_waiters_;
    space_cv_.wait(lock);
    --space_waiters_;
  }
  const uint64_t s = next_seq_++;
  const size_t offset = pending_.size();
  if (offset == 0 && appender_writes_) pending_since_ns_ = MonotonicNs();
  pending_.resize(offset + size);
  fmt::EncodeRecordNoCrc(pending_.data() + offset, s, record);
  total_bytes_ += size;
  AddMarkLocked(s);
  ++appended_records_;
  appended_bytes_ += size;
  // With appender_writes the caller writes the group (WriteOut); the writer
  // only needs to know when it sleeps without a deadline (its safety net).
  const bool wake = appender_writes_ ? writer_untimed_ : writer_idle_;
  lock.unlock();
  if (wake) writer_cv_.notify_one();
  *seq = s;
  return Status::Ok();
}

void Wal::Impl::ReleaseLocked(uint64_t seq) {
  while (!marks_.empty() && marks_.front().last_seq <= seq) {
    checkpointed_bytes_ = marks_.front().end;
    marks_.pop_front();
  }
}

void Wal::Impl::Release(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  ReleaseLocked(std::min(seq, next_seq_ - 1));
}

void Wal::Impl::SetCheckpoint(uint64_t seq) {
  std::unique_lock<std::mutex> lock(mu_);
  seq = std::min(seq, next_seq_ - 1);
  if (seq <= checkpoint_) return;
  checkpoint_ = seq;
  ReleaseLocked(seq);
  const bool wake = writer_idle_;
  lock.unlock();
  if (wake) writer_cv_.notify_one();
}

Status Wal::Impl::Flush() {
  const uint64_t errors_before = write_errors_.load();
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t last = next_seq_ - 1;
  const uint64_t target = ++flush_requested_;
  writer_cv_.notify_one();
  flush_cv_.wait(lock, [&] { return flush_done_ >= target; });
  lock.unlock();
  if (StateOf(last) != Wal::SeqState::kDurable || write_errors_.load() != errors_before) {
    return LastError();
  }
  return Status::Ok();
}

Wal::SeqState Wal::Impl::StateOf(uint64_t seq) const {
  // Read durable_seq first: a failed range is recorded before durable_seq
  // can move past it, so seeing the later durable_seq means seeing the range.
  const uint64_t durable = wal_->durable_seq();
  // No write ever failed (the usual case): no lock on this per-ack path.
  if (!any_failed_.load(std::memory_order_acquire)) {
    return seq <= durable ? Wal::SeqState::kDurable : Wal::SeqState::kPending;
  }
  std::lock_guard<std::mutex> lock(status_mu_);
  for (auto it = failed_ranges_.rbegin(); it != failed_ranges_.rend(); ++it) {
    if (seq >= it->first && seq <= it->second) return Wal::SeqState::kFailed;
    if (it->second < seq) break;
  }
  return seq <= durable ? Wal::SeqState::kDurable : Wal::SeqState::kPending;
}

WalStats Wal::Impl::Stats() const {
  WalStats st;
  {
    std::lock_guard<std::mutex> lock(mu_);
    st.appended_records = appended_records_;
    st.appended_bytes = appended_bytes_;
    st.backlog_bytes = total_bytes_ - checkpointed_bytes_;
    st.checkpoint = checkpoint_;
    st.last_seq = next_seq_ - 1;
  }
  st.sync_latency = sync_hist_.Snapshot();
  st.syncs = syncs_.load();
  st.groups = groups_.load();
  st.write_errors = write_errors_.load();
  st.truncated_tails = truncated_tails_;
  st.replayed_records = replayed_records_;
  st.segments = segment_count_.load();
  st.sync_ns_total = sync_ns_total_.load();
  st.sync_ns_max = sync_ns_max_.load();
  st.preallocated = preallocated_.load();
  st.preallocated_used = preallocated_used_.load();
  st.prealloc_failures = prealloc_failures_.load();
  return st;
}

// ---------------------------------------------------------------- writer thread

uint64_t Wal::Impl::TakeGroupLocked() {
  writing_.swap(pending_);
  if (space_waiters_ > 0) space_cv_.notify_all();
  return next_seq_ - 1;
}

bool Wal::Impl::WriteOut() {
  if (!appender_writes_) return false;
  std::unique_lock<std::mutex> file_lock(file_mu_, std::try_to_lock);
  // Another loop writing a group holds the file for one write(): wait for
  // it. The writer thread may hold it for an fsync: hand over instead.
  if (!file_lock.owns_lock() && !writer_holds_file_.load(std::memory_order_acquire)) {
    file_lock.lock();
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (pending_.empty()) {
    // Nothing appended is unwritten, unless the writer thread holds a group
    // it is about to write (then durable_seq() is not there yet).
    return file_lock.owns_lock() || wal_->durable_seq() >= next_seq_ - 1;
  }
  if (!file_lock.owns_lock() || stop_) {
    write_requested_ = true;
    const bool wake = writer_idle_;
    lock.unlock();
    if (wake) writer_cv_.notify_one();
    return false;
  }
  const uint64_t last = TakeGroupLocked();
  lock.unlock();
  WriteGroup(fmt::RecordSeqAt(writing_.data()), last, /*call_wakers=*/false);
  writing_.clear();
  if (writing_.capacity() > 4 * kGroupCap) std::string().swap(writing_);
  file_lock.unlock();
  // The writer schedules the interval sync; it needs telling only if it
  // sleeps without a deadline.
  lock.lock();
  const bool wake = writer_untimed_;
  lock.unlock();
  if (wake) writer_cv_.notify_one();
  return true;
}

void Wal::Impl::Run() {
  // A group that WriteOut's callers leave unwritten for sync_interval (at
  // least 1 ms) is written here: an appender that never calls WriteOut, or
  // one that stalled. While the writer sleeps towards a deadline (the next
  // interval sync) Append does not wake it, so the group waits for that
  // deadline at most; only a writer asleep without one is woken.
  const int64_t grace_ns = std::max<int64_t>(1, opt_.sync_interval_ms) * 1'000'000;
  pthread_setname_np(pthread_self(), "strata-wal");  // for top -H, perf, /proc
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    while (true) {
      if (stop_ || flush_requested_ != flush_done_ || checkpoint_ != checkpoint_attempted_ ||
          write_requested_) {
        break;
      }
      int64_t deadline_ns = INT64_MAX;
      if (!pending_.empty()) {
        if (!appender_writes_) break;
        deadline_ns = pending_since_ns_ + grace_ns;
      }
      if (opt_.sync == WalSync::kInterval && unsynced_.load()) {
        deadline_ns = std::min(deadline_ns, last_sync_ns_.load() + opt_.sync_interval_ms * 1'000'000);
      }
      writer_idle_ = true;
      if (deadline_ns == INT64_MAX) {
        writer_untimed_ = true;
        writer_cv_.wait(lock);
        writer_untimed_ = false;
      } else {
        const int64_t wait_ns = deadline_ns - MonotonicNs();
        if (wait_ns <= 0) {  // the interval sync is due, or a group waited too long
          writer_idle_ = false;
          break;
        }
        writer_cv_.wait_for(lock, std::chrono::nanoseconds(wait_ns));
      }
      writer_idle_ = false;
    }
    // The file side first (lock order), then the group.
    lock.unlock();
    std::unique_lock<std::mutex> file_lock(file_mu_);
    writer_holds_file_.store(true, std::memory_order_release);
    lock.lock();
    // A loop that handed its group over waits for a wake-up even if another
    // loop wrote that group meanwhile (then writing_ is empty here).
    const bool requested = write_requested_;
    write_requested_ = false;
    const bool stopping = stop_;
    const uint64_t flush_target = flush_requested_;
    const uint64_t checkpoint = checkpoint_;
    const uint64_t last = TakeGroupLocked();
    lock.unlock();

    if (!writing_.empty()) {
      const uint64_t first = fmt::RecordSeqAt(writing_.data());
      WriteGroup(first, last, /*call_wakers=*/true);
      writing_.clear();
      if (writing_.capacity() > 4 * kGroupCap) std::string().swap(writing_);
    } else if (requested) {
      CallWakers();
    }
    if (fd_ >= 0 && unsynced_.load()) {
      const bool interval_due =
          opt_.sync == WalSync::kInterval &&
          MonotonicNs() - last_sync_ns_.load() >= opt_.sync_interval_ms * 1'000'000;
      const bool final_sync = stopping && opt_.sync != WalSync::kNever;
      if (interval_due && appender_writes_ && !final_sync && flush_target == flush_done_) {
        // The routine interval sync runs without the file, so the loops'
        // WriteOut keeps writing (and acknowledging) during the fdatasync.
        SyncActiveUnlocked(file_lock);
      } else if (interval_due || final_sync || flush_target != flush_done_) {
        Status s = SyncActive();
        // Already acknowledged (kInterval/kNever): nothing to fail, but the
        // descriptor is suspect after a failed fsync, so the next group
        // starts a new segment.
        if (!s.ok()) {
          RecordError(s);
          AbandonActive();
        }
      }
    }
    if (checkpoint > checkpoint_persisted_) PersistCheckpoint(checkpoint);
    writer_holds_file_.store(false, std::memory_order_release);
    file_lock.unlock();

    lock.lock();
    checkpoint_attempted_ = checkpoint;
    if (flush_target != flush_done_) {
      flush_done_ = flush_target;
      flush_cv_.notify_all();
    }
    if (stopping && pending_.empty()) break;
  }
  lock.unlock();
  std::lock_guard<std::mutex> file_lock(file_mu_);
  if (fd_ >= 0) {
    TrimActive();
    Status s = fs_->Close(fd_);
    if (!s.ok()) RecordError(s);
    fd_ = -1;
  }
}

void Wal::Impl::WriteGroup(uint64_t first, uint64_t last, bool call_wakers) {
  char* const buf = writing_.data();
  const size_t n = writing_.size();
  for (size_t pos = 0; pos < n; pos += fmt::RecordSizeAt(buf + pos)) fmt::FillCrc(buf + pos);
  groups_.fetch_add(1, std::memory_order_relaxed);

  uint64_t ok_last = first - 1;  // highest seq of this group written
  Status err;
  size_t pos = 0;
  while (pos < n) {
    // Full; or plain while a spare is ready (a plain segment's fsyncs cost
    // more: move over, once it holds a record so the names differ).
    if (fd_ >= 0 && (size_ >= opt_.segment_bytes ||
                     (!active_preallocated_ && spare_ready_.load(std::memory_order_acquire) &&
                      segments_.back().last_seq >= segments_.back().first_seq))) {
      err = CloseSegmentForRotation();
      if (!err.ok()) break;
    }
    if (fd_ < 0) {
      err = OpenSegment(fmt::RecordSeqAt(buf + pos));
      if (!err.ok()) break;
    }
    // As many whole records as fit before the segment passes segment_bytes
    // (at least one), so a segment stays near its size whatever the groups.
    const uint64_t room = opt_.segment_bytes > size_ ? opt_.segment_bytes - size_ : 0;
    size_t end = pos + fmt::RecordSizeAt(buf + pos);
    uint64_t chunk_last = fmt::RecordSeqAt(buf + pos);
    while (end < n) {
      const size_t len = fmt::RecordSizeAt(buf + end);
      if (end - pos + len > room) break;
      chunk_last = fmt::RecordSeqAt(buf + end);
      end += len;
    }
    err = fs_->Write(fd_, std::string_view(buf + pos, end - pos));
    if (!err.ok()) {
      err = WithContext(err, segments_.back().path);
      TruncateActive(size_);  // later groups must follow valid data
      break;
    }
    size_ += end - pos;
    segments_.back().last_seq = chunk_last;
    unsynced_ = true;
    ok_last = chunk_last;
    pos = end;
    // Publish progress within a big group (wakers run at its end).
    const uint64_t progress = opt_.sync == WalSync::kAlways ? synced_seq_ : ok_last;
    if (progress >= first && progress < last) {
      wal_->durable_seq_.store(progress, std::memory_order_release);
    }
  }
  MaybeRequestSpare();
  if (opt_.sync == WalSync::kAlways) {
    if (fd_ >= 0 && unsynced_) {
      Status s = SyncActive();
      if (!s.ok()) {
        if (err.ok()) err = s;
        TruncateActive(synced_size_);
        AbandonActive();
      }
    }
    ok_last = std::min(ok_last, synced_seq_ >= first ? synced_seq_ : first - 1);
  }

  if (ok_last >= first) wal_->durable_seq_.store(ok_last, std::memory_order_release);
  if (ok_last < last) {
    AddFailedRange(ok_last + 1, last);
    wal_->failed_seq_.store(last, std::memory_order_release);
    failing_.store(true, std::memory_order_release);
    RecordError(err.ok() ? Status::Unavailable("wal: group not written") : err);
  } else if (failing_.load(std::memory_order_relaxed)) {
    failing_.store(false, std::memory_order_release);
    LOG_INFO("wal: writes succeed again (through seq %llu)",
             static_cast<unsigned long long>(last));
  }
  if (call_wakers) CallWakers();
}

Status Wal::Impl::OpenSegment(uint64_t first_seq) {
  const std::string path = Join(opt_.dir, fmt::SegmentName(first_seq));
  prep_blocked_.store(false, std::memory_order_relaxed);  // a failed spare may be retried
  bool preallocated = false;
  StatusOr<int> h = Status::Unavailable("wal: no segment opened");
  if (spare_ready_.exchange(false, std::memory_order_acq_rel)) {
    h = fs_->RenameAndOpen(SparePath(), path);
    preallocated = h.ok();
    if (!preallocated) {  // unusable; a plain segment does the job
      prealloc_failures_.fetch_add(1, std::memory_order_relaxed);
      LOG_RATE_LIMITED(::strata::LogLevel::kWarn, "wal: spare segment: %s",
                       h.status().ToString().c_str());
      (void)fs_->Remove(SparePath());
    }
  }
  if (!preallocated) {
    h = fs_->OpenAppend(path);
    if (!h.ok()) return h.status();
  }
  // A plain file of this name can only be a leftover without records; a
  // spare is overwritten from its first byte.
  Status s = preallocated ? Status::Ok() : fs_->Truncate(*h, path, 0);
  char header[fmt::kSegmentHeaderSize];
  fmt::EncodeSegmentHeader(header);
  if (s.ok()) s = fs_->Write(*h, std::string_view(header, sizeof(header)));
  if (!s.ok()) {
    (void)fs_->Close(*h);
    (void)fs_->Remove(path);
    return WithContext(s, path);
  }
  fd_ = *h;
  size_ = sizeof(header);
  synced_size_ = 0;
  unsynced_ = true;
  active_preallocated_ = preallocated;
  segments_.push_back({first_seq, first_seq - 1, path});
  segment_count_.fetch_add(1, std::memory_order_relaxed);
  if (preallocated) preallocated_used_.fetch_add(1, std::memory_order_relaxed);
  return Status::Ok();
}

Status Wal::Impl::CloseSegmentForRotation() {
  if (unsynced_ && opt_.sync != WalSync::kNever) {
    Status s = SyncActive();
    if (!s.ok()) {
      if (opt_.sync == WalSync::kAlways) {
        TruncateActive(synced_size_);
        AbandonActive();
        return s;
      }
      RecordError(s);  // kInterval: already acknowledged; carry on in a new segment
    }
  }
  TrimActive();
  AbandonActive();
  return Status::Ok();
}

void Wal::Impl::TrimActive() {
  if (fd_ < 0 || !active_preallocated_) return;
  // Only tidiness: replay reads the zeros as the end anyway.
  Status s = fs_->Truncate(fd_, segments_.back().path, size_);
  if (!s.ok()) {
    LOG_RATE_LIMITED(::strata::LogLevel::kWarn, "wal: %s", s.ToString().c_str());
  }
  active_preallocated_ = false;
}

std::string Wal::Impl::SparePath() const { return Join(opt_.dir, fmt::kSpareName); }

void Wal::Impl::MaybeRequestSpare() {
  if (!opt_.preallocate || fd_ < 0 || size_ < opt_.segment_bytes / 16 ||
      spare_ready_.load(std::memory_order_acquire) ||
      prep_busy_.load(std::memory_order_acquire) ||
      prep_blocked_.load(std::memory_order_relaxed)) {
    return;
  }
  prep_busy_.store(true, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(prep_mu_);
    prep_requested_ = true;
  }
  prep_cv_.notify_one();
}

void Wal::Impl::PrepRun() {
  pthread_setname_np(pthread_self(), "strata-walprep");
  std::unique_lock<std::mutex> lock(prep_mu_);
  while (true) {
    prep_cv_.wait(lock, [this] { return prep_requested_ || prep_stop_.load(); });
    if (prep_stop_.load()) break;
    prep_requested_ = false;
    lock.unlock();
    if (!fs_->WorthPreallocating(opt_.dir, opt_.segment_bytes)) {
      prep_blocked_.store(true, std::memory_order_relaxed);
    } else if (Status s = MakeSpare(); s.ok()) {
      preallocated_.fetch_add(1, std::memory_order_relaxed);
      spare_ready_.store(true, std::memory_order_release);
    } else if (!prep_stop_.load()) {
      prealloc_failures_.fetch_add(1, std::memory_order_relaxed);
      prep_blocked_.store(true, std::memory_order_relaxed);
      LOG_RATE_LIMITED(::strata::LogLevel::kWarn, "wal: preallocating the next segment: %s",
                       s.ToString().c_str());
    }
    prep_busy_.store(false, std::memory_order_release);
    lock.lock();
  }
}

Status Wal::Impl::MakeSpare() {
  const std::string path = SparePath();
  (void)fs_->Remove(path);
  StatusOr<int> h = fs_->OpenAppend(path);
  if (!h.ok()) return h.status();
  // Zeros written for real (fallocate's unwritten extents would still need a
  // journal commit at the first fdatasync over them), in 1 MiB writes, with
  // a sync every 8 MiB so the write-back comes in small bursts next to the
  // open segment's fsyncs.
  constexpr size_t kChunk = 1 << 20;
  static const std::string zeros(kChunk, '\0');
  Status s;
  for (uint64_t done = 0; s.ok() && done < opt_.segment_bytes; done += kChunk) {
    if (prep_stop_.load()) s = Status::Unavailable("wal: stopping");
    if (s.ok()) {
      const auto len = static_cast<size_t>(std::min<uint64_t>(kChunk, opt_.segment_bytes - done));
      s = fs_->Write(*h, std::string_view(zeros.data(), len));
    }
    if (s.ok() && (done / kChunk) % 8 == 7) s = fs_->Sync(*h);
  }
  if (s.ok()) s = fs_->Sync(*h);
  Status c = fs_->Close(*h);
  if (s.ok()) s = c;
  if (!s.ok()) (void)fs_->Remove(path);
  return s.ok() ? s : WithContext(s, path);
}

Status Wal::Impl::SyncFd(int fd) {
  const int64_t start = MonotonicNs();
  Status s = fs_->Sync(fd);
  const uint64_t ns = static_cast<uint64_t>(std::max<int64_t>(0, MonotonicNs() - start));
  syncs_.fetch_add(1, std::memory_order_relaxed);
  sync_ns_total_.fetch_add(ns, std::memory_order_relaxed);
  if (ns > sync_ns_max_.load(std::memory_order_relaxed)) sync_ns_max_.store(ns);
  sync_hist_.RecordShared(ns);  // a rotation on a loop may sync while the writer does
  last_sync_ns_ = MonotonicNs();
  return s;
}

void Wal::Impl::SyncActiveUnlocked(std::unique_lock<std::mutex>& file_lock) {
  // What the sync covers: the bytes written before it starts.
  const int fd = fd_;
  const uint64_t first = segments_.back().first_seq;  // names the segment (a new one
                                                      // may reuse the descriptor number)
  const uint64_t size = size_;
  const uint64_t last = segments_.back().last_seq;
  const bool has_records = last >= segments_.back().first_seq;
  const std::string path = segments_.back().path;
  {
    std::lock_guard<std::mutex> l(sync_mu_);
    unlocked_sync_ = true;  // AbandonActive waits before it closes fd
  }
  writer_holds_file_.store(false, std::memory_order_release);
  file_lock.unlock();
  Status s = SyncFd(fd);
  {
    std::lock_guard<std::mutex> l(sync_mu_);
    unlocked_sync_ = false;
  }
  sync_cv_.notify_all();
  file_lock.lock();
  writer_holds_file_.store(true, std::memory_order_release);
  if (fd_ != fd || segments_.back().first_seq != first) {
    // Rotated (and so synced and closed) meanwhile; a failure there was
    // recorded by whoever rotated.
    return;
  }
  if (!s.ok()) {
    // Already acknowledged (kInterval): nothing to fail, but the descriptor
    // is suspect after a failed fsync, so the next group starts a new segment.
    RecordError(WithContext(s, path));
    AbandonActive();
    return;
  }
  synced_size_ = std::max(synced_size_, size);
  if (has_records) synced_seq_ = std::max(synced_seq_, last);
  if (size_ == size) unsynced_ = false;
}

Status Wal::Impl::SyncActive() {
  Status s = SyncFd(fd_);
  if (!s.ok()) return WithContext(s, segments_.back().path);
  synced_size_ = size_;
  if (segments_.back().last_seq >= segments_.back().first_seq) {
    synced_seq_ = std::max(synced_seq_, segments_.back().last_seq);
  }
  unsynced_ = false;
  return Status::Ok();
}

void Wal::Impl::TruncateActive(uint64_t size) {
  Segment& seg = segments_.back();
  Status s = fs_->Truncate(fd_, seg.path, size);
  if (!s.ok()) {
    // The tail holds garbage we cannot remove; replay will stop there, so
    // new records must go to a new segment.
    RecordError(s);
    AbandonActive();
    return;
  }
  if (size < size_) {
    size_ = size;
    if (size <= synced_size_) {
      seg.last_seq = synced_seq_ >= seg.first_seq ? synced_seq_ : seg.first_seq - 1;
    }
  }
}

void Wal::Impl::AbandonActive() {
  if (fd_ < 0) return;
  {
    // The writer thread may be syncing this descriptor without file_mu_.
    std::unique_lock<std::mutex> l(sync_mu_);
    sync_cv_.wait(l, [this] { return !unlocked_sync_; });
  }
  Status s = fs_->Close(fd_);
  if (!s.ok()) RecordError(s);
  fd_ = -1;
  unsynced_ = false;
}

void Wal::Impl::PersistCheckpoint(uint64_t cp) {
  Status s = fs_->WriteFileAtomic(Join(opt_.dir, fmt::kCheckpointName), fmt::EncodeCheckpoint(cp));
  if (!s.ok()) {
    RecordError(s);  // retried with the next checkpoint
    return;
  }
  checkpoint_persisted_ = cp;
  while (!segments_.empty()) {
    const Segment& seg = segments_.front();
    const bool open = fd_ >= 0 && segments_.size() == 1;
    if (open || seg.last_seq > cp) break;
    s = fs_->Remove(seg.path);
    if (!s.ok()) {
      RecordError(s);  // replay deletes it later: it is below the checkpoint
      break;
    }
    segments_.erase(segments_.begin());
    segment_count_.fetch_sub(1, std::memory_order_relaxed);
  }
}

void Wal::Impl::RecordError(const Status& s) {
  write_errors_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(status_mu_);
    last_error_ = s;
  }
  LOG_RATE_LIMITED(::strata::LogLevel::kWarn, "wal: %s", s.ToString().c_str());
}

void Wal::Impl::AddFailedRange(uint64_t first, uint64_t last) {
  std::lock_guard<std::mutex> lock(status_mu_);
  any_failed_.store(true, std::memory_order_release);
  if (!failed_ranges_.empty() && failed_ranges_.back().second + 1 == first) {
    failed_ranges_.back().second = last;
    return;
  }
  failed_ranges_.emplace_back(first, last);
  if (failed_ranges_.size() > kMaxFailedRanges) failed_ranges_.pop_front();
}

void Wal::Impl::CallWakers() {
  std::lock_guard<std::mutex> lock(wakers_mu_);
  for (const auto& wake : wakers_) wake();
}

void Wal::Impl::Stop() {
  {
    std::lock_guard<std::mutex> lock(prep_mu_);
    prep_stop_ = true;
  }
  prep_cv_.notify_one();
  if (prep_thread_.joinable()) prep_thread_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  writer_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  // A spare nobody took: the next Open would remove it anyway.
  if (spare_ready_.exchange(false)) (void)fs_->Remove(SparePath());
}

// ---------------------------------------------------------------- Wal

Wal::Wal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Wal::~Wal() { impl_->Stop(); }

StatusOr<std::unique_ptr<Wal>> Wal::Open(const WalOptions& options, const ReplayFn& replay) {
  if (options.segment_bytes == 0 || options.sync_interval_ms < 0) {
    return Status::BadArgs("wal: segment_bytes must be > 0 and sync_interval >= 0");
  }
  std::unique_ptr<Wal> wal(new Wal(nullptr));
  wal->impl_ = std::make_unique<Impl>(wal.get(), options);
  Status s = wal->impl_->Recover(replay ? replay : [](const WalRecord&) {});
  if (!s.ok()) return s;
  wal->impl_->Start();
  return wal;
}

Status Wal::Append(const WalRecord& record, uint64_t* seq) { return impl_->Append(record, seq); }
void Wal::SetCheckpoint(uint64_t seq) { impl_->SetCheckpoint(seq); }
void Wal::Release(uint64_t seq) { impl_->Release(seq); }
Status Wal::last_error() const { return impl_->LastError(); }
uint64_t Wal::last_seq() const { return impl_->LastSeq(); }
WalStats Wal::stats() const { return impl_->Stats(); }
void Wal::AddWaker(std::function<void()> wake) { impl_->AddWaker(std::move(wake)); }
Wal::SeqState Wal::StateOf(uint64_t seq) const { return impl_->StateOf(seq); }
Status Wal::Flush() { return impl_->Flush(); }
bool Wal::WriteOut() { return impl_->WriteOut(); }

}  // namespace strata
