// L3Store: the RocksDB database behind L3, shared by every loop.
//
// Values are stored as an 8-byte little-endian header holding the absolute
// expiry (ms since the epoch, 0 = none) followed by the app's bytes. Reads
// treat an expired entry as absent; a compaction filter drops expired
// entries when RocksDB compacts. max_bytes bounds the disk used (see the
// .cc file's comment for how, and what is dropped first).
//
// Blocking. Get/Write/Expire may do disk I/O and must not run on a loop
// thread; TryGetCached never does I/O (ReadOptions::read_tier =
// kBlockCacheTier) and is the only call a loop thread makes directly.
//
// Thread affinity: every method is safe from any thread.
// Ownership: owns the rocksdb::DB; the only file pair that includes RocksDB
// headers (l3_tier.* reach RocksDB only through this class).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace strata {

struct L3Options {
  std::string path = "./data/l3";
  uint64_t block_cache_bytes = 64ull << 20;
  std::string compression = "lz4";  // lz4 | zstd | none
  int bloom_bits_per_key = 10;      // 0 = no bloom filter
  uint64_t max_bytes = 0;           // disk budget; 0 = unbounded
  Clock* clock = nullptr;           // nullptr = SystemClock
  // Memtable size, which is also the size of a freshly flushed file; 0 =
  // automatic (64 MiB, or max_bytes / 16 clamped to [256 KiB, 64 MiB] when
  // max_bytes is set, so that the budget's overshoot stays small).
  uint64_t write_buffer_bytes = 0;
};

struct L3Value {
  bool found = false;
  std::string value;
  int64_t expire_at_ms = 0;
};

// One write of a batch from the write-behind drain.
struct L3Write {
  enum class Kind : uint8_t { kPut, kDelete, kExpire };
  Kind kind = Kind::kPut;
  // Borrowed: the bytes must stay valid for the Write call.
  std::string_view key;
  std::string_view value;    // kPut
  int64_t expire_at_ms = 0;  // kPut: 0 = none; kExpire: new expiry (<= now deletes)
};

class L3Store {
 public:
  static StatusOr<std::unique_ptr<L3Store>> Open(const L3Options& options);
  ~L3Store();

  enum class Cached : uint8_t { kHit, kMiss, kNeedsIo };
  // Memory-only read: kHit fills *out; kMiss = definitely absent (bloom
  // filter / memtable say so) or expired; kNeedsIo = ask Get on a thread.
  Cached TryGetCached(std::string_view key, L3Value* out);

  StatusOr<L3Value> Get(std::string_view key);
  // Applies the writes in order as one atomic WriteBatch. kExpire reads the
  // current value (absent: no-op).
  Status Write(const std::vector<L3Write>& batch);
  // The same result as Write, for a large batch (the write-behind drain's
  // staged writes): sorts them, folds each key's writes into one entry,
  // writes one SST file and ingests it, so no write pays a memtable insert
  // (a skip-list search with a cache miss per level) and the file is durable
  // when this returns. Atomic: all or nothing. Blocking.
  Status Ingest(const std::vector<L3Write>& batch);
  // Single-key helpers for write-through (on an I/O thread).
  // *existed: whether a live entry was there before.
  Status Put(std::string_view key, std::string_view value, int64_t expire_at_ms, bool if_absent,
             bool if_present, bool* applied);
  Status Delete(std::string_view key, bool* existed);
  Status Expire(std::string_view key, int64_t expire_at_ms, bool* existed);

  // Makes every write so far survive a power loss: fsyncs RocksDB's own WAL
  // (writes use sync = false). The write-behind drain calls it before it
  // persists the journal's checkpoint. Blocking.
  Status SyncWal();

  // Flushes the memtable to a file / compacts the whole key range (running
  // the compaction filter). Blocking; for tests and admin use.
  Status Flush();
  Status CompactAll();

  Clock* clock() const;  // the clock expiries are judged by

  uint64_t disk_bytes() const;  // SST + WAL files (approximate)
  struct Stats {
    uint64_t disk_bytes = 0;
    uint64_t expired_dropped = 0;  // by the compaction filter
    uint64_t trimmed_bytes = 0;    // dropped to stay under max_bytes
    uint64_t cached_hits = 0, cached_misses = 0, io_reads = 0;
    uint64_t ingested_files = 0, ingested_entries = 0;  // by Ingest
  };
  Stats stats() const;

 private:
  class Impl;
  explicit L3Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata
