#include "tiers/l3_tier.h"

#include <cassert>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace strata {
namespace {

// What a pool job hands back to the loop.
struct OpResult {
  Status status;
  L3Value value;         // reads
  bool applied = false;  // writes
};

// The only thing pool jobs and the tier share. Jobs hold it by shared_ptr, so
// it outlives the tier; once `closed`, a finished job's result is dropped and
// `async` (freed by the loop after the tier's destructor) is never touched.
struct Shared {
  std::mutex mu;
  bool closed = false;
  uv_async_t* async = nullptr;
  std::vector<std::pair<uint64_t, OpResult>> done;

  bool Closed() {
    std::lock_guard<std::mutex> lock(mu);
    return closed;
  }
  // Pool thread: queue a result and wake the loop.
  void Post(uint64_t id, OpResult r) {
    std::lock_guard<std::mutex> lock(mu);
    if (closed) return;
    done.emplace_back(id, std::move(r));
    uv_async_send(async);  // under mu: the handle cannot be closed meanwhile
  }
};

int64_t TtlOf(const L3Value& v, int64_t now) {
  if (!v.found) return -2;
  if (v.expire_at_ms == 0) return -1;
  int64_t left = v.expire_at_ms - now;
  return left > 0 ? left : -2;
}

}  // namespace

class L3Tier::Impl {
 public:
  Impl(L3Store* store, IoPool* pool, uv_loop_t* loop)
      : store_(store), pool_(pool), shared_(std::make_shared<Shared>()) {
    async_ = new uv_async_t;
    int rc = uv_async_init(loop, async_, [](uv_async_t* h) {
      if (h->data != nullptr) static_cast<Impl*>(h->data)->Drain();
    });
    assert(rc == 0);
    (void)rc;
    async_->data = this;
    shared_->async = async_;
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->closed = true;
    }
    closing_ = true;
    async_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(async_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
    // Results that already arrived are delivered; the rest are answered now.
    Drain();
    auto ops = std::move(ops_);
    auto keys = std::move(keys_);
    ops_.clear();
    keys_.clear();
    lookups_.clear();
    OpResult down;
    down.status = Status::Unavailable("l3: shutting down");
    for (auto& [id, op] : ops) Finish(op, down);
    for (auto& [key, st] : keys) {
      for (auto& p : st.parked) p.second();  // closing_: answered UNAVAILABLE inline
    }
  }

  void Get(std::string_view key, GetCallback done) {
    std::string k(key);
    if (auto w = keys_.find(k); w != keys_.end() && !closing_) {  // after the writes before it
      KeyState& st = w->second;
      st.parked.emplace_back(
          st.issued, [this, k, done = std::move(done)]() mutable { DoGet(k, std::move(done)); });
      return;
    }
    DoGet(k, std::move(done));
  }

  void Ttl(std::string_view key, TtlCallback done) {
    std::string k(key);
    if (auto w = keys_.find(k); w != keys_.end() && !closing_) {
      KeyState& st = w->second;
      st.parked.emplace_back(
          st.issued, [this, k, done = std::move(done)]() mutable { DoTtl(k, std::move(done)); });
      return;
    }
    DoTtl(k, std::move(done));
  }

  void DoGet(const std::string& k, GetCallback done) {
    if (closing_) return FailGet(done, Status::Unavailable("l3: shutting down"));
    // With writes of the key still in flight (issued after this get), the
    // answer may predate them: return it, but it is not fillable.
    const bool writes_pending = keys_.count(k) != 0;
    std::string_view key = k;
    auto it = lookups_.find(k);
    if (it != lookups_.end()) {  // share the lookup in flight
      ops_.at(it->second).gets.push_back(std::move(done));
      return;
    }
    L3Value v;
    switch (store_->TryGetCached(key, &v)) {
      case L3Store::Cached::kHit:
      case L3Store::Cached::kMiss: {
        GetResult r;
        r.found = v.found;
        r.value = v.value;
        r.expire_at_ms = v.expire_at_ms;
        r.fillable = !writes_pending;
        done(r);
        return;
      }
      case L3Store::Cached::kNeedsIo: break;
    }
    uint64_t id = next_id_++;
    if (!SubmitRead(id, key)) return FailGet(done, Overloaded());
    Op op;
    op.kind = Op::kGet;
    op.key = k;
    op.gets.push_back(std::move(done));
    op.detached = writes_pending;
    ops_.emplace(id, std::move(op));
    if (!writes_pending) lookups_.emplace(k, id);
  }

