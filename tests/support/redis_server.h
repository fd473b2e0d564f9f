// Test support: real redis-server processes for tests, started by the test
// and stopped by PID (SIGTERM, bounded wait, SIGKILL; PR_SET_PDEATHSIG so a
// crashed test never leaves one behind), on a Unix socket in a temp dir or
// a free loopback port. Catch2 only (uses REQUIRE/FAIL).
#pragma once

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
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace strata::testing {

inline constexpr const char* kRedisServerPath = "/usr/bin/redis-server";
using SteadyClock = std::chrono::steady_clock;

inline bool CanConnectUnix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

inline bool CanConnectTcp(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

inline bool PortFree(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

// A redis-server child process; stopped by PID in the destructor.
class RedisServer {
 public:
  // Unix socket server in `dir` (port 0: no TCP).
  static std::unique_ptr<RedisServer> Unix(const std::string& dir,
                                           std::vector<std::string> extra = {}) {
    auto s = std::unique_ptr<RedisServer>(new RedisServer);
    s->sock_ = dir + "/r.sock";
    std::vector<std::string> args = {"--port", "0", "--unixsocket", s->sock_};
    args.insert(args.end(), extra.begin(), extra.end());
    s->Spawn(args);
    s->WaitReady([&] { return CanConnectUnix(s->sock_); });
    return s;
  }
  // TCP server on a free loopback port in 20000..29999. With cluster_bus,
  // port + 10000 (where a cluster-enabled redis binds its bus) must be free
  // too; an ephemeral port above 55535 would make such a redis refuse to start.
  static std::unique_ptr<RedisServer> Tcp(std::vector<std::string> extra = {},
                                          bool cluster_bus = false) {
    std::mt19937 rng(static_cast<uint32_t>(getpid() ^ SteadyClock::now().time_since_epoch().count()));
    for (int tries = 0; tries < 20; ++tries) {
      int port = 20000 + static_cast<int>(rng() % 10000);
      if (!PortFree(port) || (cluster_bus && !PortFree(port + 10000))) continue;
      auto s = std::unique_ptr<RedisServer>(new RedisServer);
      s->port_ = port;
      std::vector<std::string> args = {"--port", std::to_string(port), "--bind", "127.0.0.1"};
      args.insert(args.end(), extra.begin(), extra.end());
      s->Spawn(args);
      if (s->WaitReady([&] { return CanConnectTcp(port); })) return s;
    }
    FAIL("could not start a TCP redis-server");
    return nullptr;
  }

  ~RedisServer() { Stop(); }

  void Stop(int sig = SIGTERM) {
    if (pid_ <= 0) return;
    kill(pid_, sig);
    auto deadline = SteadyClock::now() + std::chrono::seconds(2);
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (SteadyClock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
  }

  const std::string& sock() const { return sock_; }
  int port() const { return port_; }

 private:
  RedisServer() = default;

  void Spawn(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {kRedisServerPath, "--save", "", "--appendonly", "no",
                                     "--loglevel", "warning", "--enable-debug-command", "yes"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_t parent = getpid();
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      int devnull = open("/dev/null", O_WRONLY);
      if (devnull >= 0) {
        dup2(devnull, STDOUT_FILENO);
        dup2(devnull, STDERR_FILENO);
      }
      if (getppid() != parent) _exit(1);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }

  bool WaitReady(const std::function<bool()>& ready) {
    auto deadline = SteadyClock::now() + std::chrono::seconds(3);
    while (SteadyClock::now() < deadline) {
      if (ready()) return true;
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  pid_t pid_ = -1;
  std::string sock_;
  int port_ = 0;
};

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/strata-redis-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace strata::testing
