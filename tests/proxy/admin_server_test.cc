// The admin server over real loopback TCP, with plain POSIX client code.
// Every wait is bounded (a few seconds at most) so a broken server fails the
// test instead of hanging it.
#include "proxy/admin_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "proxy/admin_routes.h"

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

bool WaitFor(const std::function<bool()>& pred, int timeout_ms = 2000) {
  auto start = Clock::now();
  while (!pred()) {
    if (MsSince(start) > timeout_ms) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

struct Response {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;

  std::string Header(const std::string& name) const {
    size_t pos = head.find("\r\n");
    while (pos != std::string::npos && pos + 2 < head.size()) {
      size_t start = pos + 2;
      size_t end = head.find("\r\n", start);
      std::string line = head.substr(start, end == std::string::npos ? end : end - start);
      size_t colon = line.find(':');
      if (colon == name.size() && strncasecmp(line.data(), name.data(), colon) == 0) {
        size_t v = colon + 1;
        while (v < line.size() && line[v] == ' ') ++v;
        return line.substr(v);
      }
      pos = end;
    }
    return "";
  }
};

// A blocking-connect, poll-read HTTP client for one connection.
class TestClient {
 public:
  explicit TestClient(int port, int rcvbuf = 0, const char* host = "127.0.0.1") {
    bool v6 = std::strchr(host, ':') != nullptr;
    fd_ = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc;
    if (v6) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(static_cast<uint16_t>(port));
      inet_pton(AF_INET6, host, &a.sin6_addr);
      rc = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(port));
      inet_pton(AF_INET, host, &a.sin_addr);
      rc = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    }
    connected_ = rc == 0;
  }
  ~TestClient() {
    if (fd_ >= 0) close(fd_);
  }
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool connected() const { return connected_; }
  void ShutdownWrite() { shutdown(fd_, SHUT_WR); }
  void Close() {
    close(fd_);
    fd_ = -1;
  }

  bool Send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // The next complete response, or nullopt on timeout or close first.
  // `head_only`: the response to a HEAD has no body despite Content-Length.
  std::optional<Response> Next(bool head_only = false, int timeout_ms = 3000) {
    auto start = Clock::now();
    while (true) {
      size_t end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) {
        Response r;
        r.head = buf_.substr(0, end);
        if (r.head.compare(0, 9, "HTTP/1.1 ") == 0) r.status = std::atoi(r.head.c_str() + 9);
        size_t len = head_only ? 0 : std::strtoul(r.Header("Content-Length").c_str(), nullptr, 10);
        if (buf_.size() >= end + 4 + len) {
          r.body = buf_.substr(end + 4, len);
          buf_.erase(0, end + 4 + len);
          return r;
        }
      }
      int left = timeout_ms - static_cast<int>(MsSince(start));
      if (left <= 0 || !ReadSome(left)) return std::nullopt;
    }
  }

  // True if the server ends the connection (EOF or reset) within the
  // timeout. Bytes that arrive first are kept for Next().
  bool WaitClosed(int timeout_ms = 2000) {
    auto start = Clock::now();
    while (!closed_) {
      int left = timeout_ms - static_cast<int>(MsSince(start));
      if (left <= 0) return false;
      ReadSome(left);
    }
    return true;
  }

  const std::string& buffered() const { return buf_; }

 private:
  // Reads what is available; false on timeout, EOF or error.
  bool ReadSome(int timeout_ms) {
    if (closed_) return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    char tmp[65536];
    ssize_t n = recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string buf_;
};

AdminServerOptions TestOptions() {
  AdminServerOptions o;
  o.listen = "127.0.0.1:0";
  return o;
}

const char kMetrics[] = "# TYPE strata_up gauge\nstrata_up 1\n";
const char kStats[] = "{\"uptime_s\":1}";

// A server with the real routes and fixed hooks.
struct TestServer {
  explicit TestServer(AdminServerOptions options = TestOptions()) {
    hooks.metrics_text = [] { return std::string(kMetrics); };
    hooks.stats_json = [] { return std::string(kStats); };
    hooks.ready = [this](std::string* why) {
      if (ready.load()) return true;
      *why = "{\"ready\":false,\"reason\":\"l2 down\"}";
      return false;
    };
    auto s = AdminServer::Start(options, [this](const HttpRequest& r) {
      return HandleAdminRequest(hooks, r);
    });
    REQUIRE(s.ok());
    server = std::move(s).value();
    REQUIRE(server->port() > 0);
  }

