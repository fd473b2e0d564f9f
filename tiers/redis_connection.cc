#include "tiers/redis_connection.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "common/log.h"
#include "tiers/redis_libuv_adapter.h"

namespace strata {

// ---------------------------------------------------------------- endpoint

namespace {

constexpr size_t kMaxUnixPath = 107;  // sizeof(sockaddr_un::sun_path) - 1
constexpr int kMaxDb = 1 << 16;

bool ParseInt(std::string_view s, int* out) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string RedisEndpoint::ToString() const {
  if (kind == Kind::kUnix) return "unix://" + path;
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::string s = "redis://";
  if (!user.empty()) s += user + "@";
  s += h + ":" + std::to_string(port);
  if (db > 0) s += "/" + std::to_string(db);
  return s;
}

std::string RedisEndpoint::Address() const {
  if (kind == Kind::kUnix) return path;
  return host + ":" + std::to_string(port);
}

StatusOr<RedisEndpoint> ParseRedisEndpoint(std::string_view uri) {
  RedisEndpoint ep;
  constexpr std::string_view kUnix = "unix://";
  constexpr std::string_view kRedis = "redis://";
  if (uri.substr(0, kUnix.size()) == kUnix) {
    std::string_view path = uri.substr(kUnix.size());
    if (path.empty() || path[0] != '/') {
      return Status::BadArgs("redis endpoint '" + std::string(uri) +
                             "': unix socket path must be absolute (unix:///path)");
    }
    if (path.size() > kMaxUnixPath) {
      return Status::BadArgs("redis endpoint: unix socket path is " +
                             std::to_string(path.size()) + " bytes, the limit is " +
                             std::to_string(kMaxUnixPath));
    }
    ep.kind = RedisEndpoint::Kind::kUnix;
    ep.path = std::string(path);
    return ep;
  }
  if (uri.substr(0, kRedis.size()) != kRedis) {
    return Status::BadArgs("redis endpoint '" + std::string(uri) +
                           "': expected redis://host:port[/db] or unix:///path");
  }
  std::string_view rest = uri.substr(kRedis.size());
  // Userinfo ends at the last '@' so a password may contain '@'.
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      return Status::BadArgs("redis endpoint: credentials must be user:password@ or :password@");
    }
    ep.user = std::string(userinfo.substr(0, colon));
    ep.password = std::string(userinfo.substr(colon + 1));
    if (ep.password.empty()) {
      return Status::BadArgs("redis endpoint: empty password in credentials");
    }
  }
  std::string_view hostport = rest;
  size_t slash = rest.find('/');
  if (slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    std::string_view db = rest.substr(slash + 1);
    if (!ParseInt(db, &ep.db) || ep.db >= kMaxDb) {
      return Status::BadArgs("redis endpoint: db '" + std::string(db) +
                             "' is not a database number");
    }
  }
  std::string_view port;
  if (!hostport.empty() && hostport[0] == '[') {
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) {
      return Status::BadArgs("redis endpoint: missing ']' after IPv6 host");
    }
    ep.host = std::string(hostport.substr(1, close - 1));
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Status::BadArgs("redis endpoint: expected ':port' after ']'");
      port = after.substr(1);
      if (port.empty()) return Status::BadArgs("redis endpoint: empty port");
    }
  } else {
    size_t colon = hostport.find(':');
    ep.host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = hostport.substr(colon + 1);
      if (port.empty()) return Status::BadArgs("redis endpoint: empty port");
    }
  }
  if (ep.host.empty()) return Status::BadArgs("redis endpoint: missing host");
  if (!port.empty() && (!ParseInt(port, &ep.port) || ep.port < 1 || ep.port > 65535)) {
    return Status::BadArgs("redis endpoint: port '" + std::string(port) +
                           "' is not a number in 1..65535");
  }
  return ep;
}

// ---------------------------------------------------------------- replies

namespace {

RedisReply CopyReply(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(CopyReply(r->element[i]));
      break;
    default:  // REDIS_REPLY_NIL
      out.type = RedisReply::Type::kNil;
      break;
  }
  return out;
}

uv_timer_t* NewTimer(uv_loop_t* loop, void* data) {
  auto* t = new uv_timer_t;
  uv_timer_init(loop, t);
  t->data = data;
  return t;
}

void DeleteTimer(uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); }

void CloseTimer(uv_timer_t* t) {
  t->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(t), DeleteTimer);
}

}  // namespace

