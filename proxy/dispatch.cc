#include "proxy/dispatch.h"

#include <cmath>
#include <memory>
#include <optional>

#include "proxy/rpc_writer.h"

namespace strata {
namespace {

constexpr int64_t kMaxTtlMs = 315'360'000'000;  // ten years (PROTOCOL.md, Fine print)

struct SetOptions {
  WriteOptions write;
  WriteMode mode = WriteMode::kDefault;
  bool nx = false;
  bool xx = false;
};

std::string Num(uint64_t v) { return std::to_string(v); }

}  // namespace

struct Dispatcher::Call {
  uint32_t msgid;
  uint32_t n;  // parameter count
  MsgpackCursor p;
  ResponseSink* sink;
};

namespace {
Policy FallbackPolicy(Chain* chain) {
  Policy p;
  p.chain = chain;
  return p;
}
}  // namespace

Dispatcher::Dispatcher(Chain* chain, const RequestLimits& limits, StatsProvider stats,
                       Clock* clock)
    : own_policies_(FallbackPolicy(chain), {}),
      policies_(&own_policies_),
      limits_(limits),
      stats_(std::move(stats)),
      clock_(clock != nullptr ? clock : SystemClock::Default()) {}

std::string_view MethodName(Method m) {
  static constexpr std::string_view kNames[kMethodCount] = {
      "get", "set", "mget", "mset", "del", "ttl", "expire", "exists", "ping", "stats", "other"};
  return kNames[size_t(m)];
}

void Dispatcher::Fail(uint32_t msgid, const Status& status, ResponseSink* sink) {
  Fail(msgid, status, sink, sink->counters != nullptr ? sink->counters->current : Method::kOther);
}

void Dispatcher::Fail(uint32_t msgid, const Status& status, ResponseSink* sink, Method method) {
  if (sink->counters != nullptr) sink->counters->CountError(method, status.code());
  RpcWriter(sink->output()).Error(msgid, status);
}

namespace {

// Reads a key (bin or str) and checks it against max_key_bytes.
Status ReadKey(MsgpackCursor& p, const RequestLimits& limits, std::string_view* key) {
  if (!p.ReadBytes(key)) return Status::BadArgs("a key must be bin or str");
  if (key->size() > limits.max_key_bytes) {
    return Status::TooLarge("key of " + Num(key->size()) + " bytes exceeds max_key_bytes " +
                            Num(limits.max_key_bytes));
  }
  return Status::Ok();
}

Status ReadValue(MsgpackCursor& p, const RequestLimits& limits, std::string_view* value) {
  if (!p.ReadBytes(value)) return Status::BadArgs("a value must be bin or str");
  if (value->size() > limits.max_value_bytes) {
    return Status::TooLarge("value of " + Num(value->size()) + " bytes exceeds max_value_bytes " +
                            Num(limits.max_value_bytes));
  }
  return Status::Ok();
}

Status CheckBatch(uint64_t keys, const RequestLimits& limits) {
  if (keys > limits.max_batch_keys) {
    return Status::TooLarge("batch of " + Num(keys) + " keys exceeds max_batch_keys " +
                            Num(limits.max_batch_keys));
  }
  return Status::Ok();
}

// Parses an opts map (or nil). `allow_conditions` is false for mset.
Status ReadOptions(MsgpackCursor& p, bool allow_conditions, int64_t now_ms, SetOptions* out) {
  if (p.ReadNil()) return Status::Ok();
  uint32_t n = 0;
  if (!p.ReadMapHeader(&n)) return Status::BadArgs("opts must be a map");
  const char* allowed = allow_conditions ? "ttl_ms, nx, xx, write" : "ttl_ms, write";
  for (uint32_t i = 0; i < n; ++i) {
    std::string_view name;
    if (!p.ReadStr(&name)) return Status::BadArgs("option names must be str");
    if (name == "ttl_ms") {
      int64_t ttl = 0;
      if (!p.ReadInt(&ttl) || ttl < 1 || ttl > kMaxTtlMs) {
        return Status::BadArgs("ttl_ms must be an integer from 1 to " + Num(kMaxTtlMs));
      }
      out->write.expire_at_ms = now_ms + ttl;
    } else if (allow_conditions && (name == "nx" || name == "xx")) {
      bool b = false;
      if (!p.ReadBool(&b)) return Status::BadArgs(std::string(name) + " must be a bool");
      (name == "nx" ? out->nx : out->xx) = b;
    } else if (name == "write") {
      std::string_view w;
      if (!p.ReadStr(&w)) return Status::BadArgs("write must be a str");
      if (w == "behind") out->mode = WriteMode::kBehind;
      else if (w == "through") out->mode = WriteMode::kThrough;
      else if (w == "around") out->mode = WriteMode::kAround;
      else return Status::BadArgs("write must be one of behind, through, around");
    } else {
      return Status::BadArgs("unknown option \"" + std::string(name) + "\" (allowed: " +
                             allowed + ")");
    }
  }
  if (out->nx && out->xx) return Status::BadArgs("nx and xx cannot both be set");
  out->write.condition = out->nx   ? WriteCondition::kIfAbsent
                         : out->xx ? WriteCondition::kIfPresent
                                   : WriteCondition::kAlways;
  return Status::Ok();
}

}  // namespace

void Dispatcher::HandleInvalid(uint32_t msgid, const Status& status, ResponseSink* sink) {
  counters_.Bump(counters_.requests);
  counters_.Bump(counters_.method_requests[size_t(Method::kOther)]);
  counters_.current = Method::kOther;
  sink->counters = &counters_;
  Fail(msgid, status, sink);
}

void Dispatcher::Handle(const RpcRequest& request, ResponseSink* sink) {
  counters_.Bump(counters_.requests);
  sink->counters = &counters_;
  Call c{request.msgid, request.param_count, request.params, sink};
  std::string_view m = request.method;
  Method which = m == "get"      ? Method::kGet
                 : m == "set"    ? Method::kSet
                 : m == "mget"   ? Method::kMGet
                 : m == "mset"   ? Method::kMSet
                 : m == "del"    ? Method::kDel
                 : m == "ttl"    ? Method::kTtl
                 : m == "expire" ? Method::kExpire
                 : m == "exists" ? Method::kExists
                 : m == "ping"   ? Method::kPing
                 : m == "stats"  ? Method::kStats
                                 : Method::kOther;
  counters_.Bump(counters_.method_requests[size_t(which)]);
  counters_.current = which;
  switch (which) {
    case Method::kGet: return Get(c);
    case Method::kSet: return Set(c);
    case Method::kMGet: return MGet(c);
    case Method::kMSet: return MSet(c);
    case Method::kDel: return Del(c);
    case Method::kTtl: return Ttl(c);
    case Method::kExpire: return Expire(c);
    case Method::kExists: return Exists(c);
    case Method::kPing: return Ping(c);
    case Method::kStats: return Stats(c);
    case Method::kOther: break;
  }
  Fail(c.msgid, Status::UnknownMethod("unknown method \"" + std::string(m) + "\""), sink);
}

void Dispatcher::Ping(Call& c) {
  if (c.n != 0) return Fail(c.msgid, Status::BadArgs("ping takes no parameters"), c.sink);
  RpcWriter(c.sink->output()).Str(c.msgid, "pong");
}

void Dispatcher::Get(Call& c) {
  if (c.n != 1) return Fail(c.msgid, Status::BadArgs("get takes exactly one key"), c.sink);
  std::string_view key;
  if (Status s = ReadKey(c.p, limits_, &key); !s.ok()) return Fail(c.msgid, s, c.sink);
  ResponseSink* sink = c.sink;
  uint32_t msgid = c.msgid;
  sink->Hold();
  policies_->Match(key).chain->Get(key, [sink, msgid](const GetResult& r) {
    if (sink->alive()) {
      if (!r.status.ok()) Fail(msgid, r.status, sink, Method::kGet);
      else if (r.found) RpcWriter(sink->output()).Bin(msgid, r.value);
      else RpcWriter(sink->output()).Nil(msgid);
    }
    sink->Release();
  });
}

void Dispatcher::Set(Call& c) {
  if (c.n != 2 && c.n != 3) {
    return Fail(c.msgid, Status::BadArgs("set takes key, value and optional opts"), c.sink);
  }
  std::string_view key, value;
  SetOptions opts;
  Status s = ReadKey(c.p, limits_, &key);
  if (s.ok()) s = ReadValue(c.p, limits_, &value);
  if (s.ok() && c.n == 3) s = ReadOptions(c.p, true, clock_->NowMs(), &opts);
  if (!s.ok()) return Fail(c.msgid, s, c.sink);
  ResponseSink* sink = c.sink;
  uint32_t msgid = c.msgid;
  sink->Hold();
  const Policy& policy = policies_->Match(key);
  if (policy.has_ttl_rules()) {
    opts.write.expire_at_ms = policy.ExpiryFor(opts.write.expire_at_ms, clock_->NowMs());
  }
  SetKey(policy, key, value, opts.write, policy.ModeFor(opts.mode),
         [sink, msgid](const WriteResult& r) {
           if (sink->alive()) {
             if (!r.status.ok()) Fail(msgid, r.status, sink, Method::kSet);
             else RpcWriter(sink->output()).Bool(msgid, r.applied);
           }
           sink->Release();
         });
}

void Dispatcher::SetKey(const Policy& policy, std::string_view key, std::string_view value,
                        const WriteOptions& options, WriteMode mode, WriteCallback done) {
  if (journal_ != nullptr && policy.journal) {
    WriteBehind::Write w;
    w.op = WriteBehind::Op::kSet;
    w.key = key;
    w.value = value;
    w.expire_at_ms = options.expire_at_ms;
    w.condition = options.condition;
    w.skip_l1 = mode == WriteMode::kAround;
    journal_->Write(w, mode == WriteMode::kThrough, std::move(done));
    return;
  }
  policy.chain->Set(key, value, options, mode, std::move(done));
}

void Dispatcher::DeleteKey(const Policy& policy, std::string_view key, WriteCallback done) {
  if (journal_ != nullptr && policy.journal) {
    WriteBehind::Write w;
    w.op = WriteBehind::Op::kDelete;
    w.key = key;
    journal_->Write(w, policy.write == WriteMode::kThrough, std::move(done));
    return;
  }
  policy.chain->Delete(key, std::move(done));
}

void Dispatcher::ExpireKey(const Policy& policy, std::string_view key, int64_t expire_at_ms,
                           WriteCallback done) {
  if (journal_ != nullptr && policy.journal) {
    WriteBehind::Write w;
    w.op = WriteBehind::Op::kExpire;
    w.key = key;
    w.expire_at_ms = expire_at_ms;
    journal_->Write(w, policy.write == WriteMode::kThrough, std::move(done));
    return;
  }
  policy.chain->Expire(key, expire_at_ms, std::move(done));
}

namespace {

// Reads n keys (n >= 1) into *keys, validating each.
Status ReadKeys(MsgpackCursor& p, uint32_t n, const RequestLimits& limits,
                std::vector<std::string_view>* keys, const char* method) {
  if (n == 0) return Status::BadArgs(std::string(method) + " needs at least one key");
  if (Status s = CheckBatch(n, limits); !s.ok()) return s;
  keys->resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    if (Status s = ReadKey(p, limits, &(*keys)[i]); !s.ok()) return s;
  }
  return Status::Ok();
}

// Collects the answers of a multi-key call; answers once, when all are in.
struct Gather {
  ResponseSink* sink;
  uint32_t msgid;
  Method method;
  size_t pending;
  Status first_error;
  std::vector<std::optional<std::string>> values;  // mget
  int64_t count = 0;                               // exists

