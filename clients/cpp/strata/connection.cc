#include "strata/connection.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace strata::client {
namespace {

constexpr size_t kReadChunk = 64 * 1024;

std::string Errno(std::string_view what, int err) {
  std::string s(what);
  s += ": ";
  s += std::strerror(err);
  return s;
}

// Milliseconds for poll(); -1 = forever.
int PollTimeout(Deadline deadline) {
  if (deadline == Deadline::max()) return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 1 << 30));
}

}  // namespace

StatusOr<std::unique_ptr<Connection>> Connection::Open(const std::string& path,
                                                       Deadline deadline) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return Status::BadArgs("socket path must be 1.." + std::to_string(sizeof(addr.sun_path) - 1) +
                           " bytes: '" + path + "'");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Unavailable(Errno("socket", errno));
  std::unique_ptr<Connection> conn(new Connection(fd));
  // A non-blocking Unix connect either completes at once or fails with
  // EAGAIN when the listen backlog is full; retry that until the deadline.
  while (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    if (err == EINTR) continue;
    if (err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int n = ::poll(&p, 1, PollTimeout(deadline));
      if (n == 0) return Status::Timeout("connecting to " + path);
      int soerr = 0;
      socklen_t len = sizeof(soerr);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
      if (soerr != 0) return Status::Unavailable(Errno("connect " + path, soerr));
      break;
    }
    if (err != EAGAIN) return Status::Unavailable(Errno("connect " + path, err));
    if (Clock::now() >= deadline) return Status::Timeout("connecting to " + path);
    ::poll(nullptr, 0, 1);
  }
  return conn;
}

Connection::~Connection() { ::close(fd_); }

bool Connection::Dead() {
  if (broken_) return true;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  // Readable while idle: notifications, or EOF/error. Unsolicited responses
  // are ignored like notifications.
  if (!ReadSome([](Message&&) {}).ok()) broken_ = true;
  return broken_;
}

Status Connection::ReadSome(const std::function<void(Message&&)>& on_response) {
  char* buf = decoder_.Reserve(kReadChunk);
  ssize_t n = ::recv(fd_, buf, kReadChunk, 0);
  decoder_.Commit(n > 0 ? static_cast<size_t>(n) : 0);
  if (n == 0) return Status::Unavailable("server closed the connection");
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Status::Ok();
    return Status::Unavailable(Errno("recv", errno));
  }
  for (;;) {
    Message m;
    StatusOr<bool> got = decoder_.Next(&m);
    if (!got.ok()) return got.status();
    if (!*got) return Status::Ok();
    if (m.kind == Message::Kind::kResponse) on_response(std::move(m));
  }
}

void Connection::Drain(Deadline deadline, const std::function<void(Message&&)>& on_response) {
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, PollTimeout(deadline)) <= 0) return;
    if (!ReadSome(on_response).ok()) return;
  }
}

Status Connection::Exchange(std::string_view out, Deadline deadline,
                            const std::function<void(Message&&)>& on_response,
                            const std::function<bool()>& done) {
  if (broken_) return Status::Unavailable("connection is broken");
  Status st;
  size_t sent = 0;
  while (sent < out.size() || !done()) {
    pollfd p{fd_, static_cast<short>(POLLIN | (sent < out.size() ? POLLOUT : 0)), 0};
    int n = ::poll(&p, 1, PollTimeout(deadline));
    if (n < 0) {
      if (errno == EINTR) continue;
      st = Status::Unavailable(Errno("poll", errno));
      break;
    }
    if (n == 0) {
      st = Status::Timeout("no response within the client timeout");
      break;
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      st = ReadSome(on_response);
      if (!st.ok()) break;
    }
    if (sent < out.size() && (p.revents & POLLOUT)) {
      ssize_t w = ::send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
        st = Status::Unavailable(Errno("send", errno));
        // The server may have answered (say, msgid 0 TOO_LARGE) before it
        // closed; read what it sent so the caller can report that instead.
        Drain(deadline, on_response);
        break;
      }
      sent += static_cast<size_t>(w);
    }
  }
  if (!st.ok()) broken_ = true;
  return st;
}

}  // namespace strata::client
