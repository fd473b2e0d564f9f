#include "tiers/l2_tier.h"

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "common/log.h"
#include "routing/cluster_slots.h"
#include "routing/hash_ring.h"
#include "tiers/l2_node.h"
#include "tiers/l2_topology.h"

namespace strata {
namespace {

void Bump(std::atomic<uint64_t>& c) {
  c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Cluster errors that mean "ask again later" rather than "wrong node".
bool Retryable(std::string_view error) {
  return StartsWith(error, "TRYAGAIN") || StartsWith(error, "CLUSTERDOWN") ||
         StartsWith(error, "LOADING") || StartsWith(error, "MASTERDOWN");
}

// "host:port" of the node that produced `error` when a redirect names no
// host (Redis 7 may send "MOVED 3999 :6381").
std::string HostOf(const std::string& address) {
  auto hp = SplitHostPort(address);
  return hp.ok() ? hp.value().host : std::string();
}

}  // namespace

class L2Tier::Impl {
 public:
  Impl(uv_loop_t* loop, L2Options options)
      : loop_(loop),
        o_(std::move(options)),
        clock_(o_.clock != nullptr ? o_.clock : SystemClock::Default()),
        counters(o_.counters != nullptr ? *o_.counters : own_counters_) {}

  ~Impl();
  Status Init();

  void Get(std::string_view key, GetCallback done);
  void Set(std::string_view key, std::string_view value, const WriteOptions& options,
           WriteCallback done);
  void Delete(std::string_view key, WriteCallback done);
  void Expire(std::string_view key, int64_t expire_at_ms, WriteCallback done);
  void Ttl(std::string_view key, TtlCallback done);

  std::string OwnerOf(std::string_view key);
  bool topology_ready() const { return slots_.CoveredSlots() == kClusterSlots; }
  void RefreshTopology();
  std::vector<NodeState> Nodes() const;

 private:
  // One operation on one key: a group of commands sent together, re-sent on
  // redirects and retries.
  struct Request {
    std::string key;  // as Redis sees it (prefix included)
    L2Node::Commands commands;
    bool read = false;
    int redirects = 0;
    int retries = 0;
    // Cluster: sent to a seed because the slot's owner was unknown (no map
    // yet); an UNAVAILABLE seed is then skipped for the next one.
    bool via_seed = false;
    size_t seed_start = 0;
    size_t seed_tries = 0;
    std::string ask_target;  // set by ASK: the next send goes there with ASKING
    std::function<void(Status, std::vector<RedisReply>)> done;
  };
  using RequestPtr = std::shared_ptr<Request>;

  // A get in flight, shared by every get of the same key that arrives before
  // it completes.
  struct Lookup {
    std::vector<GetCallback> waiters;
    bool stale = false;  // a write of the key was issued after it
  };

  void Send(RequestPtr r);
  void OnReplies(RequestPtr r, L2Node* node, Status s, std::vector<RedisReply> replies);
  void Finish(const RequestPtr& r, Status s, std::vector<RedisReply> replies);
  void RetryLater(RequestPtr r);
  L2Node* Route(Request& r);
  L2Node* NodeFor(const std::string& address, bool readonly);
  void Invalidate(const std::string& key) {
    auto it = lookups_.find(key);
    if (it == lookups_.end()) return;
    it->second->stale = true;
    lookups_.erase(it);
  }
  void CountFailure(const Status& s);
  void ScheduleRefresh();
  void RefreshFrom(std::vector<std::string> candidates, size_t i);
  void UpdateGauges();
  // Closes idle connections to nodes that are neither in the slot map nor
  // seeds; `answering` (whose callback is running) is kept this time.
  void RetireNodes(const L2Node* answering);
  int64_t RemainingMs(int64_t expire_at_ms) const;
  std::string Prefixed(std::string_view key) const;
  Status ErrorReply(const RedisReply& reply) const;

  static void OnTimer(uv_timer_t* t);
  static void OnGaugeTimer(uv_timer_t* t);

