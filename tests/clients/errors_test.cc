// Error mapping: server errors keep their protocol code and message; client
// side failures (no server, timeout, garbage) are Status values, not crashes.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "server_fixture.h"
#include "strata/client.h"

using strata::Code;
using strata::client::Batch;
using strata::client::Client;
using strata::testing::StrataServer;

namespace {

// A listening socket that accepts one connection and writes `reply` (or
// nothing) to it, then holds it open until the test ends.
class FakeServer {
 public:
  FakeServer(const std::string& path, std::string reply) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ::unlink(path.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(fd_, 4) == 0);
    thread_ = std::thread([this, reply] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[256];
      if (::read(c, buf, sizeof(buf)) > 0 && !reply.empty()) {
        (void)!::write(c, reply.data(), reply.size());
      }
      while (!stop_) ::usleep(5000);
      ::close(c);
    });
  }
  ~FakeServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
    ::unlink(path_.c_str());
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

TEST_CASE("errors: server errors keep their code and message") {
  StrataServer server;
  REQUIRE(server.Start({"--server.max_value_bytes=1KiB", "--server.max_message_bytes=64KiB"}));
  auto c = Client::Connect(server.socket());
  REQUIRE(c.ok());

  // TOO_LARGE for one request; the connection stays usable.
  auto big = c->Set("k", std::string(1025, 'x'));
  REQUIRE_FALSE(big.ok());
  CHECK(big.status().code() == Code::kTooLarge);
  CHECK(big.status().message().find("max_value_bytes") != std::string::npos);
  CHECK(c->Set("k", std::string(1024, 'x')).value());  // "over" means strictly greater

  // BAD_ARGS: nx with xx, ttl out of range, del/exists/mget with no keys.
  CHECK(c->Set("k", "v", {.nx = true, .xx = true}).status().code() == Code::kBadArgs);
  CHECK(c->Set("k", "v", {.ttl_ms = -5}).status().code() == Code::kBadArgs);
  CHECK(c->Set("k", "v", {.ttl_ms = 315360000001}).status().code() == Code::kBadArgs);
  CHECK(c->Del({}).code() == Code::kBadArgs);
  CHECK(c->Exists({}).status().code() == Code::kBadArgs);
  CHECK(c->MGet({}).status().code() == Code::kBadArgs);
  CHECK(c->MSet({}).code() == Code::kBadArgs);
  CHECK(c->Ping().ok());
}

TEST_CASE("errors: a message over max_message_bytes fails the batch, next call reconnects") {
  StrataServer server;
  REQUIRE(server.Start({"--server.max_value_bytes=1KiB", "--server.max_message_bytes=64KiB"}));
  auto c = Client::Connect(server.socket(), {.timeout_ms = 5000});
  REQUIRE(c.ok());
  Batch b;
  auto small = b.Get("a");
  // One request whose encoded size is over 64 KiB: msgid 0, code 4, close.
  std::vector<std::pair<std::string, std::string>> pairs;
  for (int i = 0; i < 100; ++i) pairs.emplace_back("k" + std::to_string(i), std::string(1000, 'v'));
  auto huge = b.MSet(pairs);
  strata::Status st = c->Execute(b);
  INFO(st.ToString());
  REQUIRE_FALSE(st.ok());
  CHECK(st.code() == Code::kTooLarge);
  CHECK(b.Result(huge).status().code() == Code::kTooLarge);
  // The small get before it was answered normally (a miss) or shares the
  // error if the server refused the stream first.
  auto r = b.Result(small);
  CHECK((r.ok() || r.status().code() == Code::kTooLarge));
  CHECK(c->Ping().ok());  // reconnected
}

TEST_CASE("errors: no server is Unavailable") {
  auto c = Client::Connect("/tmp/strata-client-test-no-such.sock", {.timeout_ms = 500});
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == Code::kUnavailable);
  auto too_long = Client::Connect(std::string(200, 'x'));
  CHECK(too_long.status().code() == Code::kBadArgs);
}

TEST_CASE("errors: a server that never answers gives Timeout") {
  std::string path = "/tmp/strata-client-fake-" + std::to_string(::getpid()) + ".sock";
  FakeServer fake(path, "");
  auto c = Client::Connect(path, {.timeout_ms = 200});
  REQUIRE(c.ok());
  auto t0 = std::chrono::steady_clock::now();
  auto r = c->Get("k");
  auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kTimeout);
  CHECK(took < std::chrono::seconds(2));
}

TEST_CASE("errors: garbage from the server is Internal, not a crash") {
  std::string path = "/tmp/strata-client-fake2-" + std::to_string(::getpid()) + ".sock";
  SECTION("not msgpack") {
    FakeServer fake(path, std::string("\xc1\xc1\xc1", 3));
    auto c = Client::Connect(path, {.timeout_ms = 1000});
    REQUIRE(c.ok());
    CHECK(c->Ping().code() == Code::kInternal);
  }
  SECTION("msgpack but not a response") {
    FakeServer fake(path, std::string("\x93\x05\x01\x02", 4));
    auto c = Client::Connect(path, {.timeout_ms = 1000});
    REQUIRE(c.ok());
    CHECK(c->Ping().code() == Code::kInternal);
  }
  SECTION("a response whose result has the wrong type") {
    // [1, 1, nil, 42] answering get.
    FakeServer fake(path, std::string("\x94\x01\x01\xc0\x2a", 5));
    auto c = Client::Connect(path, {.timeout_ms = 1000});
    REQUIRE(c.ok());
    CHECK(c->Get("k").status().code() == Code::kInternal);
  }
  SECTION("an array header declaring 2^32-1 elements") {
    FakeServer fake(path, std::string("\xdd\xff\xff\xff\xff", 5));
    auto c = Client::Connect(path, {.timeout_ms = 300});
    REQUIRE(c.ok());
    auto r = c->Get("k");
    CHECK_FALSE(r.ok());
  }
}
