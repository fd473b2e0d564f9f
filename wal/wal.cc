// Wal: the appender side (Append, SetCheckpoint), the writer thread (group
// commit, rotation, failures, checkpoint) and Open (replay). See wal.h for
// the contract and docs/wal_format.md for the bytes.
#include "wal/wal.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "common/clock.h"
#include "common/log.h"
#include "wal/wal_format.h"

namespace strata {

namespace fmt = wal_format;

namespace {

// The group buffer's cap: past it Append waits for the writer to take the
// group (or fails with the last error while the WAL is failing). Big enough
// that a healthy disk never fills it between two writer passes.
constexpr size_t kGroupCap = 4u << 20;
constexpr size_t kMaxFailedRanges = 1024;
// Backlog accounting is kept per span of about max_bytes/256 bytes, so the
// bookkeeping stays small and over-counts by at most one span.
constexpr uint64_t kMarkSpans = 256;

std::string Join(const std::string& dir, const std::string& name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

Status WithContext(const Status& s, const std::string& what) {
  return Status(s.code(), s.message() + " (" + what + ")");
}

}  // namespace

class Wal::Impl {
 public:
  Impl(Wal* wal, const WalOptions& options)
      : wal_(wal),
        opt_(options),
        fs_(options.fs != nullptr ? options.fs : WalFileSystem::Posix()),
        mark_step_(std::max<uint64_t>(1, options.max_bytes / kMarkSpans)) {}

  Status Recover(const Wal::ReplayFn& replay);
  void Start() { thread_ = std::thread([this] { Run(); }); }
  void Stop();

  Status Append(const WalRecord& record, uint64_t* seq);
  void SetCheckpoint(uint64_t seq);
  void Release(uint64_t seq);
  Status Flush();
  Status LastError() const {
    std::lock_guard<std::mutex> lock(status_mu_);
    return last_error_;
  }
  uint64_t LastSeq() const {
    std::lock_guard<std::mutex> lock(mu_);
    return next_seq_ - 1;
  }
  WalStats Stats() const;
  void AddWaker(std::function<void()> wake) {
    std::lock_guard<std::mutex> lock(wakers_mu_);
    wakers_.push_back(std::move(wake));
  }
  Wal::SeqState StateOf(uint64_t seq) const;

 private:
  struct Segment {
    uint64_t first_seq;
    uint64_t last_seq;  // of its last good record; first_seq - 1 if none
    std::string path;
  };
  struct Mark {  // records up to last_seq end at byte end (cumulative)
    uint64_t last_seq;
    uint64_t start;
    uint64_t end;
  };

  // Writer thread.
  void Run();
  void WriteGroup(uint64_t first, uint64_t last);
  Status OpenSegment(uint64_t first_seq);
  Status CloseSegmentForRotation();
  Status SyncActive();
  void TruncateActive(uint64_t size);
  void AbandonActive();
  void PersistCheckpoint(uint64_t cp);
  void RecordError(const Status& s);
  void AddFailedRange(uint64_t first, uint64_t last);
  void CallWakers();
  void AddMarkLocked(uint64_t seq);
  void ReleaseLocked(uint64_t seq);

  Wal* wal_;
  const WalOptions opt_;
  WalFileSystem* const fs_;
  const uint64_t mark_step_;

  // Appender side, guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable writer_cv_;  // the writer waits for work
  std::condition_variable space_cv_;   // appenders wait for room in the group
  std::condition_variable flush_cv_;
  std::string pending_;                // the group being filled
  uint64_t next_seq_ = 1;
  bool writer_idle_ = false;
  int space_waiters_ = 0;
  bool stop_ = false;
  uint64_t total_bytes_ = 0;           // encoded bytes of every record after the checkpoint
  uint64_t checkpointed_bytes_ = 0;
  std::deque<Mark> marks_;
  uint64_t checkpoint_ = 0;            // requested
  uint64_t checkpoint_attempted_ = 0;  // the writer has tried to persist this one
  uint64_t flush_requested_ = 0;
  uint64_t flush_done_ = 0;
  uint64_t appended_records_ = 0;
  uint64_t appended_bytes_ = 0;

  // Writer-owned (Open fills them before the thread starts).
  std::string writing_;
  std::vector<Segment> segments_;  // oldest first; the open one (if any) is last
  int fd_ = -1;
  uint64_t size_ = 0;              // good bytes in the open segment
  uint64_t synced_size_ = 0;       // bytes of the open segment covered by a sync
  uint64_t synced_seq_ = 0;        // highest seq covered by a sync (or replayed)
  bool unsynced_ = false;
  int64_t last_sync_ns_ = 0;
  uint64_t checkpoint_persisted_ = 0;
  std::thread thread_;

