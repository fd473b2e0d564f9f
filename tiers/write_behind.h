// WriteBehind: Strata's default write path. A write is applied to L1 and the
// pending map, appended to the WAL and acknowledged (per wal.sync); a drain
// thread then sends batches to L2 (pipelined SET PX / DEL / PEXPIRE through
// its own L2Tier) and stages their L3 part, which it writes to RocksDB as one
// SST file per stage (L3Store::Ingest; see l3_stage_bytes). It retries with
// backoff while a tier is down, and advances the WAL checkpoint when both
// have a record (the backlog per batch or stage; the persisted CHECKPOINT
// every checkpoint_interval_ms, after syncing L3's WAL).
//
// Order. Writes of one key take that key's pending-map shard lock across
// "check nx/xx, append to the WAL, record as pending, write L1", so the WAL,
// the pending map and L1 see them in the same order, whichever loop issued
// them; the drain queue is filled under the WAL append, so it is in sequence
// order, and the drain applies one batch at a time: two writes of one key
// are never reordered. Within a batch, repeated writes of a key coalesce
// into their net effect.
//
// Acknowledgement (Journal's result, then the caller waits per Ack):
//   kWritten    wal.sync = interval / never: ack once the record is in the
//               journal file (the kernel has it: a process crash loses
//               nothing). The loop that journaled it writes the file itself
//               at the end of its iteration (WriteOut), one write() for all
//               its writes, so no thread hand-off is on this path;
//   kDurable    wal.sync = always: ack when an fdatasync covers the record;
//   kConfirmed  write "through": ack when confirmed_seq() >= seq (every tier
//               below L1 has it).
// A write whose journal write failed (disk full) is withdrawn from L1, the
// pending map and the drain, and answered with the error (see ResolveFailed):
// the key reads as before that write (the newest earlier acknowledged write
// that is still unconfirmed, else whatever the tiers below hold). In every
// mode the drain takes only records the journal holds.
//
// Start and stop. Open() replays the WAL after its checkpoint into L1, the
// pending map and the drain queue, then starts the drain. Stop() lets the
// drain run until the queue is empty or the deadline passes; what is left
// stays in the WAL for the next start.
//
// Thread affinity: Journal, the seq getters and AddWaker from any thread;
// Open/Stop/destructor from the main thread. The drain thread is internal.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/histogram.h"
#include "common/status.h"
#include "tiers/l1_cache.h"
#include "tiers/l2_tier.h"
#include "tiers/pending_writes.h"
#include "tiers/record_reaper.h"
#include "tiers/rocksdb_store.h"
#include "wal/wal.h"

namespace strata {

// Which tiers a key's writes go to (from its policy).
enum TierMask : uint8_t { kTierL1 = 1, kTierL2 = 2, kTierL3 = 4 };

struct WriteBehindOptions {
  WalOptions wal;
  L1Cache* l1 = nullptr;                 // borrowed
  PendingWrites* pending = nullptr;      // borrowed
  L3Store* l3 = nullptr;                 // borrowed; nullptr = no L3
  bool l2 = false;                       // build an L2Tier on the drain loop
  L2Options l2_options;                  // when l2
  // The tiers a key uses; default: every configured one.
  std::function<uint8_t(std::string_view key)> tiers_for_key;
  size_t batch_records = 4096;
  uint64_t batch_bytes = 8ull << 20;
  // How often the drain persists the WAL checkpoint (after syncing L3's own
  // WAL, so that the checkpoint never claims more than L3 holds durably).
  // Each batch frees its wal.max_bytes share at once (Wal::Release); only the
  // CHECKPOINT file (three syncs) is rate-limited. Replaying records that
  // were drained after the last persisted checkpoint is harmless.
  int64_t checkpoint_interval_ms = 200;
  // Batching: a drain pass that finds fewer than drain_min_batch records
  // queued waits up to drain_linger_ms for more (per-batch costs, wake-ups
  // and the queue lock the loops also take, dominate small batches), unless
  // a "through" write is waiting for its confirmation. 0 = never wait.
  // At ~130k SETs/s, 1024 / 5 ms instead of 64 / 1 ms took the drain from
  // 23-27% to 18-23% of a core and cut the loop's futex calls by 60-75%
  // (bench/README.md, session 6).
  size_t drain_min_batch = 1024;
  int64_t drain_linger_ms = 5;
  // The drain thread runs this much nicer than the loops (0 = as nice as
  // they are): it is not on any request's path, and on a sidecar's few cores
  // it should yield to the loops (and to the application). It catches up in
  // bigger, cheaper batches; wal.max_bytes bounds how far it may fall behind.
  int drain_nice = 10;
  // L3 writes are staged: the L3 part of each batch L2 confirmed waits in
  // the drain until the stage holds l3_stage_bytes (at most a quarter of
  // wal.max_bytes) or is l3_stage_ms old, a "through" write waits for it, or
  // the drain stops; then it is written as one SST file (L3Store::Ingest),
  // without a memtable insert per write. Until then its keys stay in the
  // pending map (reads see them) and in the journal (the checkpoint follows
  // the ingest). 0 = write every batch with L3Store::Write instead.
  uint64_t l3_stage_bytes = 16ull << 20;
  int64_t l3_stage_ms = 1000;
  int64_t retry_base_ms = 50;
  int64_t retry_max_ms = 5000;
  Clock* clock = nullptr;  // nullptr = SystemClock
};

struct WriteBehindCounters {
  std::atomic<uint64_t> journaled{0};
  std::atomic<uint64_t> drained_records{0};   // records confirmed by every tier
  std::atomic<uint64_t> coalesced{0};         // records folded into a later one in a batch
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> batch_records_max{0};
  Histogram batch_records;  // records per drained batch (drain thread)
  std::atomic<uint64_t> retries{0};           // batches re-sent after a tier failed
  std::atomic<uint64_t> l2_failures{0};
  std::atomic<uint64_t> l3_failures{0};
  std::atomic<uint64_t> wal_failures{0};      // writes answered with a WAL error
  std::atomic<uint64_t> replayed{0};
  std::atomic<uint64_t> l3_ingests{0};        // staged batches written to L3 as one file
};

class WriteBehind {
 public:
  enum class Ack : uint8_t { kWritten, kDurable, kConfirmed };
  using Op = WriteRecord::Op;