  int port() const { return server->port(); }
  const AdminCounters& counters() const { return server->counters(); }

  std::atomic<bool> ready{true};
  AdminHooks hooks;
  std::unique_ptr<AdminServer> server;
};

std::string Get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

}  // namespace

TEST_CASE("admin routes: direct calls", "[admin]") {
  AdminHooks hooks;
  hooks.metrics_text = [] { return std::string("m 1\n"); };
  hooks.stats_json = [] { return std::string("{}"); };
  bool ready = false;
  hooks.ready = [&](std::string* why) {
    *why = "{\"ready\":false}";
    return ready;
  };
  HttpRequest r;
  r.method = "GET";
  r.target = "/readyz";
  HttpResponse resp = HandleAdminRequest(hooks, r);
  CHECK(resp.status == 503);
  CHECK(resp.body == "{\"ready\":false}");
  ready = true;
  resp = HandleAdminRequest(hooks, r);
  CHECK(resp.status == 200);
  CHECK(resp.body == "{\"ready\":true}");

  r.target = "/healthz?verbose=1";
  resp = HandleAdminRequest(hooks, r);
  CHECK(resp.status == 200);
  CHECK(resp.body == "ok\n");

  r.method = "DELETE";
  resp = HandleAdminRequest(hooks, r);
  CHECK(resp.status == 405);
  REQUIRE(resp.headers.size() == 1);
  CHECK(resp.headers[0] == std::make_pair(std::string("Allow"), std::string("GET, HEAD")));

  r.method = "GET";
  r.target = "/metrics/";  // not a route: exact paths only
  CHECK(HandleAdminRequest(hooks, r).status == 404);

  AdminHooks none;
  r.target = "/metrics";
  CHECK(HandleAdminRequest(none, r).status == 503);
}

TEST_CASE("admin server: every route over TCP", "[admin]") {
  TestServer s;
  TestClient c(s.port());
  REQUIRE(c.connected());

  REQUIRE(c.Send(Get("/healthz")));
  auto r = c.Next();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "ok\n");
  CHECK(r->Header("Content-Type").rfind("text/plain", 0) == 0);
  CHECK(r->Header("Connection") == "keep-alive");
  CHECK(r->Header("Cache-Control") == "no-store");

  REQUIRE(c.Send(Get("/readyz")));
  r = c.Next();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "{\"ready\":true}");
  CHECK(r->Header("Content-Type") == "application/json");

  s.ready = false;
  REQUIRE(c.Send(Get("/readyz")));
  r = c.Next();
  REQUIRE(r);
  CHECK(r->status == 503);
  CHECK(r->head.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0) == 0);
  CHECK(r->body == "{\"ready\":false,\"reason\":\"l2 down\"}");

  REQUIRE(c.Send(Get("/metrics?x=1")));
  r = c.Next();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == kMetrics);
  CHECK(r->Header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");

  REQUIRE(c.Send(Get("/stats")));
  r = c.Next();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == kStats);
  CHECK(r->Header("Content-Type") == "application/json");
  CHECK(s.counters().requests.load() == 5);
}