  uv_loop_t* loop_;
  L2Options o_;
  Clock* clock_;
  bool closing_ = false;

  std::unordered_map<std::string, std::unique_ptr<L2Node>> nodes_;  // by (R|)address
  std::vector<L2Node*> ring_nodes_;  // standalone / sharded: index = ring owner
  std::optional<HashRing> ring_;

  SlotMap slots_;
  std::vector<std::string> seeds_;  // cluster seed addresses
  bool refreshing_ = false;
  int64_t last_refresh_ms_ = 0;
  static constexpr int64_t kMinRefreshGapMs = 100;
  uint64_t replica_cursor_ = 0;
  size_t refresh_cursor_ = 0;

  std::unordered_map<std::string, std::shared_ptr<Lookup>> lookups_;

  // Timers waiting to re-send a request (retries), and the periodic ones.
  struct Delay {
    uv_timer_t timer;
    Impl* impl;
    RequestPtr request;
  };
  std::unordered_set<Delay*> delays_;
  uv_timer_t* refresh_timer_ = nullptr;  // heap; freed in its close callback
  uv_timer_t* gauge_timer_ = nullptr;
  L2Counters own_counters_;

 public:
  // Declared last: initialised from o_.
  L2Counters& counters;
};

// ---------------------------------------------------------------- setup

Status L2Tier::Impl::Init() {
  using Mode = L2Options::Mode;
  if (o_.endpoints.empty()) return Status::BadArgs("l2.endpoints: at least one is required");
  if (o_.mode == Mode::kStandalone && o_.endpoints.size() != 1) {
    return Status::BadArgs("l2.endpoints: standalone mode takes exactly one endpoint, got " +
                           std::to_string(o_.endpoints.size()));
  }
  if (o_.max_redirects < 0 || o_.max_retries < 0) {
    return Status::BadArgs("l2.max_redirects / l2.max_retries must not be negative");
  }
  if (o_.mode == Mode::kCluster) {
    for (const auto& ep : o_.endpoints) {
      if (ep.kind != RedisEndpoint::Kind::kTcp) {
        return Status::BadArgs("l2.endpoints: cluster mode needs TCP endpoints, got " +
                               ep.ToString());
      }
      seeds_.push_back(ep.Address());
    }
  } else {
    std::vector<std::string> names;
    for (const auto& ep : o_.endpoints) names.push_back(ep.Address());
    auto ring = HashRing::Build(names, o_.vnodes, o_.hash_tags);
    if (!ring.ok()) return Status::BadArgs("l2.endpoints: " + ring.status().message());
    ring_.emplace(std::move(ring).value());
    for (const auto& ep : o_.endpoints) {
      RedisConnection::Options co;
      co.endpoint = ep;
      co.connect_timeout_ms = o_.connect_timeout_ms;
      co.command_timeout_ms = o_.command_timeout_ms;
      co.reconnect_base_ms = o_.reconnect_base_ms;
      co.reconnect_max_ms = o_.reconnect_max_ms;
      auto node = std::make_unique<L2Node>(loop_, co, o_.breaker, clock_);
      ring_nodes_.push_back(node.get());
      nodes_.emplace(ep.Address(), std::move(node));
    }
  }
  gauge_timer_ = new uv_timer_t;
  uv_timer_init(loop_, gauge_timer_);
  gauge_timer_->data = this;
  uv_timer_start(gauge_timer_, &Impl::OnGaugeTimer, 1000, 1000);
  uv_unref(reinterpret_cast<uv_handle_t*>(gauge_timer_));
  if (o_.mode == Mode::kCluster) {
    refresh_timer_ = new uv_timer_t;
    uv_timer_init(loop_, refresh_timer_);
    refresh_timer_->data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(refresh_timer_));
    for (const auto& seed : seeds_) NodeFor(seed, false);
    RefreshTopology();
  }
  UpdateGauges();
  return Status::Ok();
}

L2Tier::Impl::~Impl() {
  closing_ = true;
  auto close_timer = [](uv_timer_t* t) {
    if (t == nullptr) return;
    t->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(t),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  };
  close_timer(refresh_timer_);
  close_timer(gauge_timer_);
  // Requests waiting for a retry are answered now; their timers are freed
  // in the close callback.
  auto delays = std::move(delays_);
  for (Delay* d : delays) {
    RequestPtr r = std::move(d->request);
    d->impl = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&d->timer),
             [](uv_handle_t* h) { delete static_cast<Delay*>(h->data); });
    if (r) r->done(Status::Unavailable("l2: shutting down"), {});
  }
  // Connections deliver their pending callbacks from their destructors,
  // while this object is still whole (closing_ stops any re-send).
  nodes_.clear();
}

