// L3Store over RocksDB 7.8.
//
// Layout. One column family. A value is an 8-byte little-endian absolute
// expiry (ms since the epoch, 0 = none) followed by the app's bytes. An entry
// whose expiry is <= the injected clock's now is absent to every read.
//
// Expired entries on disk. ExpiryFilter, a CompactionFilter that judges by
// the same injected clock, drops expired entries whenever RocksDB compacts the
// file that holds them. RocksDB turns a filter's "remove" into a tombstone
// that is itself only dropped where nothing older can lie below, so the filter
// never exposes an older version of the key.
//
// How max_bytes is kept (when it is not 0): FIFO compaction.
//   compaction_style = kCompactionStyleFIFO, with
//   compaction_options_fifo.max_table_files_size = max_bytes. Every file stays
//   in L0, ordered by age; after each flush, while the files' total size is
//   over the budget RocksDB deletes the *oldest file* whole. A newer version of
//   a key (including a delete's tombstone) is always in a newer file than any
//   older version, so dropping oldest-first can only remove old data first:
//   it never resurrects a deleted or overwritten key (dropping a file of a
//   higher level under level compaction could, which is why we do not trim
//   that way). What goes first is therefore "oldest written", not "least
//   recently read"; an entry that expired is invisible to reads at once and
//   leaves the disk with its file. allow_compaction = true merges runs of
//   small new files into bigger ones (intra-L0); those compactions run the
//   ExpiryFilter too, so expired entries in recent files go early (verified
//   by a test); files too big to be merged again are never rewritten, so their
//   expired entries wait for the file to age out (CompactAll() under FIFO
//   only runs what FIFO would pick; it does not rewrite every file). FIFO's
//   age-based deletion (ttl / periodic_compaction_seconds, 30 days by default)
//   is switched off: data leaves only for space or expiry.
//   Overshoot: the budget covers SST files; the memtables being filled (and
//   their WAL) come on top until flushed, so at rest disk use stays within
//   about max_bytes + 2 * write_buffer (the automatic write buffer is
//   max_bytes / 16). While writing flat out, flushes and deletions lag and an
//   intra-L0 merge's output (capped at max_bytes / 4 of input by
//   max_compaction_bytes) sits next to its inputs until it finishes: measured
//   peaks were max_bytes + 12..25% (tests/tiers/l3_store_test.cc). A merged
//   file is dropped whole, so at most a quarter of the budget leaves at once.
//   FIFO disables the L0 write-stall triggers, so many files never stall
//   writes; reads consult every file, guarded by the bloom filters and the
//   pinned L0 index/filter blocks.
// When max_bytes is 0: level compaction (unbounded), with the ExpiryFilter.
//
// Conditional writes. Put with nx/xx, Expire, Delete and Write read and then
// write under a striped mutex chosen by key hash, so that concurrent
// conditional writes of one key are correct within this process (another
// process never opens the DB: RocksDB's LOCK file forbids it).
//
// Durability. RocksDB's own WAL stays on (sync = false): write-through
// callers rely on L3 keeping what it acknowledged across a process crash
// (not a power loss: nothing is fsynced per write);
// write-behind's journal (wal/) stays the source of truth for its batches.
#include "tiers/rocksdb_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>