  // Failure bookkeeping, guarded by status_mu_ (taken after mu_, never before).
  mutable std::mutex status_mu_;
  Status last_error_;
  std::deque<std::pair<uint64_t, uint64_t>> failed_ranges_;
  std::atomic<bool> failing_{false};

  std::mutex wakers_mu_;
  std::vector<std::function<void()>> wakers_;

  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> groups_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<uint64_t> segment_count_{0};
  std::atomic<uint64_t> sync_ns_total_{0};
  std::atomic<uint64_t> sync_ns_max_{0};
  uint64_t truncated_tails_ = 0;   // set by Open only
  uint64_t replayed_records_ = 0;  // set by Open only
};

// ---------------------------------------------------------------- Open / replay

Status Wal::Impl::Recover(const Wal::ReplayFn& replay) {
  Status s = fs_->MakeDirs(opt_.dir);
  if (!s.ok()) return s;
  StatusOr<std::vector<std::string>> names = fs_->List(opt_.dir);
  if (!names.ok()) return names.status();

  uint64_t checkpoint = 0;
  std::vector<std::pair<uint64_t, std::string>> found;
  for (const std::string& name : *names) {
    uint64_t first = 0;
    if (fmt::ParseSegmentName(name, &first)) {
      found.emplace_back(first, name);
    } else if (name == fmt::kCheckpointName) {
      StatusOr<std::string> data = fs_->ReadAll(Join(opt_.dir, name));
      if (!data.ok()) return data.status();
      if (!fmt::DecodeCheckpoint(*data, &checkpoint)) {
        // Replaying from the start is safe (records apply in order), only slower.
        LOG_WARN("wal: %s is damaged; replaying every segment", Join(opt_.dir, name).c_str());
        checkpoint = 0;
      }
    }
  }
  std::sort(found.begin(), found.end());

  uint64_t prev_seq = 0;  // the last valid record seen, for the ordering check
  for (size_t i = 0; i < found.size(); ++i) {
    const uint64_t first = found[i].first;
    const std::string path = Join(opt_.dir, found[i].second);
    // Its successor starts at or below checkpoint + 1: all of it is covered.
    if (i + 1 < found.size() && found[i + 1].first <= checkpoint + 1) {
      s = fs_->Remove(path);
      if (!s.ok()) return s;
      continue;
    }
    StatusOr<std::string> data = fs_->ReadAll(path);
    if (!data.ok()) return data.status();
    std::string_view bytes = *data;
    std::string why = fmt::CheckSegmentHeader(bytes);
    size_t good = 0;
    uint64_t seg_last = first - 1;
    if (why.empty()) {
      size_t pos = fmt::kSegmentHeaderSize;
      good = pos;
      WalRecord rec;
      while (true) {
        fmt::DecodeResult r = fmt::DecodeRecord(bytes, &pos, &rec, &why);
        if (r != fmt::DecodeResult::kOk) break;
        if (rec.seq <= prev_seq || rec.seq < first) {
          why = "sequence number " + std::to_string(rec.seq) + " out of order";
          break;
        }
        prev_seq = seg_last = rec.seq;
        if (rec.seq > checkpoint) {
          replay(rec);
          ++replayed_records_;
          total_bytes_ += pos - good;
          AddMarkLocked(rec.seq);
        }
        good = pos;
      }
    }
    if (!why.empty()) {
      ++truncated_tails_;
      LOG_WARN("wal: %s: %s at offset %zu; truncating %zu bytes and going on", path.c_str(),
               why.c_str(), good, bytes.size() - good);
      StatusOr<int> h = fs_->OpenAppend(path);
      if (!h.ok()) return h.status();
      s = fs_->Truncate(*h, path, good);
      if (s.ok()) s = fs_->Sync(*h);
      Status c = fs_->Close(*h);
      if (!s.ok()) return s;
      if (!c.ok()) return c;
    }
    if (seg_last < first || seg_last <= checkpoint) {  // nothing left worth keeping
      s = fs_->Remove(path);
      if (!s.ok()) return s;
      continue;
    }
    segments_.push_back({first, seg_last, path});
  }
  // A leftover from an interrupted WriteFileAtomic.
  (void)fs_->Remove(Join(opt_.dir, std::string(fmt::kCheckpointName) + ".tmp"));

  next_seq_ = std::max(checkpoint, prev_seq) + 1;
  checkpoint_ = checkpoint_attempted_ = checkpoint_persisted_ = checkpoint;
  synced_seq_ = next_seq_ - 1;
  segment_count_ = segments_.size();
  last_sync_ns_ = MonotonicNs();
  wal_->durable_seq_.store(next_seq_ - 1, std::memory_order_release);
  if (replayed_records_ > 0 || truncated_tails_ > 0) {
    LOG_INFO("wal: %s: replayed %llu records after checkpoint %llu (%llu truncated tails)",
             opt_.dir.c_str(), static_cast<unsigned long long>(replayed_records_),
             static_cast<unsigned long long>(checkpoint),
             static_cast<unsigned long long>(truncated_tails_));
  }
  return Status::Ok();
}

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
  pending_.resize(offset + size);
  fmt::EncodeRecordNoCrc(pending_.data() + offset, s, record);
  total_bytes_ += size;
  AddMarkLocked(s);
  ++appended_records_;
  appended_bytes_ += size;
  const bool wake = writer_idle_;
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
  }
  st.syncs = syncs_.load();
  st.groups = groups_.load();
  st.write_errors = write_errors_.load();
  st.truncated_tails = truncated_tails_;
  st.replayed_records = replayed_records_;
  st.segments = segment_count_.load();
  st.sync_ns_total = sync_ns_total_.load();
  st.sync_ns_max = sync_ns_max_.load();
  return st;
}