// ---------------------------------------------------------------- routing

std::string L2Tier::Impl::Prefixed(std::string_view key) const {
  std::string k;
  k.reserve(o_.key_prefix.size() + key.size());
  k.append(o_.key_prefix);
  k.append(key);
  return k;
}

L2Node* L2Tier::Impl::NodeFor(const std::string& address, bool readonly) {
  std::string id = readonly ? "R|" + address : address;
  auto it = nodes_.find(id);
  if (it != nodes_.end()) return it->second.get();
  auto hp = SplitHostPort(address);
  if (!hp.ok() || hp.value().host.empty()) return nullptr;
  RedisConnection::Options co;
  co.endpoint = o_.endpoints.front();  // credentials and db of the first seed
  co.endpoint.kind = RedisEndpoint::Kind::kTcp;
  co.endpoint.host = hp.value().host;
  co.endpoint.port = hp.value().port;
  co.connect_timeout_ms = o_.connect_timeout_ms;
  co.command_timeout_ms = o_.command_timeout_ms;
  co.reconnect_base_ms = o_.reconnect_base_ms;
  co.reconnect_max_ms = o_.reconnect_max_ms;
  co.readonly = readonly;
  auto node = std::make_unique<L2Node>(loop_, co, o_.breaker, clock_);
  L2Node* raw = node.get();
  nodes_.emplace(std::move(id), std::move(node));
  UpdateGauges();
  return raw;
}

L2Node* L2Tier::Impl::Route(Request& r) {
  if (o_.mode != L2Options::Mode::kCluster) {
    return ring_nodes_.size() == 1 ? ring_nodes_[0] : ring_nodes_[ring_->Owner(r.key)];
  }
  r.via_seed = false;
  if (!r.ask_target.empty()) return NodeFor(r.ask_target, false);
  int slot = KeySlot(r.key);
  if (r.read && o_.read_from_replicas) {
    const auto& replicas = slots_.Replicas(slot);
    if (!replicas.empty()) {
      L2Node* n = NodeFor(replicas[replica_cursor_++ % replicas.size()], true);
      if (n != nullptr && n->connected() && !n->breaker_open()) return n;
    }
  }
  std::string_view master = slots_.Lookup(slot);
  if (!master.empty()) return NodeFor(std::string(master), false);
  // Slot unknown (no map yet, or a hole): any seed; a MOVED will route it.
  ScheduleRefresh();
  if (r.seed_tries == 0) r.seed_start = replica_cursor_++;
  r.via_seed = true;
  return NodeFor(seeds_[(r.seed_start + r.seed_tries) % seeds_.size()], false);
}

std::string L2Tier::Impl::OwnerOf(std::string_view key) {
  std::string k = Prefixed(key);
  if (o_.mode != L2Options::Mode::kCluster) {
    return ring_nodes_.size() == 1 ? ring_nodes_[0]->address()
                                   : ring_nodes_[ring_->Owner(k)]->address();
  }
  return std::string(slots_.Lookup(KeySlot(k)));
}

// ---------------------------------------------------------------- requests

