#include "proxy/admin_server.h"

#include <netinet/in.h>
#include <uv.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <unordered_set>
#include <vector>

namespace strata {

// Everything the admin thread owns. Built by Start on the caller's thread
// before the admin thread exists; afterwards touched only on that thread
// (except stop_async, which uv_async_send may poke from anywhere).
struct AdminServer::Loop {
  uv_loop_t loop;
  uv_tcp_t listener;
  uv_async_t stop_async;
  const AdminServerOptions* options = nullptr;
  AdminHandler* handler = nullptr;
  AdminCounters* counters = nullptr;
  bool stopping = false;
  std::unordered_set<Connection*> conns;
  // Shared by all connections: bytes are parsed (and copied as needed) as
  // soon as they are read, so an idle connection holds no input buffer.
  std::vector<char> read_buffer = std::vector<char>(64 << 10);
};

// One client. Lifetime: created on accept, freed in the close callback of
// the last of its two handles (tcp, timer).
struct AdminServer::Connection {
  Connection(Loop* l, HttpParserLimits limits) : loop(l), parser(limits) {}

  Loop* loop;
  uv_tcp_t tcp;
  uv_timer_t timer;
  int open_handles = 0;
  bool closing = false;
  // A response that ends the connection is queued; later input is dropped.
  bool close_after_write = false;
  bool shut_down = false;  // uv_shutdown issued
  bool eof = false;        // the client half-closed; reading stopped
  // Output is flushed and our side shut down; waiting (kLingerMs at most)
  // for the client to close, so that input we never read does not turn our
  // FIN into a reset that could destroy the response in flight.
  bool lingering = false;
  // The timer is the header deadline of the request now arriving.
  bool header_deadline = false;
  HttpRequestParser parser;