  // Records one key's outcome. After the last, writes the first error or,
  // if there was none, the result (via `write`), and releases the sink.
  template <typename WriteResultFn>
  void Done(const Status& s, WriteResultFn&& write) {
    if (!s.ok() && first_error.ok()) first_error = s;
    if (--pending > 0) return;
    if (sink->alive()) {
      if (!first_error.ok()) {
        Dispatcher::Fail(msgid, first_error, sink, method);
      } else {
        RpcWriter w(sink->output());
        write(w);
      }
    }
    sink->Release();
  }
};

}  // namespace

void Dispatcher::Del(Call& c) {
  std::vector<std::string_view> keys;
  if (Status s = ReadKeys(c.p, c.n, limits_, &keys, "del"); !s.ok()) {
    return Fail(c.msgid, s, c.sink);
  }
  auto g = std::make_shared<Gather>(
      Gather{c.sink, c.msgid, Method::kDel, keys.size(), {}, {}, 0});
  c.sink->Hold();
  for (std::string_view k : keys) {
    DeleteKey(policies_->Match(k), k, [g](const WriteResult& r) {
      g->Done(r.status, [&](RpcWriter& w) { w.Bool(g->msgid, true); });
    });
  }
}

void Dispatcher::Exists(Call& c) {
  std::vector<std::string_view> keys;
  if (Status s = ReadKeys(c.p, c.n, limits_, &keys, "exists"); !s.ok()) {
    return Fail(c.msgid, s, c.sink);
  }
  auto g = std::make_shared<Gather>(
      Gather{c.sink, c.msgid, Method::kExists, keys.size(), {}, {}, 0});
  c.sink->Hold();
  for (std::string_view k : keys) {
    policies_->Match(k).chain->Ttl(k, [g](const TtlResult& r) {
      if (r.status.ok() && r.ttl_ms != -2) ++g->count;
      g->Done(r.status, [&](RpcWriter& w) { w.Int(g->msgid, g->count); });
    });
  }
}

