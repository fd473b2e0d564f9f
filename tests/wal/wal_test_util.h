// Helpers for the WAL tests: a temp directory, a record collector, and
// FaultFs, an in-memory WalFileSystem that keeps what was never synced apart
// so a test can "lose power" (RocksDB's FaultInjectionTestFS idea) or run out
// of space.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "wal/wal.h"

namespace strata::wal_test {

// A fresh directory under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = "/tmp/strata-wal-test-" + std::to_string(getpid()) + "-" +
            std::to_string(counter.fetch_add(1));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// An owned copy of a record, for comparing what went in with what came out.
struct Rec {
  uint64_t seq = 0;
  WalOp op = WalOp::kSet;
  int64_t expire_at_ms = 0;
  std::string key;
  std::string value;
  bool operator==(const Rec& o) const {
    return seq == o.seq && op == o.op && expire_at_ms == o.expire_at_ms && key == o.key &&
           value == o.value;
  }
  WalRecord View() const { return WalRecord{seq, op, expire_at_ms, key, value}; }
};

inline Wal::ReplayFn Collect(std::vector<Rec>* out) {
  return [out](const WalRecord& r) {
    out->push_back(Rec{r.seq, r.op, r.expire_at_ms, std::string(r.key), std::string(r.value)});
  };
}

// Record i of a deterministic stream: every op, binary keys and values.
inline Rec MakeRec(uint64_t i, size_t value_len = 0) {
  Rec r;
  r.op = static_cast<WalOp>(1 + i % 3);
  r.key = "k" + std::to_string(i);
  r.key.push_back('\0');
  r.key.push_back(static_cast<char>(0xff));
  if (r.op == WalOp::kSet) {
    size_t len = value_len != 0 ? value_len : (i * 37) % 300;
    r.value.resize(len);
    for (size_t j = 0; j < len; ++j) r.value[j] = static_cast<char>((i * 131 + j * 7) & 0xff);
    r.expire_at_ms = (i % 2) ? 0 : 1'700'000'000'000 + static_cast<int64_t>(i);
  } else if (r.op == WalOp::kExpire) {
    r.expire_at_ms = 1'800'000'000'000 + static_cast<int64_t>(i);
  }
  return r;
}

inline std::unique_ptr<Wal> OpenOrDie(const WalOptions& o, std::vector<Rec>* replayed) {
  StatusOr<std::unique_ptr<Wal>> w = Wal::Open(o, Collect(replayed));
  INFO("Wal::Open: " << w.status().ToString());
  REQUIRE(w.ok());
  return std::move(w).value();
}

// Appends r (seq filled in) and returns it.
inline Rec AppendOrDie(Wal* wal, Rec r) {
  Status s = wal->Append(r.View(), &r.seq);
  INFO("Append: " << s.ToString());
  REQUIRE(s.ok());
  return r;
}

// Polls `done` for up to 5 s.
template <typename F>
bool WaitFor(F done) {
  for (int i = 0; i < 5000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return done();
}

class FaultFs final : public WalFileSystem {
 public:
  // Writes past this many bytes (summed over all files) fail with ENOSPC
  // after writing what fits.
  void SetCapacity(uint64_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    capacity_ = bytes;
  }
  // Every sync sleeps this long (a slow disk).
  void SetSyncDelay(std::chrono::microseconds d) {
    std::lock_guard<std::mutex> lock(mu_);
    sync_delay_ = d;
  }
  // Whether WorthPreallocating says yes (default no: the byte counts of
  // most tests assume plain segments).
  void SetPreallocate(bool on) {
    std::lock_guard<std::mutex> lock(mu_);
    preallocate_ = on;
  }
  // Power loss: from now on every call fails, and each file holds only
  // what was synced (an unsynced overwrite reverts). Reboot() lets calls
  // through again.
  void Crash() {
    std::lock_guard<std::mutex> lock(mu_);
    crashed_ = true;
    for (auto& [path, f] : files_) f.data = f.durable;
  }
  // A file's bytes now (empty if none).
  std::string Contents(const std::string& path) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(path);
    return it == files_.end() ? std::string() : it->second.data;
  }
  void Reboot() {
    std::lock_guard<std::mutex> lock(mu_);
    crashed_ = false;
    handles_.clear();
  }
  uint64_t syncs() const {
    std::lock_guard<std::mutex> lock(mu_);
    return syncs_;
  }
  uint64_t UsedLocked() const {
    uint64_t used = 0;
    for (const auto& [path, f] : files_) used += f.data.size();
    return used;
  }

  StatusOr<int> OpenAppend(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (crashed_) return Crashed();
    files_[path];  // creation is durable, as the interface promises
    int h = next_handle_++;
    handles_[h] = Handle{path, true, 0};
    return h;
  }
  StatusOr<std::string> ReadAll(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (crashed_) return Crashed();
    auto it = files_.find(path);
    if (it == files_.end()) return Status::Unavailable("fake: no such file " + path);
    return it->second.data;
  }
  Status Write(int handle, std::string_view data) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (crashed_) return Crashed();
    File* f = FileOf(handle);
    if (f == nullptr) return Status::Internal("fake: bad handle");
    Handle& hd = handles_[handle];
    const uint64_t at = hd.append ? f->data.size() : hd.pos;
    // Only bytes past the end take space.
    const uint64_t grow = at + data.size() > f->data.size() ? at + data.size() - f->data.size() : 0;
    uint64_t used = UsedLocked();
    uint64_t room = capacity_ > used ? capacity_ - used : 0;
    Status s;
    if (grow > room) {
      data = data.substr(0, data.size() - (grow - room));
      s = Status::Unavailable("fake write: No space left on device (ENOSPC)");
    }
    if (f->data.size() < at + data.size()) f->data.resize(at + data.size());
    f->data.replace(at, data.size(), data);
    hd.pos = at + data.size();
    return s;
  }
  Status Sync(int handle) override {
    std::chrono::microseconds delay;
    {
      std::lock_guard<std::mutex> lock(mu_);
      delay = sync_delay_;
    }
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    std::lock_guard<std::mutex> lock(mu_);
    if (crashed_) return Crashed();
    File* f = FileOf(handle);
    if (f == nullptr) return Status::Internal("fake: bad handle");
    f->durable = f->data;
    ++syncs_;
    return Status::Ok();
  }
  Status Truncate(int handle, const std::string& path, uint64_t size) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (crashed_) return Crashed();
    File* f = FileOf(handle);
    if (f == nullptr) return Status::Internal("fake: bad handle");
    f->data.resize(std::min<uint64_t>(size, f->data.size()));
    f->durable.resize(std::min<uint64_t>(f->durable.size(), f->data.size()));
    return Status::Ok();
  }
  Status Close(int handle) override {
    std::lock_guard<std::mutex> lock(mu_);
    handles_.erase(handle);
    return Status::Ok();
  }
  Status Remove(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (crashed_) return Crashed();
    files_.erase(path);
    return Status::Ok();
  }
  Status WriteFileAtomic(const std::string& path, std::string_view data) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (crashed_) return Crashed();
    File& f = files_[path];
    f.data.assign(data);
    f.durable = f.data;
    return Status::Ok();
  }
  StatusOr<std::vector<std::string>> List(const std::string& dir) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (crashed_) return Crashed();
    std::vector<std::string> names;
    std::string prefix = dir + "/";
    for (const auto& [path, f] : files_) {
      if (path.rfind(prefix, 0) == 0) names.push_back(path.substr(prefix.size()));
    }
    return names;
  }
  Status MakeDirs(const std::string& dir) override { return Status::Ok(); }
  StatusOr<int> RenameAndOpen(const std::string& from, const std::string& to) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (crashed_) return Crashed();
    auto it = files_.find(from);
    if (it == files_.end()) return Status::Unavailable("fake: no such file " + from);
    File f = std::move(it->second);
    files_.erase(it);
    files_[to] = std::move(f);  // durable, as the interface promises
    int h = next_handle_++;
    handles_[h] = Handle{to, false, 0};
    return h;
  }
  bool WorthPreallocating(const std::string&, uint64_t) override {
    std::lock_guard<std::mutex> lock(mu_);
    return preallocate_;
  }

 private:
  struct File {
    std::string data;
    std::string durable;  // what survives Crash()
  };
  struct Handle {
    std::string path;
    bool append = true;
    uint64_t pos = 0;  // overwrite mode: where the next write goes
  };
  static Status Crashed() { return Status::Unavailable("fake: powered off"); }
  File* FileOf(int handle) {
    auto it = handles_.find(handle);
    if (it == handles_.end()) return nullptr;
    return &files_[it->second.path];
  }

  mutable std::mutex mu_;
  std::map<std::string, File> files_;
  std::map<int, Handle> handles_;
  int next_handle_ = 100;
  uint64_t capacity_ = UINT64_MAX;
  std::chrono::microseconds sync_delay_{0};
  bool crashed_ = false;
  bool preallocate_ = false;
  uint64_t syncs_ = 0;
};

}  // namespace strata::wal_test
