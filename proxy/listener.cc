#include "proxy/listener.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"

namespace strata {
namespace {

std::string Errno(const char* what, const std::string& path) {
  return std::string(what) + " " + path + ": " + strerror(errno);
}

sockaddr_un Address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

// Whether a server accepts connections on the socket file at `path`.
bool SomeoneListens(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr = Address(path);
  bool live = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 ||
              errno == EAGAIN;  // a full backlog still means a live server
  close(fd);
  return live;
}

}  // namespace

size_t MaxUnixSocketPath() { return sizeof(sockaddr_un::sun_path) - 1; }

StatusOr<int> ListenUnix(const std::string& path, uint32_t mode, int backlog) {
  if (path.empty()) return Status::BadArgs("server.socket is empty");
  if (path.size() > MaxUnixSocketPath()) {
    return Status::BadArgs("server.socket path is " + std::to_string(path.size()) +
                           " bytes; the OS limit for a Unix socket path is " +
                           std::to_string(MaxUnixSocketPath()) + ": " + path);
  }
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Status::BadArgs("server.socket " + path + " exists and is not a socket");
    }
    if (SomeoneListens(path)) {
      return Status::Unavailable("another server is listening on " + path +
                                 "; refusing to replace its socket");
    }
    LOG_INFO("replacing stale socket file %s", path.c_str());
    if (unlink(path.c_str()) != 0) return Status::Internal(Errno("cannot remove", path));
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Internal(Errno("socket() for", path));
  sockaddr_un addr = Address(path);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    Status s = Status::Internal(Errno("cannot bind", path));
    close(fd);
    return s;
  }
  if (chmod(path.c_str(), mode) != 0) {
    Status s = Status::Internal(Errno("cannot chmod", path));
    close(fd);
    unlink(path.c_str());
    return s;
  }
  if (listen(fd, backlog) != 0) {
    Status s = Status::Internal(Errno("cannot listen on", path));
    close(fd);
    unlink(path.c_str());
    return s;
  }
  return fd;
}

}  // namespace strata