  std::string out;   // responses not yet handed to a write
  std::string wbuf;  // the write in flight
  bool writing = false;
  uv_write_t write_req;
  uv_shutdown_t shutdown_req;
};

namespace {

using Loop = AdminServer::Loop;
using Conn = AdminServer::Connection;

constexpr char kPlainText[] = "text/plain; charset=utf-8";
// How long a closing connection waits for the client to hang up.
constexpr uint64_t kLingerMs = 2000;

uv_handle_t* H(void* handle) { return static_cast<uv_handle_t*>(handle); }
uv_stream_t* S(uv_tcp_t* tcp) { return reinterpret_cast<uv_stream_t*>(tcp); }

void OnConnClosed(uv_handle_t* h) {
  auto* c = static_cast<Conn*>(h->data);
  if (--c->open_handles == 0) delete c;
}

void CloseConn(Conn* c) {
  if (c->closing) return;
  c->closing = true;
  c->loop->conns.erase(c);
  c->loop->counters->connections_open.fetch_sub(1, std::memory_order_relaxed);
  uv_timer_stop(&c->timer);
  // Pending writes and the shutdown complete with UV_ECANCELED before the
  // close callbacks run, so the embedded requests outlive them.
  uv_close(H(&c->timer), OnConnClosed);
  uv_close(H(&c->tcp), OnConnClosed);
}

void OnTimer(uv_timer_t* t) {
  auto* c = static_cast<Conn*>(t->data);
  if (!c->lingering) c->loop->counters->timeouts.fetch_add(1, std::memory_order_relaxed);
  CloseConn(c);
}

void OnShutdown(uv_shutdown_t* req, int status) {
  auto* c = static_cast<Conn*>(req->data);
  if (c->closing) return;
  if (status < 0) {
    CloseConn(c);
    return;
  }
  if (c->eof) {  // the client has hung up already: nothing to wait for
    CloseConn(c);
    return;
  }
  c->lingering = true;
  uv_timer_start(&c->timer, OnTimer, kLingerMs, 0);
}

void Flush(Conn* c);

void OnWrite(uv_write_t* req, int status) {
  auto* c = static_cast<Conn*>(req->data);
  c->writing = false;
  c->wbuf.clear();
  if (c->closing) return;
  if (status < 0) {
    CloseConn(c);
    return;
  }
  Flush(c);
}

// Starts a write of the queued output, or finishes the connection when all
// is written and it is to close.
void Flush(Conn* c) {
  if (c->writing || c->closing) return;
  if (c->out.empty()) {
    if (c->close_after_write && !c->shut_down) {
      c->shut_down = true;
      c->shutdown_req.data = c;
      if (uv_shutdown(&c->shutdown_req, S(&c->tcp), OnShutdown) != 0) CloseConn(c);
    }
    return;
  }
  // Whatever the kernel takes now never counts against max_output_bytes.
  uv_buf_t now = uv_buf_init(c->out.data(), static_cast<unsigned>(c->out.size()));
  int n = uv_try_write(S(&c->tcp), &now, 1);
  if (n > 0) c->out.erase(0, static_cast<size_t>(n));
  if (c->out.empty()) {
    Flush(c);  // all written: maybe shut down
    return;
  }
  c->wbuf.swap(c->out);
  c->out.clear();
  c->writing = true;
  uv_buf_t buf = uv_buf_init(c->wbuf.data(), static_cast<unsigned>(c->wbuf.size()));
  c->write_req.data = c;
  if (uv_write(&c->write_req, S(&c->tcp), &buf, 1, OnWrite) != 0) {
    c->writing = false;
    CloseConn(c);
  }
}

size_t PendingOutput(const Conn* c) { return c->out.size() + (c->writing ? c->wbuf.size() : 0); }

HttpResponse CallHandler(Loop* loop, const HttpRequest& request) {
  // The handler is outside code on a thread with nothing above it to catch;
  // an exception here would end the process rather than one request.
  try {
    return (*loop->handler)(request);
  } catch (const std::exception& e) {
    return HttpResponse{500, kPlainText, std::string("internal error: ") + e.what() + "\n", {}};
  } catch (...) {
    return HttpResponse{500, kPlainText, "internal error\n", {}};
  }
}

void HandleBytes(Conn* c, std::string_view bytes) {
  Loop* loop = c->loop;
  std::vector<HttpRequest> requests;
  Status st = c->parser.Feed(bytes, &requests);
  for (const HttpRequest& r : requests) {
    loop->counters->requests.fetch_add(1, std::memory_order_relaxed);
    HttpResponse response = CallHandler(loop, r);
    bool keep_alive = r.keep_alive && !loop->stopping;
    c->out += SerializeHttpResponse(response, keep_alive, r.method == "HEAD");
    if (!keep_alive) c->close_after_write = true;
    if (c->out.size() > loop->options->max_output_bytes) Flush(c);
    if (c->closing) return;
    if (PendingOutput(c) > loop->options->max_output_bytes) {
      CloseConn(c);  // the client is not reading what it asked for
      return;
    }
  }
  if (!st.ok() && !c->close_after_write) {
    loop->counters->bad_requests.fetch_add(1, std::memory_order_relaxed);
    c->out += HttpResponseBytes(400, kPlainText, st.message() + "\n", false);
    c->close_after_write = true;
  }

  const AdminServerOptions& o = *loop->options;
  if (c->close_after_write) {
    // Bounds the final write to a client that does not read.
    uv_timer_start(&c->timer, OnTimer, o.header_timeout_ms, 0);
    c->header_deadline = false;
  } else if (c->parser.mid_request()) {
    // A request's deadline starts with its first byte and is not extended
    // by later ones: a slow drip of bytes is exactly what it cuts off.
    if (!requests.empty() || !c->header_deadline) {
      uv_timer_start(&c->timer, OnTimer, o.header_timeout_ms, 0);
      c->header_deadline = true;
    }
  } else {
    uv_timer_start(&c->timer, OnTimer, o.idle_timeout_ms, 0);
    c->header_deadline = false;
  }
  Flush(c);
}

void OnAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* c = static_cast<Conn*>(h->data);
  std::vector<char>& b = c->loop->read_buffer;
  *buf = uv_buf_init(b.data(), static_cast<unsigned>(b.size()));
}

void OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* c = static_cast<Conn*>(s->data);
  if (c->closing) return;
  if (n < 0) {
    // A client that half-closes after its requests still gets the answers.
    if (n == UV_EOF && !c->lingering && (c->writing || !c->out.empty())) {
      uv_read_stop(s);
      c->eof = true;
      c->close_after_write = true;
      return;
    }
    CloseConn(c);
    return;
  }
  if (n == 0 || c->close_after_write) return;  // after the last response: discard
  HandleBytes(c, std::string_view(buf->base, static_cast<size_t>(n)));
}

void OnRejectedClosed(uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); }