namespace strata {
namespace {

constexpr size_t kHeader = 8;
constexpr size_t kStripes = 64;

void PutHeader(std::string* out, int64_t expire_at_ms) {
  uint64_t v = static_cast<uint64_t>(expire_at_ms);
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void HeaderBytes(char out[kHeader], int64_t expire_at_ms) {
  uint64_t v = static_cast<uint64_t>(expire_at_ms);
  for (size_t i = 0; i < kHeader; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

std::string Encode(std::string_view value, int64_t expire_at_ms) {
  std::string out;
  out.reserve(kHeader + value.size());
  PutHeader(&out, expire_at_ms);
  out.append(value);
  return out;
}

// REQUIRES: data.size() >= kHeader.
int64_t DecodeExpiry(const char* data) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(data[i])} << (8 * i);
  return static_cast<int64_t>(v);
}

bool Expired(int64_t expire_at_ms, int64_t now) { return expire_at_ms != 0 && expire_at_ms <= now; }

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  std::string m = "l3: " + std::string(what) + ": " + s.ToString();
  if (s.IsIOError() && s.subcode() == rocksdb::Status::kNoSpace) return Status::Unavailable(m);
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) return Status::Unavailable(m);
  return Status::Internal(m);
}

class ExpiryFilter final : public rocksdb::CompactionFilter {
 public:
  ExpiryFilter(Clock* clock, std::atomic<uint64_t>* dropped) : clock_(clock), dropped_(dropped) {}
  bool Filter(int, const rocksdb::Slice&, const rocksdb::Slice& value, std::string*,
              bool*) const override {
    if (value.size() < kHeader) return false;  // not ours; never guess
    if (!Expired(DecodeExpiry(value.data()), clock_->NowMs())) return false;
    dropped_->fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  const char* Name() const override { return "strata.ExpiryFilter"; }

 private:
  Clock* clock_;
  std::atomic<uint64_t>* dropped_;
};

// Counts the bytes FIFO deletes to stay under max_bytes. The files still
// exist when the compaction begins, so their sizes can be read then.
class TrimListener final : public rocksdb::EventListener {
 public:
  explicit TrimListener(std::atomic<uint64_t>* trimmed) : trimmed_(trimmed) {}
  void OnCompactionBegin(rocksdb::DB*, const rocksdb::CompactionJobInfo& ci) override {
    if (ci.compaction_reason != rocksdb::CompactionReason::kFIFOMaxSize) return;
    uint64_t total = 0;
    for (const std::string& f : ci.input_files) {
      std::error_code ec;
      uintmax_t n = std::filesystem::file_size(f, ec);
      if (!ec) total += n;
    }
    trimmed_->fetch_add(total, std::memory_order_relaxed);
  }
  const char* Name() const override { return "strata.TrimListener"; }

 private:
  std::atomic<uint64_t>* trimmed_;
};

}  // namespace

class L3Store::Impl {
 public:
  L3Options o;
  Clock* clock = nullptr;
  std::unique_ptr<rocksdb::DB> db;
  std::unique_ptr<ExpiryFilter> filter;  // must outlive db
  std::array<std::mutex, kStripes> stripes;
  std::atomic<uint64_t> expired_dropped{0}, trimmed_bytes{0};
  std::atomic<uint64_t> cached_hits{0}, cached_misses{0}, io_reads{0};
  std::atomic<uint64_t> ingested_files{0}, ingested_entries{0};
  rocksdb::WriteOptions wo;  // sync = false, WAL on
  rocksdb::Options options;  // as opened: Ingest's SST files must match them
  std::string ingest_dir;    // <path>/ingest: files being built
  std::atomic<uint64_t> ingest_counter{0};

  ~Impl() {
    if (db) {
      rocksdb::Status s = db->Close();
      s.PermitUncheckedError();  // nothing useful to do with it at shutdown
    }
  }

  size_t StripeOf(std::string_view key) const {
    return std::hash<std::string_view>{}(key) % kStripes;
  }

  // Reads the live entry of `key` from anywhere (memtable, cache or disk).
  Status ReadLive(std::string_view key, L3Value* out, const rocksdb::ReadOptions& ro,
                  bool* incomplete = nullptr) {
    *out = L3Value{};
    rocksdb::PinnableSlice raw;
    rocksdb::Status s = db->Get(ro, db->DefaultColumnFamily(), ToSlice(key), &raw);
    if (s.IsNotFound()) return Status::Ok();
    if (s.IsIncomplete() && incomplete != nullptr) {
      *incomplete = true;
      return Status::Ok();
    }
    if (!s.ok()) return FromRocks(s, "get");
    if (raw.size() < kHeader) return Status::Internal("l3: corrupt value (short header)");
    int64_t exp = DecodeExpiry(raw.data());
    if (Expired(exp, clock->NowMs())) return Status::Ok();
    out->found = true;
    out->expire_at_ms = exp;
    out->value.assign(raw.data() + kHeader, raw.size() - kHeader);
    return Status::Ok();
  }

  Status ReadLive(std::string_view key, L3Value* out) {
    return ReadLive(key, out, rocksdb::ReadOptions());
  }