void L2Tier::Impl::Send(RequestPtr r) {
  if (closing_) {
    // Issued from a callback delivered by the destructor: the nodes are
    // being torn down.
    Finish(r, Status::Unavailable("l2: shutting down"), {});
    return;
  }
  L2Node* node = Route(*r);
  if (node == nullptr) {
    Finish(r, Status::Unavailable("l2: no node for key (bad redirect address)"), {});
    return;
  }
  bool asking = !r->ask_target.empty();
  r->ask_target.clear();  // ASK is good for one send only
  node->Send(r->commands, asking,
             [this, r, node](Status s, std::vector<RedisReply> replies) {
               OnReplies(r, node, std::move(s), std::move(replies));
             });
}

void L2Tier::Impl::OnReplies(RequestPtr r, L2Node* node, Status s,
                             std::vector<RedisReply> replies) {
  // Keep the gauges current as nodes fail and recover (the timer alone lags
  // by up to a second): O(1) while everything is healthy.
  if (!closing_ && (!s.ok() || counters.breakers_open.load(std::memory_order_relaxed) != 0 ||
                    counters.nodes_connected.load(std::memory_order_relaxed) !=
                        counters.nodes.load(std::memory_order_relaxed))) {
    UpdateGauges();
  }
  if (closing_ || !s.ok()) {
    if (!s.ok() && !closing_ && o_.mode == L2Options::Mode::kCluster) {
      ScheduleRefresh();
      // Any reachable seed will do while the map is unknown: try the next.
      if (r->via_seed && s.code() == Code::kUnavailable && ++r->seed_tries < seeds_.size()) {
        Send(std::move(r));
        return;
      }
    }
    Finish(r, std::move(s), {});
    return;
  }
  // Commands of one request touch one key, so a redirect or a retryable
  // error applies to the whole group; act on the first one seen.
  for (const RedisReply& reply : replies) {
    if (!reply.is_error()) continue;
    const std::string& e = reply.str;
    if (StartsWith(e, "MOVED ") || StartsWith(e, "ASK ")) {
      auto redirect = ParseRedirect(e);
      if (!redirect.ok()) {
        Finish(r, Status::Internal("l2: " + redirect.status().message()), {});
        return;
      }
      Redirect rd = std::move(redirect).value();
      if (rd.host.empty()) rd.host = HostOf(node->address());
      if (++r->redirects > o_.max_redirects) {
        Finish(r, Status::Unavailable("l2: more than " + std::to_string(o_.max_redirects) +
                                      " redirects for one request (last: " + e + ")"),
               {});
        return;
      }
      if (rd.kind == Redirect::Kind::kMoved) {
        Bump(counters.moved);
        (void)slots_.Update(rd.slot, rd.Address());
        ScheduleRefresh();
      } else {
        Bump(counters.ask);
        r->ask_target = rd.Address();
      }
      Send(std::move(r));
      return;
    }
    if (Retryable(e)) {
      if (r->retries >= o_.max_retries) {
        Finish(r, Status::Unavailable("l2: " + e + " (after " + std::to_string(r->retries) +
                                      " retries)"),
               {});
        return;
      }
      if (o_.mode == L2Options::Mode::kCluster && !StartsWith(e, "LOADING")) ScheduleRefresh();
      RetryLater(std::move(r));
      return;
    }
  }
  Finish(r, Status::Ok(), std::move(replies));
}

void L2Tier::Impl::Finish(const RequestPtr& r, Status s, std::vector<RedisReply> replies) {
  auto done = std::move(r->done);
  done(std::move(s), std::move(replies));
}

void L2Tier::Impl::RetryLater(RequestPtr r) {
  Bump(counters.retries);
  int shift = std::min(r->retries, 20);
  ++r->retries;
  int64_t delay = std::max<int64_t>(1, o_.retry_base_ms) << shift;
  auto* d = new Delay;
  d->impl = this;
  d->request = std::move(r);
  uv_timer_init(loop_, &d->timer);
  d->timer.data = d;
  delays_.insert(d);
  uv_timer_start(&d->timer, &Impl::OnTimer, static_cast<uint64_t>(delay), 0);
}

