// Test support: a tiny synchronous RESP2 client for driving real redis-server
// processes from tests (setting up data, inspecting cluster state, checking
// the exact reply a node gives). Deliberately independent of hiredis and of
// the code under test, so a bug there cannot hide itself in the harness.
//
// Plain blocking sockets with send/receive timeouts; every call is bounded.
// One SyncRedis belongs to one thread. Commands are binary-safe argv vectors.
// Transport failures (refused, timeout, closed) are values (std::nullopt /
// false), not test failures, so that callers can poll nodes that are coming
// up or have been killed; Cmd() is the REQUIRE-ing convenience.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace strata::testing {

// One RESP2 reply. `str` holds the text of a status/error or the bytes of a
// bulk string; `integer` an integer reply; `elements` an array's items.
struct Resp {
  enum class Type { kStatus, kError, kInteger, kBulk, kNil, kArray };
  Type type = Type::kNil;
  std::string str;
  long long integer = 0;
  std::vector<Resp> elements;

  bool IsError() const { return type == Type::kError; }
  bool IsNil() const { return type == Type::kNil; }
  bool IsOk() const { return type == Type::kStatus && str == "OK"; }
  // True for an error whose first word is `prefix` ("MOVED", "ASK", ...).
  bool IsErrorWith(const std::string& prefix) const {
    return IsError() && str.compare(0, prefix.size(), prefix) == 0 &&
           (str.size() == prefix.size() || str[prefix.size()] == ' ');
  }
  // Readable one-line rendering for test failure messages.
  std::string Debug() const {
    switch (type) {
      case Type::kStatus: return "+" + str;
      case Type::kError: return "-" + str;
      case Type::kInteger: return ":" + std::to_string(integer);
      case Type::kBulk: return "\"" + str + "\"";
      case Type::kNil: return "(nil)";
      case Type::kArray: {
        std::string s = "[";
        for (size_t i = 0; i < elements.size(); ++i) s += (i ? ", " : "") + elements[i].Debug();
        return s + "]";
      }
    }
    return "?";
  }
};

inline std::ostream& operator<<(std::ostream& os, const Resp& r) { return os << r.Debug(); }

class SyncRedis {
 public:
  static constexpr std::chrono::milliseconds kDefaultTimeout{2000};

  // nullptr when the connection cannot be made.
  static std::unique_ptr<SyncRedis> ConnectTcp(
      int port, std::chrono::milliseconds timeout = kDefaultTimeout) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return nullptr;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return Finish(fd, connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0, timeout);
  }
  static std::unique_ptr<SyncRedis> ConnectUnix(
      const std::string& path, std::chrono::milliseconds timeout = kDefaultTimeout) {
    sockaddr_un a{};
    if (path.size() >= sizeof(a.sun_path)) return nullptr;  // would be truncated
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) return nullptr;
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.data(), path.size());
    return Finish(fd, connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0, timeout);
  }

  ~SyncRedis() { close(fd_); }
  SyncRedis(const SyncRedis&) = delete;
  SyncRedis& operator=(const SyncRedis&) = delete;

  // Sends one command (several may be sent before reading: pipelining).
  bool Send(const std::vector<std::string>& argv) {
    std::string out = "*" + std::to_string(argv.size()) + "\r\n";
    for (const auto& a : argv) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    size_t off = 0;
    while (off < out.size()) {
      ssize_t n = send(fd_, out.data() + off, out.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads one reply; nullopt on timeout, closed connection or protocol error.
  std::optional<Resp> Read() {
    std::string line;
    if (!ReadLine(&line) || line.empty()) return std::nullopt;
    Resp r;
    const std::string rest = line.substr(1);
    switch (line[0]) {
      case '+':
        r.type = Resp::Type::kStatus;
        r.str = rest;
        return r;
      case '-':
        r.type = Resp::Type::kError;
        r.str = rest;
        return r;
      case ':':
        r.type = Resp::Type::kInteger;
        r.integer = std::stoll(rest);
        return r;
      case '$': {
        long long len = std::stoll(rest);
        if (len < 0) return r;  // nil bulk
        r.type = Resp::Type::kBulk;
        if (!ReadExact(static_cast<size_t>(len) + 2, &r.str)) return std::nullopt;
        r.str.resize(static_cast<size_t>(len));  // drop the CRLF
        return r;
      }
      case '*': {
        long long n = std::stoll(rest);
        if (n < 0) return r;  // nil array
        r.type = Resp::Type::kArray;
        for (long long i = 0; i < n; ++i) {
          auto e = Read();
          if (!e) return std::nullopt;
          r.elements.push_back(std::move(*e));
        }
        return r;
      }
      default: return std::nullopt;
    }
  }

  std::optional<Resp> Command(const std::vector<std::string>& argv) {
    if (!Send(argv)) return std::nullopt;
    return Read();
  }

 private:
  explicit SyncRedis(int fd) : fd_(fd) {}

  static std::unique_ptr<SyncRedis> Finish(int fd, bool connected,
                                           std::chrono::milliseconds timeout) {
    if (!connected) {
      close(fd);
      return nullptr;
    }
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return std::unique_ptr<SyncRedis>(new SyncRedis(fd));
  }

  bool Fill() {
    char buf[16384];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return false;  // closed, error, or SO_RCVTIMEO expired
    in_.append(buf, static_cast<size_t>(n));
    return true;
  }
  bool ReadLine(std::string* line) {
    size_t pos;
    while ((pos = in_.find("\r\n", start_)) == std::string::npos) {
      if (!Fill()) return false;
    }
    line->assign(in_, start_, pos - start_);
    Consume(pos + 2 - start_);
    return true;
  }
  bool ReadExact(size_t n, std::string* out) {
    while (in_.size() - start_ < n) {
      if (!Fill()) return false;
    }
    out->assign(in_, start_, n);
    Consume(n);
    return true;
  }
  void Consume(size_t n) {
    start_ += n;
    if (start_ == in_.size()) {
      in_.clear();
      start_ = 0;
    }
  }

  int fd_;
  std::string in_;
  size_t start_ = 0;
};

// One command on a fresh connection to 127.0.0.1:port; nullopt on transport
// failure (node down, timeout). For polling nodes that may be dead.
inline std::optional<Resp> TryCmd(int port, const std::vector<std::string>& argv,
                                  std::chrono::milliseconds timeout = SyncRedis::kDefaultTimeout) {
  auto c = SyncRedis::ConnectTcp(port, timeout);
  if (!c) return std::nullopt;
  return c->Command(argv);
}

// One command on a fresh connection; the transport must work (REQUIRE).
// A Redis error reply is returned, not failed on: tests often want it.
// Commands whose meaning depends on the connection (WAIT after a write,
// ASKING, MULTI, READONLY) need one SyncRedis instead.
inline Resp Cmd(int port, const std::vector<std::string>& argv,
                std::chrono::milliseconds timeout = SyncRedis::kDefaultTimeout) {
  auto r = TryCmd(port, argv, timeout);
  INFO("port " << port << " command " << (argv.empty() ? std::string() : argv[0]));
  REQUIRE(r.has_value());
  return std::move(*r);
}

}  // namespace strata::testing