void Dispatcher::MGet(Call& c) {
  uint32_t n = 0;
  if (c.n != 1 || !c.p.ReadArrayHeader(&n)) {
    return Fail(c.msgid, Status::BadArgs("mget takes one array of keys"), c.sink);
  }
  std::vector<std::string_view> keys;
  if (Status s = ReadKeys(c.p, n, limits_, &keys, "mget"); !s.ok()) {
    return Fail(c.msgid, s, c.sink);
  }
  auto g = std::make_shared<Gather>(
      Gather{c.sink, c.msgid, Method::kMGet, keys.size(), {}, {}, 0});
  g->values.resize(keys.size());
  c.sink->Hold();
  for (size_t i = 0; i < keys.size(); ++i) {
    policies_->Match(keys[i]).chain->Get(keys[i], [g, i](const GetResult& r) {
      if (r.status.ok() && r.found) g->values[i].emplace(r.value);
      g->Done(r.status, [&](RpcWriter& w) {
        w.BeginArray(g->msgid, static_cast<uint32_t>(g->values.size()));
        for (const auto& v : g->values) {
          if (v) w.ItemBin(*v); else w.ItemNil();
        }
      });
    });
  }
}

void Dispatcher::MSet(Call& c) {
  uint32_t n = 0;
  if ((c.n != 1 && c.n != 2) || !c.p.ReadArrayHeader(&n)) {
    return Fail(c.msgid, Status::BadArgs("mset takes [key, value, ...] and optional opts"),
                c.sink);
  }
  if (n == 0 || n % 2 != 0) {
    return Fail(c.msgid, Status::BadArgs("mset needs key/value pairs (an even, non-zero count)"),
                c.sink);
  }
  if (Status s = CheckBatch(n / 2, limits_); !s.ok()) return Fail(c.msgid, s, c.sink);
  std::vector<std::string_view> kv(n);
  for (uint32_t i = 0; i < n; i += 2) {
    Status s = ReadKey(c.p, limits_, &kv[i]);
    if (s.ok()) s = ReadValue(c.p, limits_, &kv[i + 1]);
    if (!s.ok()) return Fail(c.msgid, s, c.sink);
  }
  SetOptions opts;
  if (c.n == 2) {
    if (Status s = ReadOptions(c.p, false, clock_->NowMs(), &opts); !s.ok()) {
      return Fail(c.msgid, s, c.sink);
    }
  }
  auto g = std::make_shared<Gather>(
      Gather{c.sink, c.msgid, Method::kMSet, n / 2, {}, {}, 0});
  c.sink->Hold();
  int64_t now = clock_->NowMs();
  for (uint32_t i = 0; i < n; i += 2) {
    const Policy& policy = policies_->Match(kv[i]);
    WriteOptions w = opts.write;
    if (policy.has_ttl_rules()) w.expire_at_ms = policy.ExpiryFor(w.expire_at_ms, now);
    SetKey(policy, kv[i], kv[i + 1], w, policy.ModeFor(opts.mode), [g](const WriteResult& r) {
      g->Done(r.status, [&](RpcWriter& w) { w.Bool(g->msgid, true); });
    });
  }
}

