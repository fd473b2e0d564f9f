// Strata C++ client: blocking calls and pipelined batches over the Unix
// socket, speaking the wire protocol in docs/protocol.md (msgpack-RPC).
//
//   auto c = strata::client::Client::Connect("/run/strata/strata.sock", {.timeout_ms = 2000});
//   if (!c.ok()) { ... c.status() ... }
//   Status st = c->Set("k", "v", {.ttl_ms = 30000}).status();
//   StatusOr<std::optional<std::string>> v = c->Get("k");   // nullopt = miss
//
// Errors: a server error becomes a Status whose code is the protocol code
// (the numbers equal strata::Code) and whose message is the server's. Client
// side failures: Unavailable (cannot connect, connection lost), Timeout
// (Options::timeout_ms passed), Internal (the server sent something that is
// not a well-formed response), BadArgs (a local precondition, e.g. a socket
// path too long).
//
// Connection: opened by Connect. After it breaks (server restart, timeout,
// garbage), the call that saw it fails and the next call reconnects to the
// same path. A connection found dead before a call is re-opened silently,
// since nothing was sent on it.
//
// Thread affinity: NOT thread-safe. Use one Client per thread (a Client is
// cheap: one socket). A Client may be moved between threads between calls.
// Ownership: the Client owns its socket; destroying it closes the socket.
// SIGPIPE is never raised (writes use MSG_NOSIGNAL).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "strata/batch.h"
#include "strata/options.h"

namespace strata::client {

class Connection;

class Client {
 public:
  static StatusOr<Client> Connect(std::string path, Options options = {});

  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  ~Client();

  // Value or nullopt on a miss.
  StatusOr<std::optional<std::string>> Get(std::string_view key);
  // true if stored; false if nx/xx was not met.
  StatusOr<bool> Set(std::string_view key, std::string_view value, const SetOptions& opts = {});
  // REQUIRES: !keys.empty() (else the server answers BadArgs).
  Status Del(const std::vector<std::string>& keys);
  StatusOr<std::vector<std::optional<std::string>>> MGet(const std::vector<std::string>& keys);
  Status MSet(const std::vector<std::pair<std::string, std::string>>& pairs,
              const MSetOptions& opts = {});
  // Remaining ms; -1 = no expiry; -2 = no such key.
  StatusOr<int64_t> Ttl(std::string_view key);
  // true if the key existed. ttl_ms <= 0 deletes it.
  StatusOr<bool> Expire(std::string_view key, int64_t ttl_ms);
  // How many of the keys exist (a repeated key counts each time).
  StatusOr<int64_t> Exists(const std::vector<std::string>& keys);
  Status Ping();
  StatusOr<StatsMap> Stats();

  // Sends every request of `batch` in one write and waits for all responses
  // (matched by msgid; they may arrive out of order). Returns the transport
  // status; per-entry results are in the batch.
  Status Execute(Batch& batch);

  const std::string& path() const { return path_; }

 private:
  Client(std::string path, Options options);
  Status EnsureConnected();
  template <typename T>
  StatusOr<T> Call(Batch& b, Ref<T> ref);

  std::string path_;
  Options options_;
  uint32_t next_msgid_ = 1;
  std::unique_ptr<Connection> conn_;
};

}  // namespace strata::client