  void DoTtl(const std::string& k, TtlCallback done) {
    if (closing_) return done(TtlResult{Status::Unavailable("l3: shutting down"), -2});
    std::string_view key = k;
    L3Value v;
    if (store_->TryGetCached(key, &v) != L3Store::Cached::kNeedsIo) {
      return done(TtlResult{Status::Ok(), TtlOf(v, store_->clock()->NowMs())});
    }
    uint64_t id = next_id_++;
    if (!SubmitRead(id, key)) return done(TtlResult{Overloaded(), -2});
    Op op;
    op.kind = Op::kTtl;
    op.ttl = std::move(done);
    ops_.emplace(id, std::move(op));
  }

  void Set(std::string_view key, std::string_view value, const WriteOptions& o,
           WriteCallback done) {
    if (o.negative) return done(WriteResult{Status::Ok(), false});  // L1-only notion
    bool nx = o.condition == WriteCondition::kIfAbsent;
    bool xx = o.condition == WriteCondition::kIfPresent;
    SubmitWrite(key, std::move(done),
                [v = std::string(value), exp = o.expire_at_ms, nx, xx](
                    L3Store* s, const std::string& k, OpResult* r) {
                  r->status = s->Put(k, v, exp, nx, xx, &r->applied);
                });
  }

  void Delete(std::string_view key, WriteCallback done) {
    SubmitWrite(key, std::move(done), [](L3Store* s, const std::string& k, OpResult* r) {
      r->status = s->Delete(k, &r->applied);
    });
  }

  void Expire(std::string_view key, int64_t expire_at_ms, WriteCallback done) {
    assert(expire_at_ms != 0);
    SubmitWrite(key, std::move(done),
                [expire_at_ms](L3Store* s, const std::string& k, OpResult* r) {
                  r->status = s->Expire(k, expire_at_ms, &r->applied);
                });
  }

  size_t in_flight() const { return ops_.size(); }

 private:
  using WriteFn = std::function<void(L3Store*, const std::string&, OpResult*)>;

  struct Op {
    enum Kind : uint8_t { kGet, kTtl, kWrite } kind = kGet;
    std::vector<GetCallback> gets;  // kGet: every waiter of the shared lookup
    TtlCallback ttl;
    WriteCallback write;
    WriteFn fn;             // kWrite: the store call, kept until it is submitted
    std::string key;        // kGet: its entry in lookups_ (unless detached); kWrite: keys_
    bool detached = false;  // kGet: a write of the key was issued meanwhile
  };

  // Writes of one key run one at a time, in the order issued (two pool
  // threads could otherwise apply them out of order), and reads issued after
  // a write wait for it (read-your-writes on this loop).
  struct KeyState {
    std::deque<uint64_t> writes;         // front: submitted; the rest wait their turn
    uint64_t issued = 0, completed = 0;  // writes of the key so far
    // Gets/ttls waiting until `completed` reaches the count of writes issued
    // before them (a later write does not hold them back), in issue order.
    std::deque<std::pair<uint64_t, std::function<void()>>> parked;
  };

  static Status Overloaded() { return Status::Overloaded("l3: I/O queue full"); }
  static void FailGet(const GetCallback& done, Status s) {
    GetResult r;
    r.status = std::move(s);
    done(r);
  }

  bool SubmitRead(uint64_t id, std::string_view key) {
    return pool_->Submit([shared = shared_, store = store_, id, k = std::string(key)] {
      if (shared->Closed()) return;  // nobody is waiting any more
      OpResult r;
      auto v = store->Get(k);
      if (v.ok()) {
        r.value = std::move(v.value());
      } else {
        r.status = v.status();
      }
      shared->Post(id, std::move(r));
    });
  }

  bool SubmitWriteJob(uint64_t id, const std::string& key, WriteFn fn) {
    return pool_->Submit([shared = shared_, store = store_, id, k = key, fn = std::move(fn)] {
      // Writes run even if the tier has gone: the caller may already rely on
      // them (write-through), and the store outlives the pool.
      OpResult r;
      fn(store, k, &r);
      shared->Post(id, std::move(r));
    });
  }

  void SubmitWrite(std::string_view key, WriteCallback done, WriteFn fn) {
    if (closing_) return done(WriteResult{Status::Unavailable("l3: shutting down"), false});
    std::string k(key);
    // A lookup issued before this write may answer with the old value: later
    // gets must not join it, and its answer must not be filled upwards.
    auto it = lookups_.find(k);
    if (it != lookups_.end()) {
      ops_.at(it->second).detached = true;
      lookups_.erase(it);
    }
    uint64_t id = next_id_++;
    auto ks = keys_.find(k);
    bool queued = ks != keys_.end();
    if (!queued && !SubmitWriteJob(id, k, fn)) return done(WriteResult{Overloaded(), false});
    Op op;
    op.kind = Op::kWrite;
    op.write = std::move(done);
    op.key = k;
    if (queued) op.fn = std::move(fn);
    ops_.emplace(id, std::move(op));
    KeyState& st = keys_[k];
    st.writes.push_back(id);
    st.issued++;
  }