  static StatusOr<std::unique_ptr<WriteBehind>> Open(WriteBehindOptions options);
  ~WriteBehind();

  struct Write {
    Op op = Op::kSet;
    std::string_view key;
    std::string_view value;   // kSet
    int64_t expire_at_ms = 0; // kSet: 0 = none; kExpire: new expiry (<= now deletes)
    WriteCondition condition = WriteCondition::kAlways;  // kSet only
    bool skip_l1 = false;     // write "around": drop the L1 copy instead
  };
  struct Journaled {
    Status status;         // !ok: nothing was written (e.g. OVERLOADED)
    bool applied = false;  // kSet: nx/xx met; kDelete/kExpire: the key existed
    uint64_t seq = 0;      // 0 when nothing was journaled (condition not met)
  };
  // The synchronous part of a write. The caller then acknowledges per
  // AckFor() once Satisfied(seq, ack) (or fails it if Failed(seq)).
  Journaled Journal(const Write& w);

  Ack AckFor(bool through) const;
  // wal.sync = interval / never: writes what this and other loops journaled
  // to the journal file now, on the calling thread (Wal::WriteOut). False if
  // the WAL writer thread was busy: it writes them and calls the wakers.
  bool WriteOut();
  bool appender_writes() const { return o_.wal.appender_writes && o_.wal.sync != WalSync::kAlways; }
  // A "through" write waits for `seq` (Ack::kConfirmed): the drain takes it
  // without lingering and writes its staged L3 writes as soon as they
  // include it. Any thread.
  void ConfirmSoon(uint64_t seq);
  bool Satisfied(uint64_t seq, Ack ack) const;
  // The WAL could not make `seq` durable: the write is lost; call
  // ResolveFailed(seq) (once) and answer with wal_error().
  bool Failed(uint64_t seq) const;
  void ResolveFailed(uint64_t seq);
  Status wal_error() const;

  uint64_t confirmed_seq() const { return confirmed_seq_.load(std::memory_order_acquire); }
  // Called (from the WAL or drain thread) when durable, failed or confirmed
  // sequence numbers advance. Register before traffic starts.
  void AddWaker(std::function<void()> wake);

  // Drain until empty or `deadline_ms` (absolute, clock time); then stop the
  // drain thread. Returns the number of records left in the WAL.
  uint64_t Stop(int64_t deadline_ms);

  const WriteBehindCounters& counters() const { return counters_; }
  WalStats wal_stats() const;
  uint64_t backlog_records() const;
  // Confirmed records whose memory the loops have yet to free (RecordReaper).
  size_t records_to_free() const { return reaper_.size(); }
  const L2Counters* drain_l2_counters() const { return &l2_counters_; }

 private:
  class Drain;
  explicit WriteBehind(WriteBehindOptions options);

  WriteBehindOptions o_;
  Clock* clock_;
  // Confirmed records, freed by the loops (Journal) a few per write; declared
  // before the drain so that it outlives it.
  RecordReaper reaper_;
  std::unique_ptr<Wal> wal_;
  std::unique_ptr<Drain> drain_;
  std::atomic<uint64_t> confirmed_seq_{0};
  WriteBehindCounters counters_;
  L2Counters l2_counters_;
  std::mutex wakers_mu_;
  std::vector<std::function<void()>> wakers_;
  void Wake();
};

}  // namespace strata