// One command in flight. Freed when both hiredis has released it (its reply
// callback ran) and its timer is closed, whichever comes last.
struct RedisConnection::Pending {
  RedisConnection* conn;
  Callback cb;
  uv_timer_t timer;
  bool done = false;        // cb has been consumed
  bool in_hiredis = false;  // hiredis holds this as privdata
  bool timer_open = true;
  bool waiting = false;     // in waiting_: issued while connecting, not sent yet
};

// ---------------------------------------------------------------- lifecycle

RedisConnection::RedisConnection(uv_loop_t* loop, Options options)
    : loop_(loop), options_(std::move(options)) {
  uint64_t seed = options_.jitter_seed;
  if (seed == 0) seed = (uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  rng_.seed(seed);
  connect_timer_ = NewTimer(loop_, this);
  reconnect_timer_ = NewTimer(loop_, this);
  defer_timer_ = NewTimer(loop_, this);
}

RedisConnection::~RedisConnection() {
  Close();
  // Close() freed the context synchronously (we are not inside a callback),
  // so only deferred results remain: deliver them now, exactly once.
  while (!deferred_.empty()) {
    auto item = std::move(deferred_.front());
    deferred_.pop_front();
    item.first(std::move(item.second));
  }
  CloseTimer(connect_timer_);
  CloseTimer(reconnect_timer_);
  CloseTimer(defer_timer_);
}

void RedisConnection::Start() {
  if (state_ != State::kIdle) return;
  Connect();
}

void RedisConnection::Close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  last_error_ = "closed";
  uv_timer_stop(connect_timer_);
  uv_timer_stop(reconnect_timer_);
  DropContext();
  FailWaiting();
}

void RedisConnection::Connect() {
  state_ = State::kConnecting;
  const RedisEndpoint& ep = options_.endpoint;
  redisAsyncContext* ac = ep.kind == RedisEndpoint::Kind::kUnix
                              ? redisAsyncConnectUnix(ep.path.c_str())
                              : redisAsyncConnect(ep.host.c_str(), ep.port);
  if (ac == nullptr) {
    ConnectionFailed("connect: out of memory");
    return;
  }
  if (ac->err != 0) {
    std::string why = std::string("connect: ") + ac->errstr;
    redisAsyncFree(ac);  // no event library attached: frees at once, no callbacks
    ConnectionFailed(std::move(why));
    return;
  }
  Status attached = AttachRedisToLibuv(ac, loop_);
  if (!attached.ok()) {
    redisAsyncFree(ac);
    ConnectionFailed(attached.message());
    return;
  }
  ac->data = this;
  ac_ = ac;
  redisAsyncSetConnectCallback(ac, &RedisConnection::OnConnect);
  redisAsyncSetDisconnectCallback(ac, &RedisConnection::OnDisconnect);
  // hiredis buffers these until the socket connects, so they precede any user
  // command. A Unix socket may connect synchronously, in which case hiredis
  // never calls OnConnect: readiness is the last handshake reply.
  SendHandshake();
  if (options_.connect_timeout_ms > 0) {
    uv_timer_start(connect_timer_, &RedisConnection::OnConnectTimer,
                   static_cast<uint64_t>(options_.connect_timeout_ms), 0);
  }
}

void RedisConnection::SendHandshake() {
  const RedisEndpoint& ep = options_.endpoint;
  std::vector<std::vector<std::string>> cmds;
  if (!ep.password.empty()) {
    if (ep.user.empty()) {
      cmds.push_back({"AUTH", ep.password});
    } else {
      cmds.push_back({"AUTH", ep.user, ep.password});
    }
  }
  if (ep.db > 0) cmds.push_back({"SELECT", std::to_string(ep.db)});
  if (options_.readonly) cmds.push_back({"READONLY"});
  if (cmds.empty()) cmds.push_back({"PING"});
  handshake_left_ = static_cast<int>(cmds.size());
  for (const auto& cmd : cmds) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : cmd) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    redisAsyncCommandArgv(ac_, &RedisConnection::OnHandshakeReply, this,
                          static_cast<int>(argv.size()), argv.data(), lens.data());
  }
}

void RedisConnection::OnConnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (status == REDIS_OK || self == nullptr || ac != self->ac_) return;
  // hiredis frees the context right after this callback returns.
  self->ac_ = nullptr;
  self->ConnectionFailed(std::string("connect: ") + ac->errstr);
}

void RedisConnection::OnDisconnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (self == nullptr || ac != self->ac_) return;  // we dropped it ourselves
  // hiredis frees the context right after this callback returns.
  self->ac_ = nullptr;
  self->ConnectionFailed(status == REDIS_OK || ac->err == 0
                             ? std::string("server closed the connection")
                             : std::string("connection lost: ") + ac->errstr);
}