void L2Tier::Impl::OnTimer(uv_timer_t* t) {
  auto* d = static_cast<Delay*>(t->data);
  Impl* self = d->impl;
  RequestPtr r = std::move(d->request);
  self->delays_.erase(d);
  uv_close(reinterpret_cast<uv_handle_t*>(&d->timer),
           [](uv_handle_t* h) { delete static_cast<Delay*>(h->data); });
  self->Send(std::move(r));
}

void L2Tier::Impl::CountFailure(const Status& s) {
  Bump(counters.errors);
  if (s.code() == Code::kTimeout) Bump(counters.timeouts);
  if (s.code() == Code::kUnavailable &&
      s.message().find("circuit breaker open") != std::string::npos) {
    Bump(counters.breaker_rejected);
  }
}

Status L2Tier::Impl::ErrorReply(const RedisReply& reply) const {
  return Status::Internal("l2: redis replied " + reply.str);
}

int64_t L2Tier::Impl::RemainingMs(int64_t expire_at_ms) const {
  int64_t left = expire_at_ms - clock_->NowMs();
  return left;
}

// ---------------------------------------------------------------- operations

void L2Tier::Impl::Get(std::string_view key, GetCallback done) {
  std::string k = Prefixed(key);
  auto it = lookups_.find(k);
  if (it != lookups_.end()) {
    Bump(counters.coalesced);
    it->second->waiters.push_back(std::move(done));
    return;
  }
  auto lookup = std::make_shared<Lookup>();
  lookup->waiters.push_back(std::move(done));
  lookups_.emplace(k, lookup);
  auto r = std::make_shared<Request>();
  r->key = k;
  r->commands = {{"GET", k}, {"PTTL", k}};
  r->read = true;
  r->done = [this, lookup, k](Status s, std::vector<RedisReply> replies) {
    auto it = lookups_.find(k);
    if (it != lookups_.end() && it->second == lookup) lookups_.erase(it);
    GetResult g;
    g.fillable = !lookup->stale;
    if (!s.ok()) {
      g.status = std::move(s);
    } else if (replies[0].is_error()) {
      g.status = ErrorReply(replies[0]);
    } else if (replies[0].type == RedisReply::Type::kString) {
      const RedisReply& ttl = replies[1];
      if (ttl.type != RedisReply::Type::kInteger) {
        g.status = ttl.is_error() ? ErrorReply(ttl)
                                  : Status::Internal("l2: PTTL did not return an integer");
      } else if (ttl.integer == -2) {
        // Expired between GET and PTTL: a miss.
      } else {
        g.found = true;
        g.value = replies[0].str;
        g.expire_at_ms = ttl.integer >= 0 ? clock_->NowMs() + std::max<int64_t>(ttl.integer, 1)
                                          : 0;
      }
    } else if (!replies[0].is_nil()) {
      g.status = Status::Internal("l2: GET returned neither a string nor nil");
    }
    if (!g.status.ok()) {
      CountFailure(g.status);
    } else {
      Bump(g.found ? counters.hits : counters.misses);
    }
    for (auto& w : lookup->waiters) w(g);
  };
  Send(std::move(r));
}

void L2Tier::Impl::Set(std::string_view key, std::string_view value, const WriteOptions& options,
                       WriteCallback done) {
  std::string k = Prefixed(key);
  Invalidate(k);
  auto r = std::make_shared<Request>();
  r->key = k;
  std::vector<std::string> cmd{"SET", k, std::string(value)};
  if (options.expire_at_ms != 0) {
    cmd.emplace_back("PX");
    cmd.push_back(std::to_string(std::max<int64_t>(1, RemainingMs(options.expire_at_ms))));
  }
  if (options.condition == WriteCondition::kIfAbsent) cmd.emplace_back("NX");
  if (options.condition == WriteCondition::kIfPresent) cmd.emplace_back("XX");
  r->commands.push_back(std::move(cmd));
  r->done = [this, done = std::move(done)](Status s, std::vector<RedisReply> replies) {
    WriteResult w;
    if (!s.ok()) {
      w.status = std::move(s);
    } else if (replies[0].is_error()) {
      w.status = ErrorReply(replies[0]);
    } else {
      w.applied = !replies[0].is_nil();  // nil: NX/XX not met
    }
    if (!w.status.ok()) CountFailure(w.status);
    done(w);
  };
  Send(std::move(r));
}

