// Wal: Strata's write-ahead log, the journal behind write-behind.
//
// Files. Segments named wal-<first seq, 20 digits>.log under `dir`, each a
// sequence of records (docs/wal_format.md has the bytes): length, CRC32C,
// sequence number, operation, expiry, key, value. A new segment starts when
// the current one passes segment_bytes. A small CHECKPOINT file (written
// atomically: temp file + rename + fsync of the directory) holds the highest
// sequence number every tier has confirmed; segments whose records are all
// at or below it are deleted.
//
// Group commit. Append() copies the record into the current group under a
// mutex and returns its sequence number at once; a dedicated writer thread
// takes whole groups, writes them with one write() and, by SyncMode:
//   kAlways    fdatasync after each group write; durable_seq() advances only
//              after the fdatasync (many appends share one fsync);
//   kInterval  fdatasync at most every sync_interval_ms; durable_seq()
//              advances after the write (the caller acknowledges then);
//   kNever     never fdatasync; durable_seq() advances after the write.
// After durable_seq() advances the writer calls every registered waker (from
// its own thread); a loop thread then reads durable_seq() and acknowledges
// its writes up to it.
//
// Failure. If a write or fdatasync fails (e.g. ENOSPC), the records of that
// group are not durable: failed_seq() advances to the group's last sequence
// number and last_error() says why; the file is truncated back to the last
// good record, so later groups follow valid data. Appends keep being tried:
// when space returns, durability resumes. A caller whose sequence number is
// <= failed_seq() and > durable_seq() at the time of failure must treat its
// write as failed.
//
// Preallocation (WalOptions::preallocate). Appending to a file makes every
// fdatasync commit the file's new size (a file-system journal write), which
// roughly doubles its cost on ext4. So a helper thread prepares the next
// segment ahead of time as a spare file of segment_bytes zeros, written and
// synced; a rotation renames it into place and overwrites it from the start,
// and a segment's fdatasyncs then flush data only. The unwritten rest of a
// segment is zeros, which replay reads as its clean end. A spare is made
// once the open segment has taken segment_bytes/16 (an idle WAL never makes
// one), only where it pays (not on tmpfs, not with less than twice
// segment_bytes free); while the open segment is a plain one, the next group
// starts in the spare as soon as it is ready. A segment is cut back to its
// records when it is closed. A failed preparation is counted, its file
// removed, and tried again after a rotation at the earliest.
//
// Backpressure. Bytes appended but not yet checkpointed are bounded by
// max_bytes: past it Append() returns Overloaded (code 7) naming wal.max_bytes.
//
// Replay. Open() reads every segment in order and hands each valid record
// with seq > checkpoint to `replay` (on the calling thread, before Open
// returns). A torn or corrupt tail (short record, bad length, CRC mismatch)
// ends replay of that segment: the segment is truncated at the last good
// record, the event is counted (stats().truncated_tails) and logged, and
// replay continues with the next segment only if it exists (a corrupt record
// in the middle of a segment is never skipped over: everything after it in
// that segment is dropped, which is what a torn write leaves).
//
// Thread affinity. Append, SetCheckpoint, durable_seq, failed_seq, stats and
// AddWaker are safe from any thread. The writer thread is internal.
// Ownership: the Wal owns its files and thread; the destructor writes and
// (kAlways/kInterval) syncs what was appended, then joins the thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/histogram.h"
#include "common/status.h"