void RedisConnection::OnHandshakeReply(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* self = static_cast<RedisConnection*>(privdata);
  // No reply: the context is being freed; OnConnect/OnDisconnect or whoever
  // dropped it handles the state.
  if (reply == nullptr || ac != self->ac_) return;
  auto* r = static_cast<redisReply*>(reply);
  if (r->type == REDIS_REPLY_ERROR) {
    std::string why = "handshake failed: " + std::string(r->str, r->len);
    self->DropContext();  // inside a hiredis callback: hiredis frees it afterwards
    self->ConnectionFailed(std::move(why));
    return;
  }
  if (--self->handshake_left_ > 0) return;
  uv_timer_stop(self->connect_timer_);
  self->state_ = State::kConnected;
  ++self->counters_.connects;
  self->backoff_attempt_ = 0;
  self->last_error_.clear();
  LOG_INFO("redis %s: connected", self->options_.endpoint.ToString().c_str());
  self->FlushWaiting();
}

void RedisConnection::DropContext() {
  redisAsyncContext* ac = ac_;
  if (ac == nullptr) return;
  ac_ = nullptr;  // so OnDisconnect/OnHandshakeReply ignore this context
  redisAsyncFree(ac);
}

void RedisConnection::ConnectionFailed(std::string why) {
  uv_timer_stop(connect_timer_);
  last_error_ = std::move(why);
  FailWaiting();
  if (state_ == State::kClosed) return;
  LOG_RATE_LIMITED(::strata::LogLevel::kWarn, "redis %s: %s",
                   options_.endpoint.ToString().c_str(), last_error_.c_str());
  ScheduleReconnect();
}

void RedisConnection::ScheduleReconnect() {
  state_ = State::kBackoff;
  int shift = std::min(backoff_attempt_, 30);
  int64_t base = std::max<int64_t>(1, options_.reconnect_base_ms);
  int64_t cap = std::max<int64_t>(base, options_.reconnect_max_ms);
  int64_t delay = base > (cap >> shift) ? cap : std::min(cap, base << shift);
  // "Equal jitter": half fixed, half random, so the delay stays in
  // [delay/2, delay] and reconnecting peers spread out.
  int64_t half = delay / 2;
  delay = half + static_cast<int64_t>(rng_() % static_cast<uint64_t>(delay - half + 1));
  ++backoff_attempt_;
  uv_timer_start(reconnect_timer_, &RedisConnection::OnReconnectTimer,
                 static_cast<uint64_t>(delay), 0);
}

void RedisConnection::OnConnectTimer(uv_timer_t* timer) {
  auto* self = static_cast<RedisConnection*>(timer->data);
  if (self == nullptr || self->state_ != State::kConnecting) return;
  self->DropContext();  // not inside hiredis: frees at once
  self->ConnectionFailed("connect timeout after " +
                         std::to_string(self->options_.connect_timeout_ms) + " ms");
}

void RedisConnection::OnReconnectTimer(uv_timer_t* timer) {
  auto* self = static_cast<RedisConnection*>(timer->data);
  if (self == nullptr || self->state_ != State::kBackoff) return;
  ++self->counters_.reconnects;
  self->Connect();
}

// ---------------------------------------------------------------- commands

Status RedisConnection::NotConnected() const {
  return Status::Unavailable("redis " + options_.endpoint.ToString() +
                             ": not connected (" + last_error_ + ")");
}

void RedisConnection::Command(std::vector<std::string> argv, Callback cb) {
  ++counters_.commands;
  bool accepting = state_ == State::kConnected || state_ == State::kConnecting;
  if (!accepting || ac_ == nullptr || argv.empty()) {
    ++counters_.errors;
    Defer(std::move(cb), argv.empty() ? Status::BadArgs("redis: empty command")
                                      : NotConnected());
    return;
  }
  if (state_ == State::kConnecting && waiting_.size() >= kMaxWaiting) {
    ++counters_.errors;
    Defer(std::move(cb), Status::Unavailable("redis " + options_.endpoint.ToString() +
                                             ": still connecting, " +
                                             std::to_string(kMaxWaiting) +
                                             " commands already waiting"));
    return;
  }
  auto* p = new Pending{this, std::move(cb), {}, false, false, true, false};
  uv_timer_init(loop_, &p->timer);
  p->timer.data = p;
  if (options_.command_timeout_ms > 0) {
    // The loop's cached time may be a whole iteration old; the deadline
    // counts from now.
    uv_update_time(loop_);
    uv_timer_start(&p->timer, &RedisConnection::OnCommandTimer,
                   static_cast<uint64_t>(options_.command_timeout_ms), 0);
  }
  if (state_ == State::kConnecting) {
    // Held back until AUTH/SELECT succeed: sent behind them, a command would
    // run even if they fail (as the default user, or in db 0).
    p->waiting = true;
    waiting_.push_back({p, std::move(argv)});
    return;
  }
  SendNow(p, argv);
}

