// WalFileSystem::Posix(): the real files. Errors become Status here and
// nowhere else; messages carry the path and strerror so last_error() names
// the cause (e.g. "No space left on device").
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <string>

#include "wal/wal.h"

namespace strata {
namespace {

Status Errno(const char* what, const std::string& path, int err) {
  return Status::Unavailable(std::string("wal: ") + what + " " + path + ": " + strerror(err));
}

std::string Parent(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status SyncDir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open dir", dir, errno);
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  if (rc != 0) return Errno("fsync dir", dir, err);
  return Status::Ok();
}

Status WriteAll(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write", what, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

class PosixWalFileSystem final : public WalFileSystem {
 public:
  StatusOr<int> OpenAppend(const std::string& path) override {
    int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      Status s = SyncDir(Parent(path));
      if (!s.ok()) {
        close(fd);
        return s;
      }
      return fd;
    }
    if (errno != EEXIST) return Errno("create", path, errno);
    fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) return Errno("open", path, errno);
    return fd;
  }

  StatusOr<std::string> ReadAll(const std::string& path) override {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open", path, errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
      int err = errno;
      close(fd);
      return Errno("stat", path, err);
    }
    std::string out;
    out.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (true) {
      if (got == out.size()) out.resize(out.size() + 4096);  // grew since fstat
      ssize_t n = read(fd, out.data() + got, out.size() - got);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        close(fd);
        return Errno("read", path, err);
      }
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    close(fd);
    out.resize(got);
    return out;
  }

  Status Write(int handle, std::string_view data) override {
    return WriteAll(handle, data, "fd " + std::to_string(handle));
  }

  Status Sync(int handle) override {
    if (fdatasync(handle) != 0) return Errno("fdatasync", "fd " + std::to_string(handle), errno);
    return Status::Ok();
  }

  Status Truncate(int handle, const std::string& path, uint64_t size) override {
    if (ftruncate(handle, static_cast<off_t>(size)) != 0) return Errno("truncate", path, errno);
    return Status::Ok();
  }

  Status Close(int handle) override {
    if (close(handle) != 0) return Errno("close", "fd " + std::to_string(handle), errno);
    return Status::Ok();
  }

  Status Remove(const std::string& path) override {
    if (unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("remove", path, errno);
    return Status::Ok();
  }

  Status WriteFileAtomic(const std::string& path, std::string_view data) override {
    std::string tmp = path + ".tmp";
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("create", tmp, errno);
    Status s = WriteAll(fd, data, tmp);
    if (s.ok() && fdatasync(fd) != 0) s = Errno("fdatasync", tmp, errno);
    close(fd);
    if (s.ok() && rename(tmp.c_str(), path.c_str()) != 0) s = Errno("rename", tmp, errno);
    if (!s.ok()) {
      unlink(tmp.c_str());
      return s;
    }
    return SyncDir(Parent(path));
  }

  StatusOr<std::vector<std::string>> List(const std::string& dir) override {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return Errno("list", dir, errno);
    std::vector<std::string> names;
    while (struct dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(std::move(name));
    }
    closedir(d);
    return names;
  }

  Status MakeDirs(const std::string& dir) override {
    if (dir.empty()) return Status::BadArgs("wal: empty directory");
    for (size_t i = 1; i <= dir.size(); ++i) {
      if (i < dir.size() && dir[i] != '/') continue;
      std::string prefix = dir.substr(0, i);
      if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) return Errno("mkdir", prefix, errno);
    }
    struct stat st;
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Status::Unavailable("wal: " + dir + " is not a directory");
    }
    return Status::Ok();
  }

  StatusOr<int> RenameAndOpen(const std::string& from, const std::string& to) override {
    if (rename(from.c_str(), to.c_str()) != 0) return Errno("rename", from, errno);
    Status s = SyncDir(Parent(to));
    if (!s.ok()) return s;
    int fd = open(to.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open", to, errno);
    return fd;
  }

  bool WorthPreallocating(const std::string& dir, uint64_t bytes) override {
    struct statfs fs;
    if (statfs(dir.c_str(), &fs) != 0) return false;
    if (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC) return false;
    const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_bsize;
    return free_bytes / 2 >= bytes;
  }
};

}  // namespace

WalFileSystem* WalFileSystem::Posix() {
  static PosixWalFileSystem* fs = new PosixWalFileSystem();
  return fs;
}

}  // namespace strata