  // A write of `key` finished: start the next one and release the reads that
  // waited for it. Returns what to run after the write's own callback (user
  // callbacks never run while this walks keys_).
  std::vector<std::function<void()>> NextWrite(const std::string& key) {
    auto ks = keys_.find(key);
    assert(ks != keys_.end());
    KeyState& st = ks->second;
    st.writes.pop_front();
    st.completed++;
    std::vector<std::function<void()>> ready;
    while (!st.writes.empty() && !closing_) {
      auto op = ops_.find(st.writes.front());
      assert(op != ops_.end());
      if (SubmitWriteJob(op->first, key, std::move(op->second.fn))) break;
      // Queue full: fail it (after the caller's callback), try the next.
      ready.push_back([write = std::move(op->second.write)] {
        write(WriteResult{Overloaded(), false});
      });
      ops_.erase(op);
      st.writes.pop_front();
      st.completed++;
    }
    while (!st.parked.empty() && st.parked.front().first <= st.completed) {
      ready.push_back(std::move(st.parked.front().second));
      st.parked.pop_front();
    }
    if (st.writes.empty()) {
      assert(st.parked.empty());
      keys_.erase(ks);
    }
    return ready;
  }

  // Loop thread: run the callbacks of every result that arrived.
  void Drain() {
    std::vector<std::pair<uint64_t, OpResult>> done;
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      done.swap(shared_->done);
    }
    for (auto& [id, result] : done) {
      auto it = ops_.find(id);
      if (it == ops_.end()) continue;  // impossible: every id is answered once
      Op op = std::move(it->second);
      ops_.erase(it);
      std::vector<std::function<void()>> reissue;
      if (op.kind == Op::kGet && !op.detached) {
        auto l = lookups_.find(op.key);
        if (l != lookups_.end() && l->second == id) lookups_.erase(l);
      } else if (op.kind == Op::kWrite) {
        reissue = NextWrite(op.key);
      }
      Finish(op, result);
      for (auto& fn : reissue) fn();
    }
  }

  void Finish(Op& op, const OpResult& r) {
    switch (op.kind) {
      case Op::kGet: {
        GetResult g;
        g.status = r.status;
        g.found = r.status.ok() && r.value.found;
        if (g.found) {
          g.value = r.value.value;  // r outlives the callbacks
          g.expire_at_ms = r.value.expire_at_ms;
        }
        g.fillable = !op.detached;
        for (GetCallback& cb : op.gets) cb(g);
        break;
      }
      case Op::kTtl: {
        TtlResult t;
        t.status = r.status;
        if (r.status.ok()) t.ttl_ms = TtlOf(r.value, store_->clock()->NowMs());
        op.ttl(t);
        break;
      }
      case Op::kWrite: op.write(WriteResult{r.status, r.status.ok() && r.applied}); break;
    }
  }

  L3Store* store_;
  IoPool* pool_;
  std::shared_ptr<Shared> shared_;
  uv_async_t* async_;  // freed in its close callback
  bool closing_ = false;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Op> ops_;
  std::unordered_map<std::string, uint64_t> lookups_;  // key → kGet op in flight
  std::unordered_map<std::string, KeyState> keys_;     // keys with writes in flight
};

L3Tier::L3Tier(L3Store* store, IoPool* pool, uv_loop_t* loop)
    : impl_(std::make_unique<Impl>(store, pool, loop)) {}
L3Tier::~L3Tier() = default;

void L3Tier::Get(std::string_view key, GetCallback done) { impl_->Get(key, std::move(done)); }
void L3Tier::Set(std::string_view key, std::string_view value, const WriteOptions& options,
                 WriteCallback done) {
  impl_->Set(key, value, options, std::move(done));
}
void L3Tier::Delete(std::string_view key, WriteCallback done) {
  impl_->Delete(key, std::move(done));
}
void L3Tier::Expire(std::string_view key, int64_t expire_at_ms, WriteCallback done) {
  impl_->Expire(key, expire_at_ms, std::move(done));
}
void L3Tier::Ttl(std::string_view key, TtlCallback done) { impl_->Ttl(key, std::move(done)); }
size_t L3Tier::in_flight() const { return impl_->in_flight(); }

}  // namespace strata