  // What the DB should hold for one key after a batch's writes of it.
  struct KeyEnd {
    bool put = false;  // else a delete
    std::string_view key;
    std::string_view value;  // put; valid during the emit call
    int64_t expire_at_ms = 0;
  };
  // A key's first 16 bytes as two big-endian words (zero-padded): comparing
  // them orders keys as memcmp does, except that ties need the whole keys.
  struct SortItem {
    uint64_t p0;
    uint64_t p1;
    uint32_t index;
    static SortItem Of(std::string_view key, uint32_t index) {
      unsigned char b[16] = {};
      std::memcpy(b, key.data(), std::min<size_t>(key.size(), sizeof(b)));
      SortItem it{0, 0, index};
      for (int i = 0; i < 8; ++i) it.p0 = (it.p0 << 8) | b[i];
      for (int i = 8; i < 16; ++i) it.p1 = (it.p1 << 8) | b[i];
      return it;
    }
  };
  // Folds a batch's writes per key, in key order (stable: a key's writes
  // keep theirs), and calls emit once per key that needs writing. An expire
  // applies to what the batch wrote before it, else to the DB's live entry
  // (read here); an expire of an absent or expired entry is a no-op, and
  // one in the past deletes. Returns the first error of a read or of emit.
  Status FoldByKey(const std::vector<L3Write>& batch,
                   const std::function<Status(const KeyEnd&)>& emit) {
    // Sorted by key, then by position (a key's writes stay in batch order).
    // Each element carries the key's first 16 bytes, so most comparisons
    // touch only this array, not the keys scattered over the heap.
    std::vector<SortItem> sort_buf(batch.size());
    for (uint32_t i = 0; i < batch.size(); ++i) sort_buf[i] = SortItem::Of(batch[i].key, i);
    std::sort(sort_buf.begin(), sort_buf.end(), [&batch](const SortItem& a, const SortItem& b) {
      if (a.p0 != b.p0) return a.p0 < b.p0;
      if (a.p1 != b.p1) return a.p1 < b.p1;
      if (batch[a.index].key != batch[b.index].key) return batch[a.index].key < batch[b.index].key;
      return a.index < b.index;
    });
    // Neighbours with different prefixes are different keys: no key read.
    auto same_key = [&](size_t i, size_t first) {
      return i == first ||
             (sort_buf[i].p0 == sort_buf[first].p0 && sort_buf[i].p1 == sort_buf[first].p1 &&
              batch[sort_buf[i].index].key == batch[sort_buf[first].index].key);
    };
    const int64_t now = clock->NowMs();
    std::string read_value;
    for (size_t i = 0; i < sort_buf.size();) {
      const size_t first = i;
      KeyEnd end;
      end.key = batch[sort_buf[i].index].key;
      bool write = false;  // whether the batch changes the key at all
      bool known = false;  // whether `end` reflects the DB's live entry
      for (; i < sort_buf.size() && same_key(i, first); ++i) {
        const L3Write& w = batch[sort_buf[i].index];
        if (w.kind == L3Write::Kind::kPut) {
          end = KeyEnd{true, end.key, w.value, w.expire_at_ms};
          write = known = true;
        } else if (w.kind == L3Write::Kind::kDelete) {
          end = KeyEnd{false, end.key, {}, 0};
          write = known = true;
        } else {
          if (!known) {
            L3Value cur;
            Status rs = ReadLive(end.key, &cur);
            if (!rs.ok()) return rs;
            known = true;
            if (cur.found) {
              read_value = std::move(cur.value);
              end = KeyEnd{true, end.key, read_value, cur.expire_at_ms};
            }
          }
          if (!end.put || Expired(end.expire_at_ms, now)) continue;  // absent: no-op
          write = true;
          if (Expired(w.expire_at_ms, now)) {
            end = KeyEnd{false, end.key, {}, 0};
          } else {
            end.expire_at_ms = w.expire_at_ms;
          }
        }
      }
      if (!write) continue;
      if (Status es = emit(end); !es.ok()) return es;
    }
    return Status::Ok();
  }

