// Wal::Impl::Recover: Open's replay of the segments after the checkpoint,
// truncating a torn or corrupt tail (docs/wal_format.md).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "wal/wal_format.h"
#include "wal/wal_impl.h"

namespace strata {

namespace fmt = wal_format;
using wal_internal::Join;
using wal_internal::WithContext;

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
    // Empty or all zeros: created (or preallocated), never written; not damage.
    std::string why = fmt::AllZero(bytes) ? std::string() : fmt::CheckSegmentHeader(bytes);
    size_t good = 0;
    uint64_t seg_last = first - 1;
    if (why.empty() && !bytes.empty() && bytes[0] != 0) {
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
    if (!why.empty() || good < bytes.size()) {
      // Damage is counted and logged; a preallocated segment's unwritten
      // zeros (no `why`) are just cut off.
      if (!why.empty()) {
        ++truncated_tails_;
        LOG_WARN("wal: %s: %s at offset %zu; truncating %zu bytes and going on", path.c_str(),
                 why.c_str(), good, bytes.size() - good);
      }
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
  // Leftovers: an interrupted WriteFileAtomic; a spare (made again when needed).
  (void)fs_->Remove(Join(opt_.dir, std::string(fmt::kCheckpointName) + ".tmp"));
  (void)fs_->Remove(SparePath());

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

}  // namespace strata