void RedisConnection::SendNow(Pending* p, const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lens;
  args.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  if (redisAsyncCommandArgv(ac_, &RedisConnection::OnReply, p, static_cast<int>(args.size()),
                            args.data(), lens.data()) != REDIS_OK) {
    ++counters_.errors;
    Finish(p, NotConnected(), /*defer=*/true);
    return;
  }
  p->in_hiredis = true;
  ++in_flight_;
}

void RedisConnection::FlushWaiting() {
  std::deque<Waiting> batch;
  batch.swap(waiting_);
  for (auto& w : batch) {
    Pending* p = w.p;
    p->waiting = false;
    if (p->done) {  // timed out while waiting
      if (!p->timer_open) delete p;
      continue;
    }
    if (state_ != State::kConnected || ac_ == nullptr) {
      ++counters_.errors;
      Finish(p, NotConnected(), /*defer=*/true);
      continue;
    }
    SendNow(p, w.argv);
  }
}

void RedisConnection::FailWaiting() {
  std::deque<Waiting> batch;
  batch.swap(waiting_);
  for (auto& w : batch) {
    Pending* p = w.p;
    p->waiting = false;
    if (p->done) {
      if (!p->timer_open) delete p;
      continue;
    }
    ++counters_.errors;
    Finish(p, NotConnected(), /*defer=*/true);
  }
}

void RedisConnection::Finish(Pending* p, StatusOr<RedisReply> result, bool defer) {
  p->done = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&p->timer), &RedisConnection::OnPendingTimerClosed);
  Callback cb = std::move(p->cb);
  if (defer) {
    Defer(std::move(cb), result.status());
  } else {
    cb(std::move(result));
  }
}

void RedisConnection::OnReply(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* p = static_cast<Pending*>(privdata);
  RedisConnection* self = p->conn;
  p->in_hiredis = false;
  --self->in_flight_;
  if (!p->done) {
    if (reply == nullptr) {
      // The context is being freed: never call user code from in there.
      ++self->counters_.errors;
      std::string why = ac->err != 0 ? std::string(ac->errstr) : self->last_error_;
      self->Finish(p, Status::Unavailable("redis " + self->options_.endpoint.ToString() +
                                          ": connection lost before reply (" + why + ")"),
                   /*defer=*/true);
    } else {
      RedisReply copy = CopyReply(static_cast<redisReply*>(reply));
      if (copy.is_error()) ++self->counters_.error_replies;
      // hiredis frees `reply` after we return; only the copy escapes.
      self->Finish(p, std::move(copy), /*defer=*/false);
    }
  }
  if (!p->timer_open) delete p;  // a late reply after the timeout
}

void RedisConnection::OnCommandTimer(uv_timer_t* timer) {
  auto* p = static_cast<Pending*>(timer->data);
  RedisConnection* self = p->conn;
  ++self->counters_.timeouts;
  // hiredis keeps `p` as privdata; the late reply finds done == true.
  self->Finish(p,
               Status::Timeout("redis " + self->options_.endpoint.ToString() +
                               ": no reply within " +
                               std::to_string(self->options_.command_timeout_ms) + " ms"),
               /*defer=*/false);
}

void RedisConnection::OnPendingTimerClosed(uv_handle_t* handle) {
  auto* p = static_cast<Pending*>(handle->data);
  p->timer_open = false;
  if (!p->in_hiredis && !p->waiting) delete p;
}

void RedisConnection::Defer(Callback cb, Status status) {
  deferred_.emplace_back(std::move(cb), std::move(status));
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(defer_timer_))) {
    uv_timer_start(defer_timer_, &RedisConnection::OnDeferTimer, 0, 0);
  }
}

void RedisConnection::OnDeferTimer(uv_timer_t* timer) {
  auto* self = static_cast<RedisConnection*>(timer->data);
  if (self == nullptr) return;
  // Results deferred by these callbacks go to the next round.
  std::deque<std::pair<Callback, Status>> batch;
  batch.swap(self->deferred_);
  for (auto& item : batch) item.first(std::move(item.second));
}

}  // namespace strata