  Status Commit(rocksdb::WriteBatch* batch, std::string_view what) {
    rocksdb::WriteOptions o = wo;
    o.memtable_insert_hint_per_batch = batch->Count() > 1;
    rocksdb::Status s = db->Write(o, batch);
    return s.ok() ? Status::Ok() : FromRocks(s, what);
  }
};

L3Store::L3Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
L3Store::~L3Store() = default;

StatusOr<std::unique_ptr<L3Store>> L3Store::Open(const L3Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->o = options;
  impl->clock = options.clock != nullptr ? options.clock : SystemClock::Default();

  rocksdb::Options ro;
  ro.create_if_missing = true;
  if (options.compression == "lz4") {
    ro.compression = rocksdb::kLZ4Compression;
  } else if (options.compression == "zstd") {
    ro.compression = rocksdb::kZSTD;
  } else if (options.compression == "none") {
    ro.compression = rocksdb::kNoCompression;
  } else {
    return Status::BadArgs("l3.compression must be lz4, zstd or none, not '" + options.compression +
                           "'");
  }
  if (options.bloom_bits_per_key < 0) return Status::BadArgs("l3.bloom_bits_per_key must be >= 0");
  if (options.path.empty()) return Status::BadArgs("l3.path must not be empty");

  rocksdb::BlockBasedTableOptions t;
  t.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  if (options.bloom_bits_per_key > 0) {
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(options.bloom_bits_per_key, false));
  }
  t.cache_index_and_filter_blocks = true;
  // All files are L0 under FIFO: keep their index and filter in the cache so
  // TryGetCached can answer "absent" without I/O.
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  ro.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));

  impl->filter = std::make_unique<ExpiryFilter>(impl->clock, &impl->expired_dropped);
  ro.compaction_filter = impl->filter.get();
  ro.listeners.push_back(std::make_shared<TrimListener>(&impl->trimmed_bytes));
  ro.max_background_jobs = 2;

  uint64_t wb = options.write_buffer_bytes;
  if (options.max_bytes > 0) {
    if (wb == 0) wb = std::clamp<uint64_t>(options.max_bytes / 16, 256 << 10, 64 << 20);
    ro.compaction_style = rocksdb::kCompactionStyleFIFO;
    // One level: FIFO trims only L0, and an ingested file (L3Store::Ingest)
    // otherwise goes to the lowest level it does not overlap, beyond the
    // budget's reach.
    ro.num_levels = 1;
    ro.compaction_options_fifo.max_table_files_size = options.max_bytes;
    ro.compaction_options_fifo.allow_compaction = true;
    // Caps an intra-L0 merge's input: bounds both the transient overshoot (its
    // output exists next to its inputs until it ends) and how much is trimmed
    // at once when that merged file becomes the oldest.
    ro.max_compaction_bytes = std::max<uint64_t>(options.max_bytes / 4, 1);
    ro.ttl = 0;                          // no age-based file deletion ...
    ro.periodic_compaction_seconds = 0;  // ... (FIFO would default to 30 days)
  }
  if (wb != 0) {
    ro.write_buffer_size = wb;
    ro.target_file_size_base = wb;
  }

  std::error_code ec;
  std::filesystem::create_directories(options.path, ec);
  if (ec) return Status::Unavailable("l3.path '" + options.path + "': " + ec.message());

  // Ingest builds its files here; one left by a crash was never ingested.
  impl->ingest_dir = (std::filesystem::path(options.path) / "ingest").string();
  std::filesystem::remove_all(impl->ingest_dir, ec);
  std::filesystem::create_directories(impl->ingest_dir, ec);
  if (ec) return Status::Unavailable("l3.path '" + impl->ingest_dir + "': " + ec.message());

  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(ro, options.path, &db);
  if (!s.ok()) return FromRocks(s, "open '" + options.path + "'");
  impl->db.reset(db);
  impl->options = ro;
  return std::unique_ptr<L3Store>(new L3Store(std::move(impl)));
}

L3Store::Cached L3Store::TryGetCached(std::string_view key, L3Value* out) {
  rocksdb::ReadOptions ro;
  ro.read_tier = rocksdb::kBlockCacheTier;
  bool incomplete = false;
  Status s = impl_->ReadLive(key, out, ro, &incomplete);
  if (incomplete || !s.ok()) return Cached::kNeedsIo;  // a real error resurfaces in Get
  if (out->found) {
    impl_->cached_hits.fetch_add(1, std::memory_order_relaxed);
    return Cached::kHit;
  }
  impl_->cached_misses.fetch_add(1, std::memory_order_relaxed);
  return Cached::kMiss;
}

StatusOr<L3Value> L3Store::Get(std::string_view key) {
  impl_->io_reads.fetch_add(1, std::memory_order_relaxed);
  L3Value v;
  Status s = impl_->ReadLive(key, &v);
  if (!s.ok()) return s;
  return v;
}

