// L3Tier: the L3Store (RocksDB on local disk) seen through the Tier interface,
// for one loop thread.
//
// Reads. Get and Ttl first ask the store what it can answer from memory
// (memtable, block cache, pinned bloom filters: L3Store::TryGetCached); a hit
// or a certain miss is answered inline. Otherwise the lookup goes to the
// IoPool; the worker pushes the answer onto this tier's completion queue and
// wakes the loop with uv_async_send, and the loop runs the callback.
// Concurrent gets of one key that need I/O share one lookup. A write, delete
// or expire of the key issued meanwhile detaches the lookup: later gets start
// a new one, and the detached answer is delivered with fillable = false.
//
// Writes. Set / Delete / Expire (write-through and fills) always run on the
// pool and complete on the loop. nx/xx are applied atomically by the store.
// WriteOptions::fill_token is ignored (fills into L3 are unconditional); a
// negative write (an L1-only notion) is answered applied = false and writes
// nothing. A full pool queue fails the operation inline with OVERLOADED.
//
// Order on one loop. Writes of one key run one at a time in the order issued
// (the pool has several threads, which would otherwise reorder them), and a
// get or ttl issued while a write of its key is in flight waits for it, so a
// read issued after a write sees it. Different keys proceed independently.
//
// Thread affinity. Construct, call and destroy on the thread that runs `loop`;
// every callback fires exactly once on that thread, inline or from the loop.
// The tier must not be destroyed from inside one of its own callbacks.
//
// Ownership. Borrows `store` and `pool`; the pool must be destroyed (drained)
// before the store, and both must outlive every tier using them. The
// destructor answers operations still in flight with UNAVAILABLE (a write so
// answered may still be applied: it is already on the pool); their pool
// jobs finish later without touching the tier (they reach it only through a
// shared, mutex-guarded state that the destructor marks closed). The uv_async
// handle is freed in its close callback: run the loop once more after the
// destructor, before uv_loop_close().
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string_view>

#include "tiers/io_pool.h"
#include "tiers/rocksdb_store.h"
#include "tiers/tier.h"

namespace strata {

class L3Tier final : public Tier {
 public:
  // REQUIRES: called on the thread that runs `loop`.
  L3Tier(L3Store* store, IoPool* pool, uv_loop_t* loop);
  ~L3Tier() override;
  L3Tier(const L3Tier&) = delete;
  L3Tier& operator=(const L3Tier&) = delete;

  std::string_view name() const override { return "l3"; }
  void Get(std::string_view key, GetCallback done) override;
  void Set(std::string_view key, std::string_view value, const WriteOptions& options,
           WriteCallback done) override;
  void Delete(std::string_view key, WriteCallback done) override;
  void Expire(std::string_view key, int64_t expire_at_ms, WriteCallback done) override;
  void Ttl(std::string_view key, TtlCallback done) override;

  // Loop thread only: operations waiting for the pool.
  size_t in_flight() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata
