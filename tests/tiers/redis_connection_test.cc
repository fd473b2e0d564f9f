// RedisConnection against real redis-server processes started (and stopped,
// by PID) by these tests, on a Unix socket in a temp dir or a loopback port.
#include "tiers/redis_connection.h"

#include "tests/support/redis_server.h"
#include "tests/support/uv_loop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;
using RType = RedisReply::Type;

using testing::RedisServer;
using testing::PortFree;
using testing::TempDir;
using testing::Loop;

RedisEndpoint UnixEp(const std::string& path) {
  RedisEndpoint ep;
  ep.kind = RedisEndpoint::Kind::kUnix;
  ep.path = path;
  return ep;
}

RedisConnection::Options Opts(RedisEndpoint ep) {
  RedisConnection::Options o;
  o.endpoint = std::move(ep);
  o.connect_timeout_ms = 500;
  o.command_timeout_ms = 1000;
  o.reconnect_base_ms = 10;
  o.reconnect_max_ms = 100;
  o.jitter_seed = 42;
  return o;
}

// Sends one command and runs the loop until its callback fires.
StatusOr<RedisReply> Call(Loop& loop, RedisConnection& c, std::vector<std::string> argv) {
  std::optional<StatusOr<RedisReply>> out;
  c.Command(std::move(argv), [&](StatusOr<RedisReply> r) { out.emplace(std::move(r)); });
  loop.RunUntil([&] { return out.has_value(); });
  REQUIRE(out.has_value());
  return std::move(*out);
}

void Shutdown(Loop& loop, std::unique_ptr<RedisConnection>& c) {
  c->Close();
  loop.RunFor(5);
  c.reset();
}

}  // namespace

TEST_CASE("ParseRedisEndpoint accepts and rejects", "[redis]") {
  auto a = ParseRedisEndpoint("redis://127.0.0.1:6380/3");
  REQUIRE(a.ok());
  CHECK(a->kind == RedisEndpoint::Kind::kTcp);
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 6380);
  CHECK(a->db == 3);
  CHECK(a->password.empty());

  auto b = ParseRedisEndpoint("redis://app:s3cr@t@localhost:7000");
  REQUIRE(b.ok());
  CHECK(b->user == "app");
  CHECK(b->password == "s3cr@t");
  CHECK(b->host == "localhost");
  CHECK(b->db == 0);
  CHECK(b->ToString().find("s3cr") == std::string::npos);

  auto c = ParseRedisEndpoint("redis://:pw@host");
  REQUIRE(c.ok());
  CHECK(c->user.empty());
  CHECK(c->password == "pw");
  CHECK(c->port == 6379);

  auto d = ParseRedisEndpoint("redis://[::1]:6390/1");
  REQUIRE(d.ok());
  CHECK(d->host == "::1");
  CHECK(d->port == 6390);

  auto u = ParseRedisEndpoint("unix:///tmp/redis.sock");
  REQUIRE(u.ok());
  CHECK(u->kind == RedisEndpoint::Kind::kUnix);
  CHECK(u->path == "/tmp/redis.sock");

  auto bad = [](const char* s, const char* needle) {
    auto r = ParseRedisEndpoint(s);
    INFO(s);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kBadArgs);
    CHECK(r.status().message().find(needle) != std::string::npos);
  };
  bad("http://x:1", "expected redis://");
  bad("redis://host:abc", "port 'abc'");
  bad("redis://host:0", "port '0'");
  bad("redis://host:70000", "port '70000'");
  bad("redis://host:", "empty port");
  bad("redis://:6379", "missing host");
  bad("redis://host:1/x", "db 'x'");
  bad("redis://host:1/", "db ''");
  bad("redis://user@host:1", "credentials");
  bad("redis://[::1:1", "']'");
  bad("unix://relative.sock", "absolute");
  bad(("unix:///" + std::string(200, 'a')).c_str(), "limit is 107");
}

TEST_CASE("Redis SET/GET binary values, PX/PTTL, error replies", "[redis]") {
  TempDir dir;
  auto server = RedisServer::Unix(dir.path());
  Loop loop;
  auto c = std::make_unique<RedisConnection>(loop.get(), Opts(UnixEp(server->sock())));
  c->Start();
  REQUIRE(loop.RunUntil([&] { return c->connected(); }));

  std::string key("k\0ey", 4);
  std::string value("v\0a\r\nl\xff", 7);
  auto set = Call(loop, *c, {"SET", key, value, "PX", "60000"});
  REQUIRE(set.ok());
  CHECK(set->type == RType::kStatus);
  CHECK(set->str == "OK");
  auto get = Call(loop, *c, {"GET", key});
  REQUIRE(get.ok());
  CHECK(get->type == RType::kString);
  CHECK(get->str == value);
  auto pttl = Call(loop, *c, {"PTTL", key});
  REQUIRE(pttl.ok());
  CHECK(pttl->type == RType::kInteger);
  CHECK(pttl->integer > 59000);
  CHECK(pttl->integer <= 60000);
  auto miss = Call(loop, *c, {"GET", "absent"});
  REQUIRE(miss.ok());
  CHECK(miss->is_nil());

  auto err = Call(loop, *c, {"GET"});  // wrong number of arguments
  REQUIRE(err.ok());
  CHECK(err->is_error());
  CHECK(err->str.find("wrong number of arguments") != std::string::npos);
  CHECK(c->counters().error_replies == 1);

  REQUIRE(Call(loop, *c, {"RPUSH", "list", "a", std::string("\0b", 2)}).ok());
  auto arr = Call(loop, *c, {"LRANGE", "list", "0", "-1"});
  REQUIRE(arr.ok());
  REQUIRE(arr->type == RType::kArray);
  REQUIRE(arr->elements.size() == 2);
  CHECK(arr->elements[1].str == std::string("\0b", 2));
  CHECK(c->connected());
  Shutdown(loop, c);
}

TEST_CASE("Redis pipelined commands complete in order", "[redis]") {
  TempDir dir;
  auto server = RedisServer::Unix(dir.path());
  Loop loop;
  auto c = std::make_unique<RedisConnection>(loop.get(), Opts(UnixEp(server->sock())));
  c->Start();
  REQUIRE(loop.RunUntil([&] { return c->connected(); }));
  constexpr int kN = 1000;
  std::vector<int64_t> order;
  for (int i = 0; i < kN; ++i) {
    c->Command({"INCR", "counter"}, [&order](StatusOr<RedisReply> r) {
      REQUIRE(r.ok());
      order.push_back(r->integer);
    });
  }
  CHECK(c->in_flight() == kN);
  REQUIRE(loop.RunUntil([&] { return order.size() == kN; }));
  for (int i = 0; i < kN; ++i) REQUIRE(order[i] == i + 1);
  CHECK(c->counters().commands == kN);
  Shutdown(loop, c);
}

TEST_CASE("Redis AUTH with requirepass and with an ACL user; SELECT db", "[redis]") {
  auto server = RedisServer::Tcp({"--requirepass", "adminpw"});
  Loop loop;
  auto tcp = [&](std::string user, std::string pass, int db) {
    RedisEndpoint ep;
    ep.host = "127.0.0.1";
    ep.port = server->port();
    ep.user = std::move(user);
    ep.password = std::move(pass);
    ep.db = db;
    return Opts(ep);
  };

  auto admin = std::make_unique<RedisConnection>(loop.get(), tcp("", "adminpw", 0));
  admin->Start();
  REQUIRE(loop.RunUntil([&] { return admin->connected(); }));
  auto acl = Call(loop, *admin, {"ACL", "SETUSER", "app", "on", ">secret", "~*", "+@all"});
  REQUIRE(acl.ok());
  CHECK(acl->str == "OK");

  SECTION("ACL user and SELECT") {
    auto app = std::make_unique<RedisConnection>(loop.get(), tcp("app", "secret", 3));
    app->Start();
    REQUIRE(loop.RunUntil([&] { return app->connected(); }));
    REQUIRE(Call(loop, *app, {"SET", "dbkey", "in3"}).ok());
    auto who = Call(loop, *app, {"ACL", "WHOAMI"});
    REQUIRE(who.ok());
    CHECK(who->str == "app");
    // The admin connection is on db 0: the key is not there.
    auto in0 = Call(loop, *admin, {"GET", "dbkey"});
    REQUIRE(in0.ok());
    CHECK(in0->is_nil());
    REQUIRE(Call(loop, *admin, {"SELECT", "3"}).ok());
    auto in3 = Call(loop, *admin, {"GET", "dbkey"});
    REQUIRE(in3.ok());
    CHECK(in3->str == "in3");
    Shutdown(loop, app);
  }
  SECTION("wrong password: Unavailable with the server's message") {
    auto bad = std::make_unique<RedisConnection>(loop.get(), tcp("app", "nope", 0));
    bad->Start();
    REQUIRE(loop.RunUntil([&] { return bad->last_error().find("WRONGPASS") != std::string::npos; }));
    CHECK_FALSE(bad->connected());
    auto r = Call(loop, *bad, {"PING"});
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kUnavailable);
    CHECK(r.status().message().find("WRONGPASS") != std::string::npos);
    Shutdown(loop, bad);
  }
  SECTION("no password on a protected server") {
    auto anon = std::make_unique<RedisConnection>(loop.get(), tcp("", "", 0));
    anon->Start();
    REQUIRE(loop.RunUntil([&] { return anon->last_error().find("NOAUTH") != std::string::npos; }));
    CHECK_FALSE(anon->connected());
    Shutdown(loop, anon);
  }
  Shutdown(loop, admin);
}

TEST_CASE("Redis per-command timeout; late reply swallowed", "[redis]") {
  TempDir dir;
  auto server = RedisServer::Unix(dir.path());
  Loop loop;
  auto opts = Opts(UnixEp(server->sock()));
  opts.command_timeout_ms = 100;
  auto c = std::make_unique<RedisConnection>(loop.get(), opts);
  c->Start();
  REQUIRE(loop.RunUntil([&] { return c->connected(); }));
  int calls = 0;
  std::optional<Status> status;
  auto start = Clock::now();
  c->Command({"DEBUG", "SLEEP", "0.5"}, [&](StatusOr<RedisReply> r) {
    ++calls;
    status = r.status();
  });
  REQUIRE(loop.RunUntil([&] { return calls > 0; }));
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  CHECK(status->code() == Code::kTimeout);
  CHECK(waited.count() < 400);
  CHECK(c->counters().timeouts == 1);
  // The late reply arrives and is swallowed; the callback does not fire again.
  REQUIRE(loop.RunUntil([&] { return c->in_flight() == 0; }, 2000));
  loop.RunFor(20);
  CHECK(calls == 1);
  CHECK(c->connected());
  auto pong = Call(loop, *c, {"PING"});
  REQUIRE(pong.ok());
  CHECK(pong->str == "PONG");
  Shutdown(loop, c);
}

TEST_CASE("Redis killed: Unavailable fast; restarted: reconnects", "[redis]") {
  TempDir dir;
  auto server = RedisServer::Unix(dir.path());
  Loop loop;
  auto c = std::make_unique<RedisConnection>(loop.get(), Opts(UnixEp(server->sock())));
  c->Start();
  REQUIRE(loop.RunUntil([&] { return c->connected(); }));

  int pending_calls = 0;
  std::optional<Status> pending_status;
  c->Command({"DEBUG", "SLEEP", "0.3"}, [&](StatusOr<RedisReply> r) {
    ++pending_calls;
    pending_status = r.status();
  });
  loop.RunFor(20);  // the command is on the wire
  auto killed_at = Clock::now();
  server->Stop(SIGKILL);
  REQUIRE(loop.RunUntil([&] { return pending_calls > 0; }, 1000));
  CHECK(Clock::now() - killed_at < std::chrono::milliseconds(200));
  CHECK(pending_status->code() == Code::kUnavailable);
  CHECK_FALSE(c->connected());

  auto down = Call(loop, *c, {"PING"});
  REQUIRE_FALSE(down.ok());
  CHECK(down.status().code() == Code::kUnavailable);

  loop.RunFor(150);  // a few failed reconnect attempts against a dead socket
  CHECK(c->counters().reconnects >= 1);
  std::filesystem::remove(dir.path() + "/r.sock");

  server = RedisServer::Unix(dir.path());
  auto restarted_at = Clock::now();
  // Backoff is capped at 100 ms (+ connect), so well under a second.
  REQUIRE(loop.RunUntil([&] { return c->connected(); }, 1000));
  CHECK(Clock::now() - restarted_at < std::chrono::milliseconds(500));
  auto up = Call(loop, *c, {"SET", "again", "yes"});
  REQUIRE(up.ok());
  CHECK(up->str == "OK");
  CHECK(pending_calls == 1);
  Shutdown(loop, c);
}

TEST_CASE("Redis connect where nothing listens fails without hanging", "[redis]") {
  TempDir dir;
  Loop loop;
  SECTION("unix socket path that does not exist") {
    auto c = std::make_unique<RedisConnection>(loop.get(), Opts(UnixEp(dir.path() + "/none.sock")));
    c->Start();
    CHECK_FALSE(c->connected());
    auto start = Clock::now();
    auto r = Call(loop, *c, {"PING"});
    CHECK(Clock::now() - start < std::chrono::milliseconds(100));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kUnavailable);
    loop.RunFor(100);
    CHECK(c->counters().reconnects >= 1);
    CHECK_FALSE(c->connected());
    Shutdown(loop, c);
  }
  SECTION("tcp port that refuses") {
    int port = 0;
    for (int p = 29999; p > 20000; --p) {
      if (PortFree(p)) {
        port = p;
        break;
      }
    }
    RedisEndpoint ep;
    ep.host = "127.0.0.1";
    ep.port = port;
    auto c = std::make_unique<RedisConnection>(loop.get(), Opts(ep));
    c->Start();
    auto start = Clock::now();
    REQUIRE(loop.RunUntil([&] { return c->state() == RedisConnection::State::kBackoff; }, 1000));
    CHECK(Clock::now() - start < std::chrono::milliseconds(300));
    auto r = Call(loop, *c, {"PING"});
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kUnavailable);
    // Refused at once, not after the 500 ms connect timeout.
    CHECK(r.status().message().find("refused") != std::string::npos);
    Shutdown(loop, c);
  }
}

TEST_CASE("Redis connect timeout when the server never answers the handshake", "[redis]") {
  // A listening socket that never accepts: the kernel completes the TCP
  // handshake, but PING is never answered.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  REQUIRE(listen(fd, 8) == 0);
  socklen_t len = sizeof(a);
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  RedisEndpoint ep;
  ep.host = "127.0.0.1";
  ep.port = ntohs(a.sin_port);
  auto opts = Opts(ep);
  opts.connect_timeout_ms = 100;
  Loop loop;
  auto c = std::make_unique<RedisConnection>(loop.get(), opts);
  auto start = Clock::now();
  c->Start();
  REQUIRE(loop.RunUntil([&] { return c->last_error().find("timeout") != std::string::npos; }, 1000));
  auto waited = Clock::now() - start;
  CHECK(waited >= std::chrono::milliseconds(90));
  CHECK(waited < std::chrono::milliseconds(500));
  CHECK_FALSE(c->connected());
  Shutdown(loop, c);
  close(fd);
}

TEST_CASE("Redis Close with pending commands fires each callback once", "[redis]") {
  TempDir dir;
  auto server = RedisServer::Unix(dir.path());
  Loop loop;
  auto c = std::make_unique<RedisConnection>(loop.get(), Opts(UnixEp(server->sock())));
  c->Start();
  REQUIRE(loop.RunUntil([&] { return c->connected(); }));
  constexpr int kN = 20;
  std::vector<int> calls(kN + 1, 0);
  std::vector<Code> codes(kN + 1, Code::kOk);
  c->Command({"DEBUG", "SLEEP", "0.2"}, [&](StatusOr<RedisReply> r) {
    ++calls[0];
    codes[0] = r.status().code();
  });
  for (int i = 1; i <= kN; ++i) {
    c->Command({"SET", "k" + std::to_string(i), "v"}, [&, i](StatusOr<RedisReply> r) {
      ++calls[i];
      codes[i] = r.status().code();
      if (i == 1) c->Command({"PING"}, [&](StatusOr<RedisReply> r2) {
        // Issued from inside a callback after Close(): fails fast too.
        ++calls[0];
        CHECK(r2.status().code() == Code::kUnavailable);
      });
    });
  }
  loop.RunFor(10);
  c->Close();
  CHECK(c->state() == RedisConnection::State::kClosed);
  for (int i = 0; i <= kN; ++i) CHECK(calls[i] == 0);  // never inline from Close()
  loop.RunFor(50);
  CHECK(calls[0] == 2);
  for (int i = 1; i <= kN; ++i) {
    CHECK(calls[i] == 1);
    CHECK(codes[i] == Code::kUnavailable);
  }
  CHECK(codes[0] == Code::kUnavailable);
  c.reset();
  loop.RunFor(5);
}

TEST_CASE("Redis Close from inside a reply callback", "[redis]") {
  TempDir dir;
  auto server = RedisServer::Unix(dir.path());
  Loop loop;
  auto c = std::make_unique<RedisConnection>(loop.get(), Opts(UnixEp(server->sock())));
  c->Start();
  REQUIRE(loop.RunUntil([&] { return c->connected(); }));
  int first = 0, second = 0;
  Code second_code = Code::kOk;
  c->Command({"PING"}, [&](StatusOr<RedisReply> r) {
    ++first;
    CHECK(r.ok());
    c->Close();
  });
  c->Command({"DEBUG", "SLEEP", "0.1"}, [&](StatusOr<RedisReply> r) {
    ++second;
    second_code = r.status().code();
  });
  REQUIRE(loop.RunUntil([&] { return first == 1 && second == 1; }, 1000));
  CHECK(second_code == Code::kUnavailable);
  loop.RunFor(20);
  CHECK(first == 1);
  CHECK(second == 1);
  c.reset();
  loop.RunFor(5);
}

}  // namespace strata