Status L3Store::Write(const std::vector<L3Write>& batch) {
  // Lock every stripe the batch touches, in index order (no deadlock).
  std::vector<size_t> idx;
  idx.reserve(batch.size());
  for (const L3Write& w : batch) idx.push_back(impl_->StripeOf(w.key));
  std::sort(idx.begin(), idx.end());
  idx.erase(std::unique(idx.begin(), idx.end()), idx.end());
  std::vector<std::unique_lock<std::mutex>> locks;
  locks.reserve(idx.size());
  for (size_t i : idx) locks.emplace_back(impl_->stripes[i]);

  // Each key once, in key order, so that with memtable_insert_hint_per_batch
  // each memtable insert starts its skip-list search where the previous one
  // ended: a batch of random keys cost 2x more CPU in FindSpliceForLevel than
  // the same batch sorted.
  rocksdb::WriteBatch wb;
  Status fs = impl_->FoldByKey(batch, [&wb](const Impl::KeyEnd& end) {
    rocksdb::Status s;
    rocksdb::Slice key = ToSlice(end.key);
    if (end.put) {
      // Header and value as two parts: no encoded copy per put.
      char header[kHeader];
      HeaderBytes(header, end.expire_at_ms);
      rocksdb::Slice parts[2] = {rocksdb::Slice(header, kHeader), ToSlice(end.value)};
      s = wb.Put(rocksdb::SliceParts(&key, 1), rocksdb::SliceParts(parts, 2));
    } else {
      s = wb.Delete(key);
    }
    return s.ok() ? Status::Ok() : FromRocks(s, "batch");
  });
  if (!fs.ok()) return fs;
  return impl_->Commit(&wb, "write");
}

Status L3Store::Ingest(const std::vector<L3Write>& batch) {
  if (batch.empty()) return Status::Ok();
  // Every stripe: the expiries' read-modify-writes must not interleave with
  // single-key writes (write-through on the I/O threads).
  std::vector<std::unique_lock<std::mutex>> locks;
  locks.reserve(kStripes);
  for (std::mutex& m : impl_->stripes) locks.emplace_back(m);

  const std::string file = impl_->ingest_dir + "/" +
                           std::to_string(impl_->ingest_counter.fetch_add(1)) + ".sst";
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), impl_->options);
  bool opened = false;
  uint64_t entries = 0;
  std::string encoded;  // header + value of the entry being written
  Status fs = impl_->FoldByKey(batch, [&](const Impl::KeyEnd& end) {
    rocksdb::Status s;
    if (!opened) {
      s = writer.Open(file);
      if (!s.ok()) return FromRocks(s, "ingest");
      opened = true;
    }
    if (end.put) {
      encoded.resize(kHeader);
      HeaderBytes(encoded.data(), end.expire_at_ms);
      encoded.append(end.value);
      s = writer.Put(ToSlice(end.key), ToSlice(encoded));
    } else {
      s = writer.Delete(ToSlice(end.key));
    }
    ++entries;
    return s.ok() ? Status::Ok() : FromRocks(s, "ingest");
  });
  if (!fs.ok()) {
    std::error_code ec;
    std::filesystem::remove(file, ec);
    return fs;
  }
  if (!opened) return Status::Ok();  // nothing to write (expiries of absent keys)
  rocksdb::Status s = writer.Finish();
  if (s.ok()) {
    rocksdb::IngestExternalFileOptions io;
    io.move_files = true;  // a hard link, no copy
    // A file that overlaps nothing would get sequence number 0, and FIFO
    // (l3.max_bytes) would then trim it first, as the oldest. RocksDB gives
    // every file ingested while a snapshot exists a new, highest number
    // (snapshot_consistency): hold one just for the call.
    const rocksdb::Snapshot* snapshot = impl_->db->GetSnapshot();
    s = impl_->db->IngestExternalFile({file}, io);
    impl_->db->ReleaseSnapshot(snapshot);
  }
  std::error_code ec;
  std::filesystem::remove(file, ec);  // moved (ingested) or useless (failed)
  if (!s.ok()) return FromRocks(s, "ingest");
  impl_->ingested_files.fetch_add(1, std::memory_order_relaxed);
  impl_->ingested_entries.fetch_add(entries, std::memory_order_relaxed);
  return Status::Ok();
}