void L2Tier::Impl::Delete(std::string_view key, WriteCallback done) {
  std::string k = Prefixed(key);
  Invalidate(k);
  auto r = std::make_shared<Request>();
  r->key = k;
  r->commands = {{"DEL", k}};
  r->done = [this, done = std::move(done)](Status s, std::vector<RedisReply> replies) {
    WriteResult w;
    if (!s.ok()) {
      w.status = std::move(s);
    } else if (replies[0].type != RedisReply::Type::kInteger) {
      w.status = replies[0].is_error() ? ErrorReply(replies[0])
                                       : Status::Internal("l2: DEL did not return an integer");
    } else {
      w.applied = replies[0].integer > 0;
    }
    if (!w.status.ok()) CountFailure(w.status);
    done(w);
  };
  Send(std::move(r));
}

void L2Tier::Impl::Expire(std::string_view key, int64_t expire_at_ms, WriteCallback done) {
  std::string k = Prefixed(key);
  Invalidate(k);
  auto r = std::make_shared<Request>();
  r->key = k;
  // PEXPIRE with the remaining time (a non-positive value deletes the key,
  // as the protocol's expire does).
  r->commands = {{"PEXPIRE", k, std::to_string(RemainingMs(expire_at_ms))}};
  r->done = [this, done = std::move(done)](Status s, std::vector<RedisReply> replies) {
    WriteResult w;
    if (!s.ok()) {
      w.status = std::move(s);
    } else if (replies[0].type != RedisReply::Type::kInteger) {
      w.status = replies[0].is_error()
                     ? ErrorReply(replies[0])
                     : Status::Internal("l2: PEXPIRE did not return an integer");
    } else {
      w.applied = replies[0].integer > 0;
    }
    if (!w.status.ok()) CountFailure(w.status);
    done(w);
  };
  Send(std::move(r));
}

void L2Tier::Impl::Ttl(std::string_view key, TtlCallback done) {
  std::string k = Prefixed(key);
  auto r = std::make_shared<Request>();
  r->key = k;
  r->commands = {{"PTTL", k}};
  r->read = true;
  r->done = [this, done = std::move(done)](Status s, std::vector<RedisReply> replies) {
    TtlResult t;
    if (!s.ok()) {
      t.status = std::move(s);
    } else if (replies[0].type != RedisReply::Type::kInteger) {
      t.status = replies[0].is_error() ? ErrorReply(replies[0])
                                       : Status::Internal("l2: PTTL did not return an integer");
    } else {
      t.ttl_ms = replies[0].integer;
    }
    if (!t.status.ok()) CountFailure(t.status);
    done(t);
  };
  Send(std::move(r));
}

// ---------------------------------------------------------------- topology

void L2Tier::Impl::ScheduleRefresh() {
  // After errors: soon, but not a storm: at most one refresh in flight, and
  // one started at most every kMinRefreshGapMs (an outage makes every request
  // fail, each asking for a refresh). A pending periodic timer is pulled in.
  if (o_.mode != L2Options::Mode::kCluster || closing_ || refreshing_) return;
  int64_t since = clock_->NowMs() - last_refresh_ms_;
  int64_t delay = std::max<int64_t>(10, kMinRefreshGapMs - since);
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(refresh_timer_)) &&
      uv_timer_get_due_in(refresh_timer_) <= static_cast<uint64_t>(delay)) {
    return;
  }
  uv_timer_start(
      refresh_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Impl*>(t->data);
        if (self != nullptr) self->RefreshTopology();
      },
      static_cast<uint64_t>(delay), 0);
}

