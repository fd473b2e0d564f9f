// RedisConnection: one hiredis async connection attached to one libuv loop.
//
// Thread affinity. Construct, call and destroy on the thread that runs
// `loop`; every callback fires on that thread. Nothing here is thread-safe.
//
// Callbacks. Command()'s callback fires exactly once: with the reply (a Redis
// error reply is a successful StatusOr holding a kError reply; the caller
// decides what it means), with Timeout (the per-command timer fired; a late
// reply is swallowed), or with Unavailable (not connected, connection lost,
// connect failed, closed). Callbacks for real replies run from inside
// hiredis; all Unavailable results are delivered on a later loop iteration,
// never from inside Command() or Close(), so callers may issue commands and
// call Close() from any callback. (The destructor is the exception: results
// still waiting for the next loop iteration are delivered from inside it.)
//
// Lifecycle. Start() connects: TCP or Unix socket, then AUTH (password or
// ACL user+password) and SELECT before any user command; only then is the
// connection kConnected. A failed connect, handshake or a disconnect leads to
// kBackoff and a reconnect after an exponential, jittered delay. Commands
// issued while kConnecting wait (at most kMaxWaiting of them, their timeout
// running) and are sent once AUTH/SELECT succeeded, or fail with Unavailable
// if they did not: sent behind a failed AUTH they would still run, as the
// default user. Commands issued in kBackoff, kIdle or kClosed fail fast.
//
// Ownership. The connection owns its hiredis context and its timers. Handle
// memory is freed in libuv close callbacks, so after Close() (or the
// destructor) the loop must run once more before uv_loop_close().
// REQUIRES: the destructor is not called from inside one of this
// connection's callbacks.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <uv.h>

#include "common/status.h"

struct redisAsyncContext;

namespace strata {

// Strata's own copy of a Redis reply tree, so no hiredis type leaves
// tiers/redis_*.
struct RedisReply {
  enum class Type : uint8_t { kNil, kInteger, kString, kStatus, kError, kArray };
  Type type = Type::kNil;
  std::string str;  // kString (binary-safe), kStatus, kError
  int64_t integer = 0;
  std::vector<RedisReply> elements;  // kArray

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
};

struct RedisEndpoint {
  enum class Kind : uint8_t { kTcp, kUnix };
  Kind kind = Kind::kTcp;
  std::string host;  // kTcp (IPv6 without brackets)
  int port = 6379;   // kTcp
  std::string path;  // kUnix
  std::string user;      // ACL user; empty = default user
  std::string password;  // empty = no AUTH
  int db = 0;            // SELECT db when > 0

  // For logs: never contains the password.
  std::string ToString() const;
  // The node's address as routing names it: "host:port" (Redis's own form,
  // IPv6 without brackets) or the Unix socket path.
  std::string Address() const;
};

// Parses "redis://[user:password@|:password@]host[:port][/db]" (IPv6 host in
// brackets; port defaults to 6379) or "unix:///absolute/path". Errors are
// BadArgs naming what is wrong.
StatusOr<RedisEndpoint> ParseRedisEndpoint(std::string_view uri);

class RedisConnection {
 public:
  using Callback = std::function<void(StatusOr<RedisReply>)>;

  struct Options {
    RedisEndpoint endpoint;
    int64_t connect_timeout_ms = 1000;  // TCP/Unix connect plus AUTH/SELECT
    int64_t command_timeout_ms = 1000;  // 0 = no per-command timeout
    int64_t reconnect_base_ms = 50;     // first backoff delay (before jitter)
    int64_t reconnect_max_ms = 5000;    // backoff cap
    uint64_t jitter_seed = 0;           // 0 = seeded from std::random_device
    // Send READONLY in the handshake (Redis Cluster replica reads); resent
    // on every reconnect.
    bool readonly = false;
  };

  enum class State : uint8_t { kIdle, kConnecting, kConnected, kBackoff, kClosed };

  struct Counters {
    uint64_t commands = 0;      // Command() calls
    uint64_t errors = 0;        // commands completed with Unavailable
    uint64_t error_replies = 0; // commands answered with a Redis error reply
    uint64_t timeouts = 0;      // commands completed with Timeout
    uint64_t reconnects = 0;    // reconnect attempts after the first connect
    uint64_t connects = 0;      // handshakes completed (first connect included)
  };

  RedisConnection(uv_loop_t* loop, Options options);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Begins connecting. REQUIRES: state() == kIdle.
  void Start();

  // Sends argv (binary-safe) as one command. REQUIRES: !argv.empty().
  void Command(std::vector<std::string> argv, Callback cb);

  // Disconnects for good; every pending callback fires with Unavailable
  // exactly once (on a later loop iteration). Idempotent.
  void Close();

  State state() const { return state_; }
  bool connected() const { return state_ == State::kConnected; }
  const Counters& counters() const { return counters_; }
  // Commands sent and not yet answered by hiredis (includes timed-out ones
  // whose late reply has not arrived yet).
  size_t in_flight() const { return in_flight_; }
  // No callback of this connection is still to fire (nothing sent and
  // unanswered, waiting for the handshake, or deferred): destroying it now
  // calls none.
  bool idle() const { return in_flight_ == 0 && waiting_.empty() && deferred_.empty(); }
  // Why the connection is (or was last) not connected; the server's message
  // for AUTH/SELECT failures.
  const std::string& last_error() const { return last_error_; }
  const RedisEndpoint& endpoint() const { return options_.endpoint; }

 private:
  struct Pending;

  static void OnConnect(const redisAsyncContext* ac, int status);
  static void OnDisconnect(const redisAsyncContext* ac, int status);
  static void OnHandshakeReply(redisAsyncContext* ac, void* reply, void* privdata);
  static void OnReply(redisAsyncContext* ac, void* reply, void* privdata);
  static void OnCommandTimer(uv_timer_t* timer);
  static void OnPendingTimerClosed(uv_handle_t* handle);
  static void OnConnectTimer(uv_timer_t* timer);
  static void OnReconnectTimer(uv_timer_t* timer);
  static void OnDeferTimer(uv_timer_t* timer);

  struct Waiting {
    Pending* p;
    std::vector<std::string> argv;
  };
  static constexpr size_t kMaxWaiting = 65536;

  void Connect();
  void SendHandshake();
  void SendNow(Pending* p, const std::vector<std::string>& argv);
  void FlushWaiting();  // handshake done: send what waited
  void FailWaiting();   // connect or handshake failed, or closed
  // Frees the current context (if any) from our side; its pending callbacks
  // run with no reply and are turned into Unavailable.
  void DropContext();
  void ConnectionFailed(std::string why);
  void ScheduleReconnect();
  void Finish(Pending* p, StatusOr<RedisReply> result, bool defer);
  void Defer(Callback cb, Status status);
  Status NotConnected() const;

  uv_loop_t* loop_;
  Options options_;
  State state_ = State::kIdle;
  redisAsyncContext* ac_ = nullptr;
  int handshake_left_ = 0;
  int backoff_attempt_ = 0;
  size_t in_flight_ = 0;
  Counters counters_;
  std::string last_error_ = "not started";
  std::mt19937_64 rng_;
  // Heap-allocated so their memory can be freed in close callbacks, after
  // this object is gone.
  uv_timer_t* connect_timer_;
  uv_timer_t* reconnect_timer_;
  uv_timer_t* defer_timer_;
  std::deque<std::pair<Callback, Status>> deferred_;
  std::deque<Waiting> waiting_;
};

}  // namespace strata