Status L3Store::Put(std::string_view key, std::string_view value, int64_t expire_at_ms,
                    bool if_absent, bool if_present, bool* applied) {
  assert(!(if_absent && if_present));
  *applied = false;
  std::lock_guard<std::mutex> lock(impl_->stripes[impl_->StripeOf(key)]);
  if (if_absent || if_present) {
    L3Value cur;
    Status s = impl_->ReadLive(key, &cur);
    if (!s.ok()) return s;
    if ((if_absent && cur.found) || (if_present && !cur.found)) return Status::Ok();
  }
  rocksdb::WriteBatch wb;
  rocksdb::Status rs = wb.Put(ToSlice(key), Encode(value, expire_at_ms));
  if (!rs.ok()) return FromRocks(rs, "put");
  Status s = impl_->Commit(&wb, "put");
  *applied = s.ok();
  return s;
}

Status L3Store::Delete(std::string_view key, bool* existed) {
  *existed = false;
  std::lock_guard<std::mutex> lock(impl_->stripes[impl_->StripeOf(key)]);
  L3Value cur;
  Status s = impl_->ReadLive(key, &cur);
  if (!s.ok()) return s;
  *existed = cur.found;
  // Delete even when it reads as absent: an expired entry leaves at once.
  rocksdb::WriteBatch wb;
  rocksdb::Status rs = wb.Delete(ToSlice(key));
  if (!rs.ok()) return FromRocks(rs, "delete");
  return impl_->Commit(&wb, "delete");
}

Status L3Store::Expire(std::string_view key, int64_t expire_at_ms, bool* existed) {
  *existed = false;
  std::lock_guard<std::mutex> lock(impl_->stripes[impl_->StripeOf(key)]);
  L3Value cur;
  Status s = impl_->ReadLive(key, &cur);
  if (!s.ok()) return s;
  if (!cur.found) return Status::Ok();
  *existed = true;
  rocksdb::WriteBatch wb;
  rocksdb::Status rs = Expired(expire_at_ms, impl_->clock->NowMs())
                           ? wb.Delete(ToSlice(key))
                           : wb.Put(ToSlice(key), Encode(cur.value, expire_at_ms));
  if (!rs.ok()) return FromRocks(rs, "expire");
  return impl_->Commit(&wb, "expire");
}

Status L3Store::SyncWal() {
  rocksdb::Status s = impl_->db->SyncWAL();
  return s.ok() ? Status::Ok() : FromRocks(s, "sync wal");
}

Status L3Store::Flush() {
  rocksdb::Status s = impl_->db->Flush(rocksdb::FlushOptions());
  return s.ok() ? Status::Ok() : FromRocks(s, "flush");
}

Status L3Store::CompactAll() {
  Status f = Flush();
  if (!f.ok()) return f;
  rocksdb::CompactRangeOptions cro;
  // Rewrite the bottommost files too, so the filter sees every entry.
  cro.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  rocksdb::Status s = impl_->db->CompactRange(cro, nullptr, nullptr);
  return s.ok() ? Status::Ok() : FromRocks(s, "compact");
}

Clock* L3Store::clock() const { return impl_->clock; }

uint64_t L3Store::disk_bytes() const {
  uint64_t sst = 0;
  if (!impl_->db->GetIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize, &sst)) sst = 0;
  // Live WAL files: RocksDB names them NNNNNN.log in the DB directory.
  uint64_t wal = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(impl_->o.path, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->path().extension() != ".log") continue;
    std::error_code fec;
    uintmax_t n = it->file_size(fec);
    if (!fec) wal += n;
  }
  return sst + wal;
}

L3Store::Stats L3Store::stats() const {
  Stats s;
  s.disk_bytes = disk_bytes();
  s.expired_dropped = impl_->expired_dropped.load(std::memory_order_relaxed);
  s.trimmed_bytes = impl_->trimmed_bytes.load(std::memory_order_relaxed);
  s.cached_hits = impl_->cached_hits.load(std::memory_order_relaxed);
  s.cached_misses = impl_->cached_misses.load(std::memory_order_relaxed);
  s.io_reads = impl_->io_reads.load(std::memory_order_relaxed);
  s.ingested_files = impl_->ingested_files.load(std::memory_order_relaxed);
  s.ingested_entries = impl_->ingested_entries.load(std::memory_order_relaxed);
  return s;
}

}  // namespace strata