void L2Tier::Impl::RefreshTopology() {
  if (o_.mode != L2Options::Mode::kCluster || closing_ || refreshing_) return;
  last_refresh_ms_ = clock_->NowMs();
  // Known masters first (the map is most likely right about them), then the
  // seeds; start at a rotating position so a dead node is not always first.
  std::vector<std::string> candidates = slots_.Masters();
  for (const auto& s : seeds_) {
    if (std::find(candidates.begin(), candidates.end(), s) == candidates.end()) {
      candidates.push_back(s);
    }
  }
  std::rotate(candidates.begin(),
              candidates.begin() + static_cast<long>(refresh_cursor_++ % candidates.size()),
              candidates.end());
  // Prefer nodes that are connected right now.
  std::stable_partition(candidates.begin(), candidates.end(), [this](const std::string& a) {
    auto it = nodes_.find(a);
    return it != nodes_.end() && it->second->connected();
  });
  refreshing_ = true;
  Bump(counters.topology_refreshes);
  RefreshFrom(std::move(candidates), 0);
}

void L2Tier::Impl::RefreshFrom(std::vector<std::string> candidates, size_t i) {
  if (closing_) return;
  auto next_periodic = [this]() {
    refreshing_ = false;
    if (o_.topology_refresh_ms > 0) {
      uv_timer_start(
          refresh_timer_,
          [](uv_timer_t* t) {
            auto* self = static_cast<Impl*>(t->data);
            if (self != nullptr) self->RefreshTopology();
          },
          static_cast<uint64_t>(o_.topology_refresh_ms), 0);
    }
  };
  if (i >= candidates.size()) {
    Bump(counters.topology_errors);
    LOG_RATE_LIMITED(LogLevel::kWarn, "l2: no cluster node answered CLUSTER SLOTS (%zu tried)",
                     candidates.size());
    refreshing_ = false;
    // Try again soon rather than waiting for the periodic refresh.
    uv_timer_start(
        refresh_timer_,
        [](uv_timer_t* t) {
          auto* self = static_cast<Impl*>(t->data);
          if (self != nullptr) self->RefreshTopology();
        },
        static_cast<uint64_t>(std::max<int64_t>(100, o_.reconnect_base_ms)), 0);
    return;
  }
  L2Node* node = NodeFor(candidates[i], false);
  if (node == nullptr) {
    RefreshFrom(std::move(candidates), i + 1);
    return;
  }
  node->Send({{"CLUSTER", "SLOTS"}}, false,
             [this, node, candidates = std::move(candidates), i, next_periodic](
                 Status s, std::vector<RedisReply> replies) mutable {
               if (closing_) return;
               if (!s.ok()) {
                 RefreshFrom(std::move(candidates), i + 1);
                 return;
               }
               auto ranges = ParseClusterSlotsReply(replies[0], HostOf(node->address()));
               StatusOr<SlotMap> map = ranges.ok() ? SlotMap::Build(ranges.value())
                                                   : StatusOr<SlotMap>(ranges.status());
               if (!map.ok()) {
                 LOG_RATE_LIMITED(LogLevel::kWarn, "l2: topology from %s rejected: %s",
                                  node->address().c_str(), map.status().message().c_str());
                 RefreshFrom(std::move(candidates), i + 1);
                 return;
               }
               if (map.value().CoveredSlots() == 0) {
                 // A node that is not (yet) part of a cluster: ask another.
                 RefreshFrom(std::move(candidates), i + 1);
                 return;
               }
               slots_ = std::move(map).value();
               RetireNodes(node);
               next_periodic();
             });
}