void Dispatcher::Ttl(Call& c) {
  if (c.n != 1) return Fail(c.msgid, Status::BadArgs("ttl takes exactly one key"), c.sink);
  std::string_view key;
  if (Status s = ReadKey(c.p, limits_, &key); !s.ok()) return Fail(c.msgid, s, c.sink);
  ResponseSink* sink = c.sink;
  uint32_t msgid = c.msgid;
  sink->Hold();
  policies_->Match(key).chain->Ttl(key, [sink, msgid](const TtlResult& r) {
    if (sink->alive()) {
      if (!r.status.ok()) Fail(msgid, r.status, sink, Method::kTtl);
      else RpcWriter(sink->output()).Int(msgid, r.ttl_ms);
    }
    sink->Release();
  });
}

void Dispatcher::Expire(Call& c) {
  if (c.n != 2) return Fail(c.msgid, Status::BadArgs("expire takes key and ttl_ms"), c.sink);
  std::string_view key;
  if (Status s = ReadKey(c.p, limits_, &key); !s.ok()) return Fail(c.msgid, s, c.sink);
  int64_t ttl = 0;
  if (!c.p.ReadInt(&ttl) || ttl > kMaxTtlMs) {
    return Fail(c.msgid,
                Status::BadArgs("ttl_ms must be an integer of at most " + Num(kMaxTtlMs) +
                                " (<= 0 deletes the key)"),
                c.sink);
  }
  int64_t now = clock_->NowMs();
  int64_t expire_at = ttl <= 0 ? now : now + ttl;
  const Policy& policy = policies_->Match(key);
  if (policy.max_ttl_ms > 0 && expire_at > now + policy.max_ttl_ms) {
    expire_at = now + policy.max_ttl_ms;
  }
  ResponseSink* sink = c.sink;
  uint32_t msgid = c.msgid;
  sink->Hold();
  ExpireKey(policy, key, expire_at, [sink, msgid](const WriteResult& r) {
    if (sink->alive()) {
      if (!r.status.ok()) Fail(msgid, r.status, sink, Method::kExpire);
      else RpcWriter(sink->output()).Bool(msgid, r.applied);
    }
    sink->Release();
  });
}

void Dispatcher::Stats(Call& c) {
  if (c.n != 0) return Fail(c.msgid, Status::BadArgs("stats takes no parameters"), c.sink);
  std::vector<std::pair<std::string, double>> items = stats_();
  RpcWriter w(c.sink->output());
  w.BeginMap(c.msgid, static_cast<uint32_t>(items.size()));
  for (const auto& [name, value] : items) {
    w.ItemStr(name);
    // Whole numbers go out as integers; the range check comes first because
    // casting a double outside int64 (or NaN) is undefined.
    if (std::isfinite(value) && value >= -9.2e18 && value <= 9.2e18 &&
        value == static_cast<double>(static_cast<int64_t>(value))) {
      w.ItemInt(static_cast<int64_t>(value));
    } else if (value >= 0 && value < 1.8e19 && value == std::floor(value)) {
      w.ItemUint(static_cast<uint64_t>(value));
    } else {
      w.ItemDouble(value);
    }
  }
}

}  // namespace strata