TEST_CASE("admin server: HEAD has the GET's Content-Length and no body", "[admin]") {
  TestServer s;
  TestClient c(s.port());
  for (const char* path : {"/healthz", "/readyz", "/metrics", "/stats"}) {
    INFO(path);
    REQUIRE(c.Send(Get(path)));
    auto get = c.Next();
    REQUIRE(get);
    REQUIRE(c.Send(std::string("HEAD ") + path + " HTTP/1.1\r\n\r\n"));
    auto head = c.Next(/*head_only=*/true);
    REQUIRE(head);
    CHECK(head->status == 200);
    CHECK(head->Header("Content-Length") == std::to_string(get->body.size()));
    CHECK(head->Header("Content-Type") == get->Header("Content-Type"));
  }
  // Had a HEAD carried a body, it would be in front of this response.
  REQUIRE(c.Send(Get("/healthz")));
  auto r = c.Next();
  REQUIRE(r);
  CHECK(r->head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(r->body == "ok\n");
  CHECK(c.buffered().empty());
}

TEST_CASE("admin server: 404 and 405", "[admin]") {
  TestServer s;
  TestClient c(s.port());
  REQUIRE(c.Send(Get("/nope")));
  auto r = c.Next();
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(r->body.find("/healthz") != std::string::npos);
  CHECK(r->body.find("/metrics") != std::string::npos);

  REQUIRE(c.Send("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
  r = c.Next();
  REQUIRE(r);
  CHECK(r->status == 405);
  CHECK(r->head.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0) == 0);
  CHECK(r->Header("Allow") == "GET, HEAD");
  CHECK(r->Header("Connection") == "keep-alive");

  REQUIRE(c.Send(Get("/healthz")));  // still usable
  r = c.Next();
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("admin server: garbage gets 400 and the connection closes", "[admin]") {
  TestServer s;
  TestClient c(s.port());
  REQUIRE(c.Send("\x16\x03\x01 hello, this is not HTTP\r\n\r\n"));
  auto r = c.Next();
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(r->head.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(r->Header("Connection") == "close");
  CHECK(r->body.find("malformed HTTP request") != std::string::npos);
  CHECK(c.WaitClosed());
  CHECK(s.counters().bad_requests.load() == 1);
  CHECK(s.counters().requests.load() == 0);
  // The server shut down its side and waits (briefly) for ours.
  CHECK(s.counters().connections_open.load() == 1);
  c.Close();
  CHECK(WaitFor([&] { return s.counters().connections_open.load() == 0; }));
}

TEST_CASE("admin server: a request split byte by byte", "[admin]") {
  TestServer s;
  TestClient c(s.port());
  std::string req = Get("/stats", "Accept: application/json\r\n");
  for (char ch : req) {
    REQUIRE(c.Send(std::string(1, ch)));
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  auto r = c.Next();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == kStats);
}

TEST_CASE("admin server: three pipelined requests answered in order", "[admin]") {
  TestServer s;
  TestClient c(s.port());
  REQUIRE(c.Send(Get("/healthz") + Get("/stats") + Get("/nope")));
  auto a = c.Next();
  auto b = c.Next();
  auto d = c.Next();
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(d);
  CHECK(a->body == "ok\n");
  CHECK(b->body == kStats);
  CHECK(d->status == 404);
  CHECK(c.buffered().empty());
}

TEST_CASE("admin server: one keep-alive connection carries 100 requests", "[admin]") {
  TestServer s;
  TestClient c(s.port());
  for (int i = 0; i < 100; ++i) {
    REQUIRE(c.Send(Get(i % 2 ? "/healthz" : "/metrics")));
    auto r = c.Next();
    REQUIRE(r);
    REQUIRE(r->status == 200);
    REQUIRE(r->body == (i % 2 ? std::string("ok\n") : std::string(kMetrics)));
  }
  CHECK(s.counters().requests.load() == 100);
  CHECK(s.counters().connections_open.load() == 1);
}

TEST_CASE("admin server: HTTP/1.0 and Connection: close end the connection", "[admin]") {
  TestServer s;
  SECTION("HTTP/1.0") {
    TestClient c(s.port());
    REQUIRE(c.Send("GET /healthz HTTP/1.0\r\n\r\n"));
    auto r = c.Next();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->Header("Connection") == "close");
    CHECK(c.WaitClosed());
  }
  SECTION("HTTP/1.0 with keep-alive stays open") {
    TestClient c(s.port());
    REQUIRE(c.Send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto r = c.Next();
    REQUIRE(r);
    CHECK(r->Header("Connection") == "keep-alive");
    CHECK_FALSE(c.WaitClosed(200));
  }
  SECTION("Connection: close, with a request after it that is not answered") {
    TestClient c(s.port());
    REQUIRE(c.Send(Get("/healthz", "Connection: close\r\n") + Get("/stats")));
    auto r = c.Next();
    REQUIRE(r);
    CHECK(r->body == "ok\n");
    CHECK(r->Header("Connection") == "close");
    CHECK(c.WaitClosed());
    CHECK(c.buffered().empty());
    CHECK(s.counters().requests.load() == 1);
  }
  CHECK(WaitFor([&] { return s.counters().connections_open.load() == 0; }));
}

TEST_CASE("admin server: a client that half-closes still gets its answers", "[admin]") {
  TestServer s;
  TestClient c(s.port());
  REQUIRE(c.Send(Get("/healthz") + Get("/stats")));
  c.ShutdownWrite();
  auto a = c.Next();
  auto b = c.Next();
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->body == "ok\n");
  CHECK(b->body == kStats);
  CHECK(c.WaitClosed());
  CHECK(WaitFor([&] { return s.counters().connections_open.load() == 0; }));
}

TEST_CASE("admin server: a throwing handler answers 500", "[admin]") {
  auto started = AdminServer::Start(TestOptions(), [](const HttpRequest& r) -> HttpResponse {
    if (r.target == "/boom") throw std::runtime_error("boom");
    return HttpResponse{200, "text/plain", "fine\n", {}};
  });
  REQUIRE(started.ok());
  TestClient c(started.value()->port());
  REQUIRE(c.Send(Get("/boom") + Get("/fine")));
  auto a = c.Next();
  auto b = c.Next();
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->status == 500);
  CHECK(a->body == "internal error: boom\n");
  CHECK(b->body == "fine\n");
}

TEST_CASE("admin server: headers over the limit get 400 naming it", "[admin]") {
  TestServer s;
  TestClient c(s.port());
  REQUIRE(c.Send(Get("/healthz", "X-Pad: " + std::string(9000, 'a') + "\r\n")));
  auto r = c.Next();
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(r->body == "request headers exceed 8192 bytes (admin request limit)\n");
  CHECK(c.WaitClosed());
  CHECK(s.counters().bad_requests.load() == 1);
}

TEST_CASE("admin server: a slow client is cut off after the header timeout", "[admin]") {
  AdminServerOptions o = TestOptions();
  o.header_timeout_ms = 200;
  TestServer s(o);
  TestClient c(s.port());
  auto start = Clock::now();
  REQUIRE(c.Send("GET /hea"));
  CHECK(c.WaitClosed(2000));
  int64_t elapsed = MsSince(start);
  CHECK(elapsed >= 150);
  CHECK(elapsed < 2000);
  CHECK(c.buffered().empty());
  CHECK(WaitFor([&] { return s.counters().timeouts.load() == 1; }));
  CHECK(s.counters().requests.load() == 0);
}

TEST_CASE("admin server: the header deadline is not extended by a drip of bytes", "[admin]") {
  AdminServerOptions o = TestOptions();
  o.header_timeout_ms = 300;
  TestServer s(o);
  TestClient c(s.port());
  auto start = Clock::now();
  std::string req = Get("/healthz");
  bool closed = false;
  for (char ch : req) {  // one byte every 50 ms: 27 bytes would take 1.3 s
    if (!c.Send(std::string(1, ch)) || c.WaitClosed(50)) {
      closed = true;
      break;
    }
  }
  CHECK((closed || c.WaitClosed(2000)));
  CHECK(MsSince(start) < 1000);
  CHECK(c.buffered().empty());
  CHECK(WaitFor([&] { return s.counters().timeouts.load() == 1; }));
}

TEST_CASE("admin server: an idle keep-alive connection is closed", "[admin]") {
  AdminServerOptions o = TestOptions();
  o.idle_timeout_ms = 200;
  o.header_timeout_ms = 5000;
  TestServer s(o);
  TestClient c(s.port());
  REQUIRE(c.Send(Get("/healthz")));
  REQUIRE(c.Next());
  auto start = Clock::now();
  CHECK(c.WaitClosed(2000));
  CHECK(MsSince(start) >= 150);
  CHECK(WaitFor([&] { return s.counters().timeouts.load() == 1; }));
}

TEST_CASE("admin server: connections over max_connections are closed and counted", "[admin]") {
  AdminServerOptions o = TestOptions();
  o.max_connections = 2;
  TestServer s(o);
  TestClient a(s.port());
  TestClient b(s.port());
  // A response on each proves the server has accepted both.
  REQUIRE(a.Send(Get("/healthz")));
  REQUIRE(b.Send(Get("/healthz")));
  REQUIRE(a.Next());
  REQUIRE(b.Next());
  CHECK(s.counters().connections_open.load() == 2);

  TestClient extra(s.port());
  REQUIRE(extra.connected());  // the kernel completes the handshake
  extra.Send(Get("/healthz"));
  CHECK(extra.WaitClosed());
  CHECK(extra.buffered().empty());
  CHECK(WaitFor([&] { return s.counters().rejected.load() == 1; }));

  REQUIRE(a.Send(Get("/healthz")));  // the others are unaffected
  auto r = a.Next();
  REQUIRE(r);
  CHECK(r->status == 200);

  // A slot that frees up can be used again.
  b.Send(Get("/healthz", "Connection: close\r\n"));
  REQUIRE(b.Next());
  REQUIRE(b.WaitClosed());
  b.Close();
  REQUIRE(WaitFor([&] { return s.counters().connections_open.load() == 1; }));
  TestClient again(s.port());
  REQUIRE(again.Send(Get("/healthz")));
  r = again.Next();
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("admin server: bind errors name admin.listen and the address", "[admin]") {
  TestServer first;
  AdminServerOptions o = TestOptions();
  std::string addr = "127.0.0.1:" + std::to_string(first.port());
  o.listen = addr;
  auto second = AdminServer::Start(o, [](const HttpRequest&) { return HttpResponse{}; });
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().message() == "admin.listen " + addr + ": address already in use");

  for (const char* bad : {"localhost:9100", "127.0.0.1", "127.0.0.1:99999", "::1:9100",
                          "[::1]9100", "127.0.0.1:x"}) {
    INFO(bad);
    o.listen = bad;
    auto s = AdminServer::Start(o, [](const HttpRequest&) { return HttpResponse{}; });
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().message().rfind(std::string("admin.listen ") + bad + ": ", 0) == 0);
  }
}

TEST_CASE("admin server: IPv6 loopback", "[admin]") {
  AdminServerOptions o = TestOptions();
  o.listen = "[::1]:0";
  auto s = AdminServer::Start(o, [](const HttpRequest&) {
    return HttpResponse{200, "text/plain", "six\n", {}};
  });
  if (!s.ok()) {  // a host without IPv6 still gets a named error
    CHECK(s.status().message().rfind("admin.listen [::1]:0: ", 0) == 0);
    return;
  }
  TestClient c(s.value()->port(), 0, "::1");
  REQUIRE(c.connected());
  REQUIRE(c.Send(Get("/")));
  auto r = c.Next();
  REQUIRE(r);
  CHECK(r->body == "six\n");
}

TEST_CASE("admin server: Stop with connections open", "[admin]") {
  TestServer s;
  TestClient idle(s.port());
  TestClient partial(s.port());
  TestClient used(s.port());
  REQUIRE(used.Send(Get("/healthz")));
  REQUIRE(used.Next());
  REQUIRE(partial.Send("GET /met"));
  REQUIRE(WaitFor([&] { return s.counters().connections_open.load() == 3; }));

  auto start = Clock::now();
  s.server->Stop();
  CHECK(MsSince(start) < 2000);
  CHECK(s.counters().connections_open.load() == 0);
  CHECK(idle.WaitClosed());
  CHECK(partial.WaitClosed());
  CHECK(used.WaitClosed());
  s.server->Stop();  // idempotent; the destructor calls it again

  TestClient late(s.port());
  CHECK_FALSE(late.connected());
}

TEST_CASE("admin server: a client that does not read is closed", "[admin]") {
  AdminServerOptions o = TestOptions();
  std::string big(256 << 10, 'x');
  auto started = AdminServer::Start(o, [&](const HttpRequest&) {
    return HttpResponse{200, "text/plain", big, {}};
  });
  REQUIRE(started.ok());
  auto& server = started.value();
  TestClient c(server->port(), /*rcvbuf=*/4096);
  std::string many;
  for (int i = 0; i < 64; ++i) many += Get("/big");  // 16 MiB of answers
  REQUIRE(c.Send(many));
  CHECK(WaitFor([&] { return server->counters().connections_open.load() == 0; }, 3000));
  CHECK(server->counters().requests.load() < 64);
}

TEST_CASE("admin server: a client that reads gets large pipelined answers", "[admin]") {
  AdminServerOptions o = TestOptions();
  std::string big(256 << 10, 'y');
  auto started = AdminServer::Start(o, [&](const HttpRequest&) {
    return HttpResponse{200, "text/plain", big, {}};
  });
  REQUIRE(started.ok());
  auto& server = started.value();
  TestClient c(server->port());
  std::string many;
  for (int i = 0; i < 3; ++i) many += Get("/big");  // 768 KiB, under the queue limit
  REQUIRE(c.Send(many));
  for (int i = 0; i < 3; ++i) {
    auto r = c.Next();
    REQUIRE(r);
    REQUIRE(r->body.size() == big.size());
  }
}

}  // namespace strata
