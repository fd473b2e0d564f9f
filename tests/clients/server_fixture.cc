#include "server_fixture.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace strata::testing {
namespace {

using Clock = std::chrono::steady_clock;

bool CanConnect(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// Waits up to timeout_ms for pid to exit; returns its wait status or -1.
int WaitFor(pid_t pid, int timeout_ms) {
  auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return -1;
    if (Clock::now() >= end) return -1;
    ::usleep(5000);
  }
}

std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

StrataServer::StrataServer() {
  char tmpl[] = "/tmp/strata-client-test.XXXXXX";
  char* d = ::mkdtemp(tmpl);
  dir_ = d ? d : "/tmp";
  socket_ = dir_ + "/s.sock";
}

StrataServer::~StrataServer() {
  Stop();
  std::error_code ec;
  if (dir_ != "/tmp") std::filesystem::remove_all(dir_, ec);
}

bool StrataServer::Start(const std::vector<std::string>& extra) {
  if (pid_ > 0) return true;
  std::vector<std::string> args = {STRATA_BIN,
                                   "--server.socket=" + socket_,
                                   "--admin.listen=",
                                   "--l3.enabled=false",
                                   "--server.threads=2",
                                   "--wal.path=" + dir_ + "/wal",
                                   "--server.shutdown_timeout=2s"};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv = CStrings(args);
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    // Keep test output readable: the server's logs go to a file.
    int log = ::open((dir_ + "/strata.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log >= 0) {
      ::dup2(log, 1);
      ::dup2(log, 2);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  auto end = Clock::now() + std::chrono::seconds(15);
  while (Clock::now() < end) {
    if (CanConnect(socket_)) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    ::usleep(10000);
  }
  Stop();
  return false;
}

int StrataServer::Stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = WaitFor(pid_, 10000);
  if (status == -1) {
    ::kill(pid_, SIGKILL);
    WaitFor(pid_, 5000);
  }
  pid_ = -1;
  return status;
}

ProcessResult RunProcess(const std::vector<std::string>& argv_in, const std::string& input,
                         const std::vector<std::string>& env, int timeout_ms) {
  ProcessResult res;
  // A child that exits before reading all its input must not kill the test.
  ::signal(SIGPIPE, SIG_IGN);
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) return res;
  std::vector<std::string> args = argv_in;
  std::vector<char*> argv = CStrings(args);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (pid < 0) {
    ::close(in[1]);
    ::close(out[0]);
    ::close(err[0]);
    return res;
  }
  ::fcntl(in[1], F_SETFL, O_NONBLOCK);
  size_t written = 0;
  if (input.empty()) {
    ::close(in[1]);
    in[1] = -1;
  }
  auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
  bool out_open = true, err_open = true, timed_out = false;
  while (out_open || err_open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p[3] = {{out_open ? out[0] : -1, POLLIN, 0},
                   {err_open ? err[0] : -1, POLLIN, 0},
                   {in[1], POLLOUT, 0}};
    if (::poll(p, 3, static_cast<int>(left)) < 0) continue;
    char buf[65536];
    for (int i = 0; i < 2; ++i) {
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(p[i].fd, buf, sizeof(buf));
      if (n > 0) {
        (i == 0 ? res.out : res.err).append(buf, static_cast<size_t>(n));
      } else {
        (i == 0 ? out_open : err_open) = false;
      }
    }
    if (in[1] >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = ::write(in[1], input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 || written == input.size()) {
        ::close(in[1]);
        in[1] = -1;
      }
    }
  }
  if (in[1] >= 0) ::close(in[1]);
  ::close(out[0]);
  ::close(err[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = WaitFor(pid, timed_out ? 5000 : timeout_ms);
  if (status == -1) {
    ::kill(pid, SIGKILL);
    WaitFor(pid, 5000);
    return res;
  }
  if (!timed_out && WIFEXITED(status)) res.exit_code = WEXITSTATUS(status);
  return res;
}

}  // namespace strata::testing