namespace strata {

enum class WalOp : uint8_t { kSet = 1, kDelete = 2, kExpire = 3 };

struct WalRecord {
  uint64_t seq = 0;
  WalOp op = WalOp::kSet;
  int64_t expire_at_ms = 0;  // kSet: 0 = none; kExpire: the new absolute expiry
  std::string_view key;
  std::string_view value;    // kSet only
};

enum class WalSync : uint8_t { kAlways, kInterval, kNever };

// The file operations the WAL uses, so that tests can simulate power loss
// (drop unsynced bytes) and full disks. Default: POSIX.
class WalFileSystem {
 public:
  virtual ~WalFileSystem() = default;
  // Opens for append (creating it); returns an fd-like handle or error. If it
  // created the file, the file's existence is durable when this returns (the
  // POSIX version fsyncs the directory), so a Sync of the handle is enough to
  // make its bytes survive power loss.
  virtual StatusOr<int> OpenAppend(const std::string& path) = 0;
  virtual StatusOr<std::string> ReadAll(const std::string& path) = 0;
  virtual Status Write(int handle, std::string_view data) = 0;  // all or error
  virtual Status Sync(int handle) = 0;
  virtual Status Truncate(int handle, const std::string& path, uint64_t size) = 0;
  virtual Status Close(int handle) = 0;
  virtual Status Remove(const std::string& path) = 0;
  // Replaces `path` atomically with `data` (temp + rename + dir sync).
  virtual Status WriteFileAtomic(const std::string& path, std::string_view data) = 0;
  virtual StatusOr<std::vector<std::string>> List(const std::string& dir) = 0;  // names
  virtual Status MakeDirs(const std::string& dir) = 0;
  // Renames `from` to `to` (replacing it), durably (the directory is synced),
  // and opens `to` for writing from its first byte (overwriting, not
  // appending).
  virtual StatusOr<int> RenameAndOpen(const std::string& from, const std::string& to) = 0;
  // Whether preallocating `bytes` under `dir` is worth it: false where a
  // sync costs nothing (memory file systems) or free space is short.
  virtual bool WorthPreallocating(const std::string& dir, uint64_t bytes) = 0;
  static WalFileSystem* Posix();
};

struct WalOptions {
  std::string dir = "./data/wal";
  WalSync sync = WalSync::kInterval;
  int64_t sync_interval_ms = 10;
  uint64_t segment_bytes = 64ull << 20;
  uint64_t max_bytes = 1ull << 30;  // appended and not checkpointed
  WalFileSystem* fs = nullptr;      // nullptr = POSIX
  // kInterval / kNever: appenders call WriteOut() once per batch of appends
  // (e.g. at the end of an event-loop iteration) to write them on their own
  // thread, so the writer thread is not woken per group; it only syncs on
  // schedule, persists checkpoints, and writes what nobody wrote within
  // sync_interval_ms. Ignored with kAlways (the writer thread fsyncs).
  bool appender_writes = false;
  // Segments are preallocated spares (see the header comment).
  bool preallocate = true;
};

struct WalStats {
  uint64_t appended_records = 0;
  uint64_t appended_bytes = 0;
  uint64_t backlog_bytes = 0;      // appended, not yet checkpointed
  uint64_t syncs = 0;              // fdatasync calls
  uint64_t groups = 0;             // group writes
  uint64_t write_errors = 0;
  uint64_t truncated_tails = 0;    // at Open
  uint64_t replayed_records = 0;   // at Open
  uint64_t segments = 0;           // files now
  uint64_t checkpoint = 0;
  uint64_t sync_ns_total = 0;      // time spent in fdatasync
  uint64_t sync_ns_max = 0;
  HistogramData sync_latency;      // ns per fdatasync
  uint64_t preallocated = 0;       // spares made ready
  uint64_t preallocated_used = 0;  // segments started in a spare
  uint64_t prealloc_failures = 0;  // spares that could not be made
  uint64_t last_seq = 0;           // highest assigned
};

class Wal {
 public:
  using ReplayFn = std::function<void(const WalRecord&)>;

  // Creates dir if needed, replays what is after the checkpoint, starts the
  // writer thread. The first new record gets (last replayed or checkpoint)+1.
  static StatusOr<std::unique_ptr<Wal>> Open(const WalOptions& options, const ReplayFn& replay);
  ~Wal();

  // Assigns the next sequence number (written into *seq) and queues the
  // record. record.seq is ignored. Overloaded past max_bytes; the error of
  // the last failed write if the WAL is failing and the group buffer is full.
  Status Append(const WalRecord& record, uint64_t* seq);

  // Every record <= seq is confirmed by every tier: segments wholly at or
  // below it may be deleted. Monotonic; lower values are ignored. The writer
  // thread persists it (CHECKPOINT: write + fdatasync + rename + directory
  // fsync), so a caller should not call it per small batch: see Release.
  // The caller must have made the records <= seq durable in the tiers below
  // first (a persisted checkpoint is never replayed again).
  void SetCheckpoint(uint64_t seq);

  // Every record <= seq reached every tier, but perhaps not durably yet: its
  // bytes stop counting against max_bytes at once. Nothing is written; a
  // later SetCheckpoint persists the checkpoint. Monotonic; cheap.
  void Release(uint64_t seq);

  uint64_t durable_seq() const { return durable_seq_.load(std::memory_order_acquire); }
  uint64_t failed_seq() const { return failed_seq_.load(std::memory_order_acquire); }
  Status last_error() const;
  uint64_t last_seq() const;  // highest assigned
  WalStats stats() const;

  // `wake` is called from the writer thread whenever durable_seq() or
  // failed_seq() advanced. Register before appending.
  void AddWaker(std::function<void()> wake);

  // The fate of one sequence number. The two watermarks alone cannot say it
  // once a failed group is followed by a good one (durable_seq() passes the
  // failed records), so the Wal remembers failed ranges (the newest 1024
  // after merging neighbours). A waker's reader should ask this for its seqs.
  enum class SeqState { kPending, kDurable, kFailed };
  SeqState StateOf(uint64_t seq) const;

  // Blocks until every record appended before the call is written and
  // fdatasynced (in every mode) and the latest checkpoint is persisted with
  // its segments deleted. Ok if the newest of those records is durable and
  // nothing failed meanwhile, else last_error() (older failures: StateOf).
  // For tests, tools and shutdown; never call it from a waker.
  Status Flush();

  // With appender_writes (kInterval / kNever): writes every record appended
  // so far to the file on the calling thread, one write() for all of them,
  // unless another thread is writing the file right now. Returns true if
  // every record appended before the call is written (or failed: StateOf
  // says which) when it returns; false if the writer thread was busy (it
  // syncs or persists a checkpoint) and has been asked to write them: the
  // wakers are called when it has. Waits for another thread's write() of a
  // group, not for the writer thread's fsyncs (except, rarely, one that
  // starts in the instant between the check and the wait). Any thread.
  bool WriteOut();

 private:
  class Impl;
  explicit Wal(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::atomic<uint64_t> durable_seq_{0};
  std::atomic<uint64_t> failed_seq_{0};
  friend class Impl;
};

}  // namespace strata
