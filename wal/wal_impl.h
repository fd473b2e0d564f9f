// Wal::Impl: the state behind Wal, shared by its three files: wal.cc (the
// appender side and the writer thread), wal_recover.cc (Open's replay) and
// this header. Internal to wal/: include only from those files.
//
// Locks. file_mu_ guards the file side (the open segment, sizes, what is
// synced); mu_ guards the group being filled and the counters beside it;
// status_mu_ guards failures. Order: file_mu_, then mu_, then status_mu_.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "wal/wal.h"

namespace strata {

namespace wal_internal {

// Backlog accounting is kept per span of about max_bytes/256 bytes, so the
// bookkeeping stays small and over-counts by at most one span.
constexpr uint64_t kMarkSpans = 256;

std::string Join(const std::string& dir, const std::string& name);
Status WithContext(const Status& s, const std::string& what);

}  // namespace wal_internal

class Wal::Impl {
 public:
  Impl(Wal* wal, const WalOptions& options)
      : wal_(wal),
        opt_(options),
        fs_(options.fs != nullptr ? options.fs : WalFileSystem::Posix()),
        appender_writes_(options.appender_writes && options.sync != WalSync::kAlways),
        mark_step_(std::max<uint64_t>(1, options.max_bytes / wal_internal::kMarkSpans)) {}

  Status Recover(const Wal::ReplayFn& replay);
  void Start() {
    thread_ = std::thread([this] { Run(); });
    if (opt_.preallocate) prep_thread_ = std::thread([this] { PrepRun(); });
  }
  void Stop();

  Status Append(const WalRecord& record, uint64_t* seq);
  void SetCheckpoint(uint64_t seq);
  void Release(uint64_t seq);
  Status Flush();
  bool WriteOut();
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
  // Writes writing_ (records first..last); call_wakers: tell the wakers
  // (the writer thread does; WriteOut's caller resolves its own writes).
  void WriteGroup(uint64_t first, uint64_t last, bool call_wakers);
  // Under file_mu_ and mu_: moves the group being filled into writing_.
  // Returns the last sequence number it holds (first is in its bytes).
  uint64_t TakeGroupLocked();
  Status OpenSegment(uint64_t first_seq);
  Status CloseSegmentForRotation();
  Status SyncActive();
  // Under file_lock (the writer thread's): fdatasyncs the open segment with
  // file_mu_ released for the syscall, then records what it covered.
  void SyncActiveUnlocked(std::unique_lock<std::mutex>& file_lock);
  Status SyncFd(int fd);  // the fdatasync, timed into the sync metrics
  void TruncateActive(uint64_t size);
  void AbandonActive();
  void PersistCheckpoint(uint64_t cp);
  void RecordError(const Status& s);
  void AddFailedRange(uint64_t first, uint64_t last);
  void CallWakers();
  void AddMarkLocked(uint64_t seq);
  // Preallocation (wal.h). Under file_mu_: asks the helper for a spare once
  // the open segment has taken segment_bytes/16.
  void MaybeRequestSpare();
  // Under file_mu_: cuts a preallocated segment's unwritten zeros off.
  void TrimActive();
  void PrepRun();      // the helper thread
  Status MakeSpare();  // on the helper thread
  std::string SparePath() const;
  void ReleaseLocked(uint64_t seq);

  Wal* wal_;
  const WalOptions opt_;
  WalFileSystem* const fs_;
  const bool appender_writes_;
  const uint64_t mark_step_;

  // Appender side, guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable writer_cv_;  // the writer waits for work
  std::condition_variable space_cv_;   // appenders wait for room in the group
  std::condition_variable flush_cv_;
  std::string pending_;                // the group being filled
  uint64_t next_seq_ = 1;
  bool writer_idle_ = false;
  bool writer_untimed_ = false;        // idle with no deadline (nothing unsynced)
  bool write_requested_ = false;       // WriteOut found the writer busy
  int64_t pending_since_ns_ = 0;       // when pending_ became non-empty
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

  // The file side, guarded by file_mu_: the writer thread, or an appender
  // in WriteOut (Open fills them before the thread starts).
  std::mutex file_mu_;
  std::atomic<bool> writer_holds_file_{false};  // the writer thread holds file_mu_
  std::string writing_;
  std::vector<Segment> segments_;  // oldest first; the open one (if any) is last
  int fd_ = -1;
  uint64_t size_ = 0;              // good bytes in the open segment
  uint64_t synced_size_ = 0;       // bytes of the open segment covered by a sync
  uint64_t synced_seq_ = 0;        // highest seq covered by a sync (or replayed)
  // Also read by the writer under mu_ alone, to plan its wait.
  std::atomic<bool> unsynced_{false};
  // The writer thread is in SyncActiveUnlocked's fdatasync without
  // file_mu_; AbandonActive waits for it before closing the descriptor.
  // sync_mu_ is taken after file_mu_ (or alone), never before it.
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  bool unlocked_sync_ = false;
  std::atomic<int64_t> last_sync_ns_{0};
  uint64_t checkpoint_persisted_ = 0;
  bool active_preallocated_ = false;  // the open segment started as a spare
  std::thread thread_;

  // Preallocation: the file side asks (prep_mu_), the helper thread makes
  // the spare and publishes it with spare_ready_; whoever opens the next
  // segment (under file_mu_) takes it.
  std::thread prep_thread_;
  std::mutex prep_mu_;
  std::condition_variable prep_cv_;
  bool prep_requested_ = false;         // guarded by prep_mu_
  std::atomic<bool> prep_stop_{false};
  std::atomic<bool> prep_busy_{false};  // requested and not finished
  std::atomic<bool> spare_ready_{false};
  // The last attempt failed or was not worth it: no new request until a
  // rotation (OpenSegment) clears it.
  std::atomic<bool> prep_blocked_{false};
  std::atomic<uint64_t> preallocated_{0};
  std::atomic<uint64_t> preallocated_used_{0};
  std::atomic<uint64_t> prealloc_failures_{0};

  // Failure bookkeeping, guarded by status_mu_ (taken after mu_, never before).
  mutable std::mutex status_mu_;
  Status last_error_;
  std::deque<std::pair<uint64_t, uint64_t>> failed_ranges_;
  std::atomic<bool> any_failed_{false};  // failed_ranges_ was ever non-empty
  std::atomic<bool> failing_{false};

  std::mutex wakers_mu_;
  std::vector<std::function<void()>> wakers_;

  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> groups_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<uint64_t> segment_count_{0};
  std::atomic<uint64_t> sync_ns_total_{0};
  std::atomic<uint64_t> sync_ns_max_{0};
  Histogram sync_hist_;  // RecordShared: an unlocked interval sync may overlap a rotation's
  uint64_t truncated_tails_ = 0;   // set by Open only
  uint64_t replayed_records_ = 0;  // set by Open only
};

}  // namespace strata