void OnConnection(uv_stream_t* server, int status) {
  auto* loop = static_cast<Loop*>(server->data);
  if (status < 0 || loop->stopping) return;
  const AdminServerOptions& o = *loop->options;
  if (loop->conns.size() >= o.max_connections) {
    // Accept and close: leaving it in the backlog would only delay the
    // client's failure and keep the listener readable.
    auto* tcp = new uv_tcp_t;
    uv_tcp_init(&loop->loop, tcp);
    (void)uv_accept(server, S(tcp));
    uv_close(H(tcp), OnRejectedClosed);
    loop->counters->rejected.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto* c = new Conn(loop, HttpParserLimits{o.max_header_bytes, o.max_body_bytes});
  uv_tcp_init(&loop->loop, &c->tcp);
  uv_timer_init(&loop->loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->open_handles = 2;
  loop->conns.insert(c);
  loop->counters->connections_open.fetch_add(1, std::memory_order_relaxed);
  if (uv_accept(server, S(&c->tcp)) != 0 || uv_read_start(S(&c->tcp), OnAlloc, OnRead) != 0) {
    CloseConn(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_timer_start(&c->timer, OnTimer, o.header_timeout_ms, 0);
  c->header_deadline = true;
}

void OnStop(uv_async_t* a) {
  auto* loop = static_cast<Loop*>(a->data);
  if (loop->stopping) return;
  loop->stopping = true;
  uv_close(H(&loop->listener), nullptr);
  std::vector<Conn*> all(loop->conns.begin(), loop->conns.end());
  for (Conn* c : all) CloseConn(c);
  uv_close(H(&loop->stop_async), nullptr);
}

bool AllDigits(const std::string& s) {
  return !s.empty() && s.size() <= 5 &&
         std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

// "HOST:PORT" or "[V6HOST]:PORT" into a socket address.
StatusOr<sockaddr_storage> ParseListen(const std::string& listen) {
  auto bad = [&](const std::string& why) {
    return Status::BadArgs("admin.listen " + listen + ": " + why);
  };
  std::string host, port;
  bool v6 = !listen.empty() && listen[0] == '[';
  if (v6) {
    size_t close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return bad("expected [IPV6]:PORT");
    }
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos) return bad("expected HOST:PORT");
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
    if (host.find(':') != std::string::npos) return bad("an IPv6 host must be in brackets");
  }
  if (!AllDigits(port) || std::stoi(port) > 65535) return bad("port must be 0..65535");
  sockaddr_storage addr;
  std::memset(&addr, 0, sizeof(addr));
  int rc = v6 ? uv_ip6_addr(host.c_str(), std::stoi(port), reinterpret_cast<sockaddr_in6*>(&addr))
              : uv_ip4_addr(host.c_str(), std::stoi(port), reinterpret_cast<sockaddr_in*>(&addr));
  if (rc != 0) return bad("host must be a numeric IPv4 address or a bracketed IPv6 address");
  return addr;
}

}  // namespace

AdminServer::AdminServer(const AdminServerOptions& options, Handler handler)
    : options_(options), handler_(std::move(handler)) {}

StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(const AdminServerOptions& options,
                                                          Handler handler) {
  auto addr = ParseListen(options.listen);
  if (!addr.ok()) return addr.status();
  if (!handler) return Status::BadArgs("admin server: no handler");

  std::unique_ptr<AdminServer> server(new AdminServer(options, std::move(handler)));
  auto loop = std::make_unique<Loop>();
  loop->options = &server->options_;
  loop->handler = &server->handler_;
  loop->counters = &server->counters_;
  int rc = uv_loop_init(&loop->loop);
  if (rc != 0) return Status::Internal(std::string("admin server: uv_loop_init: ") + uv_strerror(rc));
  uv_tcp_init(&loop->loop, &loop->listener);
  loop->listener.data = loop.get();
  // bind(2)'s EADDRINUSE surfaces from uv_listen, so both name the address.
  rc = uv_tcp_bind(&loop->listener, reinterpret_cast<const sockaddr*>(&addr.value()), 0);
  if (rc == 0) rc = uv_listen(S(&loop->listener), 128, OnConnection);
  if (rc == 0) {
    sockaddr_storage bound;
    int len = sizeof(bound);
    rc = uv_tcp_getsockname(&loop->listener, reinterpret_cast<sockaddr*>(&bound), &len);
    if (rc == 0) {
      server->port_ = bound.ss_family == AF_INET6
                          ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                          : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    }
  }
  if (rc != 0) {
    uv_close(H(&loop->listener), nullptr);
    uv_run(&loop->loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop->loop);
    return Status::Unavailable("admin.listen " + options.listen + ": " + uv_strerror(rc));
  }
  uv_async_init(&loop->loop, &loop->stop_async, OnStop);
  loop->stop_async.data = loop.get();

  server->loop_ = std::move(loop);
  Loop* l = server->loop_.get();
  server->thread_ = std::thread([l] { uv_run(&l->loop, UV_RUN_DEFAULT); });
  return StatusOr<std::unique_ptr<AdminServer>>(std::move(server));
}

AdminServer::~AdminServer() { Stop(); }

void AdminServer::Stop() {
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (stopped_ || loop_ == nullptr) return;  // no loop: Start failed
  stopped_ = true;
  uv_async_send(&loop_->stop_async);
  thread_.join();
  // Every handle was closed and its callback run before uv_run returned.
  uv_loop_close(&loop_->loop);
  loop_.reset();
}

}  // namespace strata
