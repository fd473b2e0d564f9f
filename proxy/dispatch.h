// Dispatcher: turns a parsed request into a chain call and a response.
//
// It validates parameters (arity, types, options, size limits) and encodes
// every response with RpcWriter onto a ResponseSink, which is the
// connection's output buffer. A response may be written inline (L1 answers
// at once) or later on the same loop thread (a lower tier answering); the
// sink is held (Hold/Release) while an answer is outstanding so that a
// connection that closes meanwhile is not freed under the callback.
//
// Thread affinity: one Dispatcher per loop thread; it is called only there.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "proxy/journal_writer.h"
#include "proxy/policy.h"
#include "proxy/rpc_request.h"
#include "tiers/chain.h"

namespace strata {

// Counters a loop thread keeps for itself; summed by `stats`. Written by one
// thread, read by any (relaxed atomics, no read-modify-write).
// The methods of PROTOCOL.md, for counting; kOther: unknown or unparsable.
enum class Method : uint8_t {
  kGet, kSet, kMGet, kMSet, kDel, kTtl, kExpire, kExists, kPing, kStats, kOther,
};
inline constexpr size_t kMethodCount = size_t(Method::kOther) + 1;
std::string_view MethodName(Method m);
inline constexpr size_t kCodeCount = size_t(Code::kInternal) + 1;

struct DispatchCounters {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> errors{0};
  std::array<std::atomic<uint64_t>, kMethodCount> method_requests{};
  std::array<std::atomic<uint64_t>, kMethodCount> method_errors{};
  std::array<std::atomic<uint64_t>, kCodeCount> code_errors{};  // by Code
  // Loop thread only: the request being dispatched (errors answered while
  // it is are counted under it).
  Method current = Method::kOther;
  void Bump(std::atomic<uint64_t>& c) { c.store(c.load(std::memory_order_relaxed) + 1,
                                                std::memory_order_relaxed); }
  void CountError(Method m, Code code) {
    Bump(errors);
    Bump(method_errors[size_t(m)]);
    Bump(code_errors[size_t(code) < kCodeCount ? size_t(code) : size_t(Code::kInternal)]);
  }
};

class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // The buffer responses are appended to. REQUIRES: alive()
  virtual std::string* output() = 0;
  virtual bool alive() const = 0;
  // Hold before starting work whose answer may come later; Release after
  // writing it (the sink then flushes, or frees itself if it closed).
  virtual void Hold() = 0;
  virtual void Release() = 0;

  // Where errors answered on this sink are counted (set by the Dispatcher).
  DispatchCounters* counters = nullptr;
};

struct RequestLimits {
  uint64_t max_key_bytes = 16 << 10;
  uint64_t max_value_bytes = 16 << 20;
  uint64_t max_batch_keys = 10000;
};

// Produces the `stats` map (name, value) at the moment of the call.
using StatsProvider = std::function<std::vector<std::pair<std::string, double>>()>;

class Dispatcher {
 public:
  // Every key uses `chain` (no policies) until SetPolicies(). `chain` may be
  // null if SetPolicies() comes before the first request.
  Dispatcher(Chain* chain, const RequestLimits& limits, StatsProvider stats, Clock* clock);

  // Per-key policies (borrowed; must outlive the dispatcher or be replaced).
  void SetPolicies(const PolicyTable* policies) { policies_ = policies; }
  // Write-behind for policies with `journal` (borrowed; null = none).
  void SetJournal(JournalWriter* journal) { journal_ = journal; }

  void Handle(const RpcRequest& request, ResponseSink* sink);
  // A complete message that is not a valid request: counted as a request
  // and an error, answered with `status` (BAD_REQUEST) under `msgid`.
  void HandleInvalid(uint32_t msgid, const Status& status, ResponseSink* sink);
  // Writes an error response (also for a request that could not be parsed)
  // and counts it. Static so that completion callbacks capture only
  // (sink, msgid), which fits std::function's inline storage: no allocation.
  static void Fail(uint32_t msgid, const Status& status, ResponseSink* sink);
  // The same from a completion callback, which runs after other requests may
  // have been dispatched: the method is named, not taken from `current`.
  static void Fail(uint32_t msgid, const Status& status, ResponseSink* sink, Method method);
  void Attach(ResponseSink* sink) { sink->counters = &counters_; }

  const DispatchCounters& counters() const { return counters_; }

 private:
  struct Call;
  void Ping(Call& c);
  void Get(Call& c);
  void Set(Call& c);
  void Del(Call& c);
  void MGet(Call& c);
  void MSet(Call& c);
  void Ttl(Call& c);
  void Expire(Call& c);
  void Exists(Call& c);
  void Stats(Call& c);
  // One key's write, through the journal or the policy's chain.
  void SetKey(const Policy& policy, std::string_view key, std::string_view value,
              const WriteOptions& options, WriteMode mode, WriteCallback done);
  void DeleteKey(const Policy& policy, std::string_view key, WriteCallback done);
  void ExpireKey(const Policy& policy, std::string_view key, int64_t expire_at_ms,
                 WriteCallback done);

  PolicyTable own_policies_;  // the constructor's single chain
  const PolicyTable* policies_;
  JournalWriter* journal_ = nullptr;
  RequestLimits limits_;
  StatsProvider stats_;
  Clock* clock_;
  DispatchCounters counters_;
};

}  // namespace strata