// ---------------------------------------------------------------- writer thread

void Wal::Impl::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    bool sync_due = false;
    while (true) {
      if (!pending_.empty() || stop_ || flush_requested_ != flush_done_ ||
          checkpoint_ != checkpoint_attempted_) {
        break;
      }
      writer_idle_ = true;
      if (opt_.sync == WalSync::kInterval && unsynced_) {
        const int64_t due_ns = last_sync_ns_ + opt_.sync_interval_ms * 1'000'000;
        const int64_t wait_ns = due_ns - MonotonicNs();
        if (wait_ns <= 0) {
          writer_idle_ = false;
          sync_due = true;
          break;
        }
        writer_cv_.wait_for(lock, std::chrono::nanoseconds(wait_ns));
      } else {
        writer_cv_.wait(lock);
      }
      writer_idle_ = false;
    }
    const bool stopping = stop_;
    const uint64_t flush_target = flush_requested_;
    const uint64_t checkpoint = checkpoint_;
    const uint64_t last = next_seq_ - 1;
    writing_.swap(pending_);
    if (space_waiters_ > 0) space_cv_.notify_all();
    lock.unlock();

    if (!writing_.empty()) {
      const uint64_t first = fmt::RecordSeqAt(writing_.data());
      WriteGroup(first, last);
      writing_.clear();
      if (writing_.capacity() > 4 * kGroupCap) std::string().swap(writing_);
    }
    if (fd_ >= 0 && unsynced_) {
      const bool interval_due =
          opt_.sync == WalSync::kInterval &&
          (sync_due || MonotonicNs() - last_sync_ns_ >= opt_.sync_interval_ms * 1'000'000);
      const bool final_sync = stopping && opt_.sync != WalSync::kNever;
      if (interval_due || final_sync || flush_target != flush_done_) {
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

    lock.lock();
    checkpoint_attempted_ = checkpoint;
    if (flush_target != flush_done_) {
      flush_done_ = flush_target;
      flush_cv_.notify_all();
    }
    if (stopping && pending_.empty()) break;
  }
  lock.unlock();
  if (fd_ >= 0) {
    Status s = fs_->Close(fd_);
    if (!s.ok()) RecordError(s);
    fd_ = -1;
  }
}

void Wal::Impl::WriteGroup(uint64_t first, uint64_t last) {
  char* const buf = writing_.data();
  const size_t n = writing_.size();
  for (size_t pos = 0; pos < n; pos += fmt::RecordSizeAt(buf + pos)) fmt::FillCrc(buf + pos);
  groups_.fetch_add(1, std::memory_order_relaxed);

  uint64_t ok_last = first - 1;  // highest seq of this group written
  Status err;
  size_t pos = 0;
  while (pos < n) {
    if (fd_ >= 0 && size_ >= opt_.segment_bytes) {
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
  CallWakers();
}

Status Wal::Impl::OpenSegment(uint64_t first_seq) {
  const std::string path = Join(opt_.dir, fmt::SegmentName(first_seq));
  StatusOr<int> h = fs_->OpenAppend(path);
  if (!h.ok()) return h.status();
  // A file of this name can only be a leftover without records.
  Status s = fs_->Truncate(*h, path, 0);
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
  segments_.push_back({first_seq, first_seq - 1, path});
  segment_count_.fetch_add(1, std::memory_order_relaxed);
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
  AbandonActive();
  return Status::Ok();
}

Status Wal::Impl::SyncActive() {
  const int64_t start = MonotonicNs();
  Status s = fs_->Sync(fd_);
  const uint64_t ns = static_cast<uint64_t>(std::max<int64_t>(0, MonotonicNs() - start));
  syncs_.fetch_add(1, std::memory_order_relaxed);
  sync_ns_total_.fetch_add(ns, std::memory_order_relaxed);
  if (ns > sync_ns_max_.load(std::memory_order_relaxed)) sync_ns_max_.store(ns);
  last_sync_ns_ = MonotonicNs();
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
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  writer_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
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

}  // namespace strata
