// AdminServer: the admin HTTP/1.1 endpoint (health, readiness, metrics) on
// a TCP port, served by its own thread and its own libuv loop so that a
// flood on the data plane cannot starve liveness probes.
//
// Connections: keep-alive and pipelining are supported; a connection's
// requests are answered in order, one at a time, by the handler. A request
// with "Connection: close" (or HTTP/1.0 without keep-alive) closes the
// connection once its response is written; bytes that cannot be parsed are
// answered with 400 and a one-line reason, then the connection closes.
//
// Defences, each counted: over max_connections, a new connection is
// accepted and closed at once (rejected). A request must arrive whole within
// header_timeout_ms of the connection opening, or of its first byte when it
// follows an earlier request (the slow-client cut-off); a connection with
// nothing to do is closed after idle_timeout_ms (both count as timeouts).
// A client that does not read its responses is closed once more than
// max_output_bytes of them wait to be written. Responses to requests
// pipelined in one read count together, so one read of small requests
// cannot make the server queue many megabytes of answers.
//
// Ownership: Start returns the only owner. Destroying the server stops it.
// The handler is owned by the server and destroyed with it.
//
// Thread affinity: Start, port, counters and Stop may be called from any
// thread (Stop not from the handler: it joins the admin thread). The handler
// runs on the admin thread only; everything else in the implementation runs
// there too.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"
#include "proxy/http_codec.h"

namespace strata {

struct AdminServerOptions {
  // "HOST:PORT" with a numeric IPv4 host ("127.0.0.1:9100", "0.0.0.0:9100")
  // or a bracketed IPv6 one ("[::1]:9100"). Port 0 picks a free port.
  std::string listen = "127.0.0.1:9100";
  size_t max_connections = 64;
  uint64_t header_timeout_ms = 5000;
  uint64_t idle_timeout_ms = 60000;
  size_t max_header_bytes = 8 << 10;
  size_t max_body_bytes = 4 << 10;
  size_t max_output_bytes = 1 << 20;  // queued responses per connection
};

// Readable from any thread; relaxed counts, for metrics.
struct AdminCounters {
  std::atomic<uint64_t> requests{0};          // parsed requests answered
  std::atomic<uint64_t> bad_requests{0};      // parse errors answered with 400
  std::atomic<uint64_t> timeouts{0};          // header or idle cut-offs
  std::atomic<uint64_t> rejected{0};          // over max_connections
  std::atomic<uint64_t> connections_open{0};  // now
};

// Called on the admin thread for every request; must not block for long
// (it delays every other admin connection) and must not throw.
using AdminHandler = std::function<HttpResponse(const HttpRequest&)>;

class AdminServer {
 public:
  using Handler = AdminHandler;

  // Binds, listens and starts the admin thread. Errors name the option and
  // the address: "admin.listen 127.0.0.1:9100: address already in use".
  static StatusOr<std::unique_ptr<AdminServer>> Start(const AdminServerOptions& options,
                                                      Handler handler);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // The bound port (the one picked when options.listen asked for port 0).
  int port() const { return port_; }
  const AdminCounters& counters() const { return counters_; }

  // Closes the listener and every connection (pending responses are dropped)
  // and joins the admin thread. Idempotent; safe from any thread except the
  // admin thread itself.
  void Stop();

  struct Loop;        // the admin thread's state; defined in admin_server.cc
  struct Connection;  // one client; defined in admin_server.cc

 private:
  AdminServer(const AdminServerOptions& options, Handler handler);

  AdminServerOptions options_;
  Handler handler_;
  AdminCounters counters_;
  int port_ = 0;
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
  std::mutex stop_mu_;  // serializes concurrent Stop calls
  bool stopped_ = false;
};

}  // namespace strata