void L2Tier::Impl::RetireNodes(const L2Node* answering) {
  std::unordered_set<std::string> live(seeds_.begin(), seeds_.end());
  for (auto& a : slots_.Nodes()) live.insert(std::move(a));
  size_t retired = 0;
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    L2Node* n = it->second.get();
    // Readonly (replica) connections are keyed "R|address".
    if (n == answering || live.count(n->address()) > 0 || !n->connection().idle()) {
      ++it;
      continue;
    }
    LOG_INFO("l2: closing the connection to %s: no longer in the cluster's slot map",
             n->address().c_str());
    it = nodes_.erase(it);  // the destructor closes it; nothing is left to call back
    ++retired;
  }
  if (retired > 0) {
    counters.nodes_retired.store(counters.nodes_retired.load(std::memory_order_relaxed) + retired,
                                 std::memory_order_relaxed);
    UpdateGauges();
  }
}

// ---------------------------------------------------------------- gauges

void L2Tier::Impl::OnGaugeTimer(uv_timer_t* t) {
  auto* self = static_cast<Impl*>(t->data);
  if (self != nullptr) self->UpdateGauges();
}

void L2Tier::Impl::UpdateGauges() {
  uint64_t connected = 0, open = 0;
  std::vector<L2Counters::Endpoint> endpoints;
  endpoints.reserve(nodes_.size());
  for (const auto& [id, n] : nodes_) {
    if (n->connected()) ++connected;
    if (n->breaker_open()) ++open;
    endpoints.push_back({n->address(), n->connected(), n->breaker_state()});
  }
  {
    std::lock_guard<std::mutex> lock(counters.endpoints_mu);
    counters.endpoints.swap(endpoints);
  }
  counters.nodes.store(nodes_.size(), std::memory_order_relaxed);
  counters.nodes_connected.store(connected, std::memory_order_relaxed);
  counters.breakers_open.store(open, std::memory_order_relaxed);
}

std::vector<L2Tier::NodeState> L2Tier::Impl::Nodes() const {
  std::vector<NodeState> out;
  for (const auto& [id, n] : nodes_) {
    NodeState s;
    s.address = n->address();
    s.connected = n->connected();
    s.breaker = n->breaker_state();
    s.replica = n->readonly();
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const NodeState& a, const NodeState& b) {
    return a.address != b.address ? a.address < b.address : a.replica < b.replica;
  });
  return out;
}

// ---------------------------------------------------------------- L2Tier

StatusOr<std::unique_ptr<L2Tier>> L2Tier::Create(uv_loop_t* loop, L2Options options) {
  auto impl = std::make_unique<Impl>(loop, std::move(options));
  Status s = impl->Init();
  if (!s.ok()) return s;
  return std::unique_ptr<L2Tier>(new L2Tier(std::move(impl)));
}

L2Tier::L2Tier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
L2Tier::~L2Tier() = default;

const L2Counters& L2Tier::counters() const { return impl_->counters; }

void L2Tier::Get(std::string_view key, GetCallback done) { impl_->Get(key, std::move(done)); }
void L2Tier::Set(std::string_view key, std::string_view value, const WriteOptions& options,
                 WriteCallback done) {
  impl_->Set(key, value, options, std::move(done));
}
void L2Tier::Delete(std::string_view key, WriteCallback done) {
  impl_->Delete(key, std::move(done));
}
void L2Tier::Expire(std::string_view key, int64_t expire_at_ms, WriteCallback done) {
  impl_->Expire(key, expire_at_ms, std::move(done));
}
void L2Tier::Ttl(std::string_view key, TtlCallback done) { impl_->Ttl(key, std::move(done)); }

std::string L2Tier::OwnerOf(std::string_view key) const { return impl_->OwnerOf(key); }
bool L2Tier::topology_ready() const { return impl_->topology_ready(); }
void L2Tier::RefreshTopology() { impl_->RefreshTopology(); }
std::vector<L2Tier::NodeState> L2Tier::Nodes() const { return impl_->Nodes(); }

}  // namespace strata
