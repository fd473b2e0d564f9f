// strata-delay-relay: a TCP/Unix-socket relay that delays every chunk it
// forwards by a fixed D microseconds, to emulate a remote Redis on a kernel
// without `tc netem` (see /work/shared/BENCHMARKING.md and bench/README.md,
// "L2 over a delayed link").
//
//   strata-delay-relay --listen tcp:127.0.0.1:7000 --listen unix:/tmp/r.sock
//                      --connect tcp:10.200.0.2:6379 --delay-us 200
//
// For every accepted connection the relay opens one upstream connection. Each
// read() on either side (up to 64 KiB) becomes one chunk that is written to
// the other side at read time + D. D is the same for every chunk, so chunks
// fall due in the order they were read: one global FIFO and one timerfd
// (absolute CLOCK_MONOTONIC deadline of the FIFO's head) are enough, and the
// order within each direction is kept. A request/response thus takes about
// 2 D plus the real round trip. If a destination cannot take the bytes, they
// wait in its output buffer (EPOLLOUT) and reading from the source pauses
// while more than 4 MiB is pending in that direction. EOF or an error on
// either side closes the pair once everything read before it was delivered.
//
// On SIGTERM/SIGINT it prints what it forwarded and how late chunks were
// delivered relative to their deadline (the timer's own error), then exits.
//
// One thread, level-triggered epoll; not meant for production traffic.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxPending = 4 * 1024 * 1024;  // per direction: stop reading above this

uint64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

[[noreturn]] void Die(const std::string& what) {
  fprintf(stderr, "strata-delay-relay: %s\n", what.c_str());
  exit(1);
}

struct Address {
  bool unix_socket = false;
  std::string path;  // unix
  struct sockaddr_storage ss {};
  socklen_t len = 0;
  std::string text;
};

// "tcp:HOST:PORT", "HOST:PORT" (tcp), or "unix:PATH".
Address ParseAddress(const std::string& s) {
  Address a;
  a.text = s;
  if (s.rfind("unix:", 0) == 0) {
    a.unix_socket = true;
    a.path = s.substr(5);
    auto* un = reinterpret_cast<struct sockaddr_un*>(&a.ss);
    if (a.path.empty() || a.path.size() >= sizeof un->sun_path) Die("bad unix path in " + s);
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, a.path.c_str(), a.path.size());
    a.len = sizeof(struct sockaddr_un);
    return a;
  }
  std::string hp = s.rfind("tcp:", 0) == 0 ? s.substr(4) : s;
  const size_t colon = hp.rfind(':');
  if (colon == std::string::npos) Die("address needs HOST:PORT: " + s);
  std::string host = hp.substr(0, colon), port = hp.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  struct addrinfo hints {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  struct addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    Die("cannot resolve " + s + ": " + gai_strerror(rc));
  }
  memcpy(&a.ss, res->ai_addr, res->ai_addrlen);
  a.len = res->ai_addrlen;
  freeaddrinfo(res);
  return a;
}

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

void SetNoDelay(int fd, const Address& a) {
  if (a.unix_socket) return;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int Listen(const Address& a) {
  const int fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) Die("socket: " + std::string(strerror(errno)));
  if (a.unix_socket) {
    unlink(a.path.c_str());
  } else {
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  }
  if (bind(fd, reinterpret_cast<const struct sockaddr*>(&a.ss), a.len) != 0) {
    Die("bind " + a.text + ": " + strerror(errno));
  }
  if (listen(fd, 1024) != 0) Die("listen " + a.text + ": " + strerror(errno));
  return fd;
}

// Blocking connect (the upstream is local: a veth or loopback), then
// non-blocking. Returns -1 with errno set on failure.
int ConnectUpstream(const Address& a) {
  const int fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<const struct sockaddr*>(&a.ss), a.len) != 0) {
    const int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  SetNonBlocking(fd);
  SetNoDelay(fd, a);
  return fd;
}

struct Pair;

// One socket of a pair. Direction "from this side" = bytes read here and
// written to the peer.
struct Side {
  Pair* pair = nullptr;
  int index = 0;  // 0 = client (accepted), 1 = upstream
  int fd = -1;
  bool reading = true;      // EPOLLIN armed
  bool want_out = false;    // EPOLLOUT armed
  bool eof = false;         // read EOF or error: no more chunks from this side
  std::string out;          // due bytes waiting for this fd to become writable
  size_t out_begin = 0;
  size_t queued_to_peer = 0;  // bytes read here, not yet due or not yet written by the peer
};

struct Pair {
  uint64_t id = 0;
  Side side[2];
  bool dead = false;
};

struct Chunk {
  uint64_t due_ns;
  uint64_t pair_id;
  int from;           // side index that read it
  bool close_marker;  // EOF/error on `from`: close the pair when due
  std::string bytes;
};

struct Stats {
  uint64_t accepted = 0, upstream_failures = 0, chunks = 0, bytes = 0;
  uint64_t late_max_ns = 0;
  double late_sum_ns = 0;
  // Lateness histogram in 1 µs buckets up to 1 ms, then overflow.
  uint64_t late_hist[1002] = {};
  uint64_t LatePercentileUs(double q) const {
    if (chunks == 0) return 0;
    const uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(chunks - 1));
    uint64_t seen = 0;
    for (int i = 0; i < 1002; ++i) {
      seen += late_hist[i];
      if (seen > rank) return static_cast<uint64_t>(i);
    }
    return 1001;
  }
};

class Relay {
 public:
  Relay(std::vector<Address> listens, Address upstream, uint64_t delay_ns)
      : listen_addrs_(std::move(listens)), upstream_(std::move(upstream)), delay_ns_(delay_ns) {}

  int Run() {
    // The default 50 µs timer slack would add itself to every delay.
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) Die("epoll_create1");
    timer_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (timer_ < 0) Die("timerfd_create");
    Add(timer_, EPOLLIN, &timer_tag_);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    sigfd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    Add(sigfd_, EPOLLIN, &signal_tag_);
    signal(SIGPIPE, SIG_IGN);
    for (const Address& a : listen_addrs_) {
      const int fd = Listen(a);
      listen_fds_.push_back(fd);
      Add(fd, EPOLLIN, &listen_tags_[listen_fds_.size() - 1]);
    }
    for (size_t i = 0; i < listen_addrs_.size(); ++i) listen_tags_[i] = static_cast<int>(i);
    fprintf(stderr, "strata-delay-relay: pid %d, delay %.1f us per chunk each way, upstream %s\n",
            getpid(), static_cast<double>(delay_ns_) / 1000, upstream_.text.c_str());
    for (const Address& a : listen_addrs_) fprintf(stderr, "  listening on %s\n", a.text.c_str());
    fflush(stderr);

    std::vector<struct epoll_event> events(256);
    while (!stop_) {
      const int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        Die("epoll_wait: " + std::string(strerror(errno)));
      }
      for (int i = 0; i < n; ++i) {
        void* tag = events[i].data.ptr;
        const uint32_t ev = events[i].events;
        if (tag == &timer_tag_) {
          uint64_t expirations;
          while (read(timer_, &expirations, sizeof expirations) > 0) {
          }
          timer_armed_ns_ = 0;
          Deliver();
        } else if (tag == &signal_tag_) {
          stop_ = true;
        } else if (tag >= static_cast<void*>(&listen_tags_[0]) &&
                   tag < static_cast<void*>(&listen_tags_[kMaxListens])) {
          Accept(*static_cast<int*>(tag));
        } else {
          Side* s = static_cast<Side*>(tag);
          if (s->pair->dead) continue;
          if (ev & EPOLLOUT) Flush(s);
          if (!s->pair->dead && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) ReadFrom(s);
        }
      }
      graveyard_.clear();
      ArmTimer();
    }
    PrintStats();
    for (size_t i = 0; i < listen_fds_.size(); ++i) {
      close(listen_fds_[i]);
      if (listen_addrs_[i].unix_socket) unlink(listen_addrs_[i].path.c_str());
    }
    return 0;
  }

 private:
  static constexpr size_t kMaxListens = 8;

  void Add(int fd, uint32_t events, void* tag) {
    struct epoll_event ev {};
    ev.events = events;
    ev.data.ptr = tag;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) Die("epoll_ctl add");
  }

  void Update(Side* s) {
    struct epoll_event ev {};
    ev.events = (s->reading ? EPOLLIN : 0u) | (s->want_out ? EPOLLOUT : 0u);
    ev.data.ptr = s;
    epoll_ctl(ep_, EPOLL_CTL_MOD, s->fd, &ev);
  }

  void Accept(int listen_index) {
    for (;;) {
      const int fd = accept4(listen_fds_[static_cast<size_t>(listen_index)], nullptr, nullptr,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN or a transient error
      ++stats_.accepted;
      SetNoDelay(fd, listen_addrs_[static_cast<size_t>(listen_index)]);
      const int up = ConnectUpstream(upstream_);
      if (up < 0) {
        ++stats_.upstream_failures;
        fprintf(stderr, "strata-delay-relay: connect %s: %s\n", upstream_.text.c_str(),
                strerror(errno));
        close(fd);
        continue;
      }
      auto p = std::make_unique<Pair>();
      p->id = ++next_id_;
      for (int i = 0; i < 2; ++i) {
        p->side[i].pair = p.get();
        p->side[i].index = i;
      }
      p->side[0].fd = fd;
      p->side[1].fd = up;
      Add(fd, EPOLLIN, &p->side[0]);
      Add(up, EPOLLIN, &p->side[1]);
      pairs_[p->id] = std::move(p);
    }
  }

  void ReadFrom(Side* s) {
    if (s->eof || !s->reading) return;
    char buf[kReadChunk];
    const ssize_t n = read(s->fd, buf, sizeof buf);
    if (n > 0) {
      queue_.push_back(Chunk{NowNs() + delay_ns_, s->pair->id, s->index, false,
                             std::string(buf, static_cast<size_t>(n))});
      s->queued_to_peer += static_cast<size_t>(n);
      if (s->queued_to_peer > kMaxPending) {
        s->reading = false;
        Update(s);
      }
      return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    // EOF or error: stop reading; close the pair once earlier chunks are due.
    s->eof = true;
    s->reading = false;
    Update(s);
    queue_.push_back(Chunk{NowNs() + delay_ns_, s->pair->id, s->index, true, {}});
  }

  void Deliver() {
    const uint64_t now = NowNs();
    while (!queue_.empty() && queue_.front().due_ns <= now) {
      Chunk c = std::move(queue_.front());
      queue_.pop_front();
      auto it = pairs_.find(c.pair_id);
      if (it == pairs_.end()) continue;
      Pair* p = it->second.get();
      if (c.close_marker) {
        ClosePair(p);
        continue;
      }
      const uint64_t late = now - c.due_ns;
      ++stats_.chunks;
      stats_.bytes += c.bytes.size();
      stats_.late_sum_ns += static_cast<double>(late);
      stats_.late_max_ns = std::max(stats_.late_max_ns, late);
      ++stats_.late_hist[std::min<uint64_t>(late / 1000, 1001)];
      Side* to = &p->side[1 - c.from];
      if (to->out.size() == to->out_begin) {
        to->out.clear();
        to->out_begin = 0;
      }
      to->out.append(c.bytes);
      Flush(to);
    }
  }

  // Writes what is due for `to`; arms EPOLLOUT if it could not take it all.
  void Flush(Side* to) {
    Pair* p = to->pair;
    Side* from = &p->side[1 - to->index];
    while (to->out_begin < to->out.size()) {
      const ssize_t n =
          write(to->fd, to->out.data() + to->out_begin, to->out.size() - to->out_begin);
      if (n > 0) {
        to->out_begin += static_cast<size_t>(n);
        from->queued_to_peer -= std::min(from->queued_to_peer, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      ClosePair(p);
      return;
    }
    const bool pending = to->out_begin < to->out.size();
    bool changed = pending != to->want_out;
    to->want_out = pending;
    if (!pending) {
      to->out.clear();
      to->out_begin = 0;
    }
    if (!from->eof && !from->reading && from->queued_to_peer <= kMaxPending / 2) {
      from->reading = true;
      Update(from);
    }
    if (changed) Update(to);
  }

  void ClosePair(Pair* p) {
    if (p->dead) return;
    p->dead = true;
    for (Side& s : p->side) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, s.fd, nullptr);
      close(s.fd);
    }
    auto it = pairs_.find(p->id);
    graveyard_.push_back(std::move(it->second));  // freed after this epoll batch
    pairs_.erase(it);
  }

  void ArmTimer() {
    if (queue_.empty()) return;
    const uint64_t due = queue_.front().due_ns;
    if (timer_armed_ns_ != 0 && timer_armed_ns_ <= due) return;
    if (due <= NowNs()) {  // already due: deliver now rather than through the timer
      Deliver();
      if (queue_.empty()) return;
      return ArmTimer();
    }
    struct itimerspec its {};
    its.it_value.tv_sec = static_cast<time_t>(due / 1000000000ULL);
    its.it_value.tv_nsec = static_cast<long>(due % 1000000000ULL);
    timerfd_settime(timer_, TFD_TIMER_ABSTIME, &its, nullptr);
    timer_armed_ns_ = due;
  }

  void PrintStats() const {
    fprintf(stderr,
            "strata-delay-relay: accepted=%llu upstream_failures=%llu chunks=%llu bytes=%llu "
            "lateness_us mean=%.1f p50=%llu p99=%llu p99.9=%llu max=%.1f\n",
            static_cast<unsigned long long>(stats_.accepted),
            static_cast<unsigned long long>(stats_.upstream_failures),
            static_cast<unsigned long long>(stats_.chunks),
            static_cast<unsigned long long>(stats_.bytes),
            stats_.chunks ? stats_.late_sum_ns / static_cast<double>(stats_.chunks) / 1000 : 0.0,
            static_cast<unsigned long long>(stats_.LatePercentileUs(0.50)),
            static_cast<unsigned long long>(stats_.LatePercentileUs(0.99)),
            static_cast<unsigned long long>(stats_.LatePercentileUs(0.999)),
            static_cast<double>(stats_.late_max_ns) / 1000);
  }

  std::vector<Address> listen_addrs_;
  Address upstream_;
  uint64_t delay_ns_;
  int ep_ = -1, timer_ = -1, sigfd_ = -1;
  int timer_tag_ = 0, signal_tag_ = 0;
  int listen_tags_[kMaxListens] = {};
  std::vector<int> listen_fds_;
  uint64_t timer_armed_ns_ = 0;
  bool stop_ = false;
  uint64_t next_id_ = 0;
  std::deque<Chunk> queue_;
  std::unordered_map<uint64_t, std::unique_ptr<Pair>> pairs_;
  std::vector<std::unique_ptr<Pair>> graveyard_;
  Stats stats_;
};

const char kUsage[] =
    "usage: strata-delay-relay --listen ADDR [--listen ADDR ...] --connect ADDR\n"
    "                          [--delay-us D (200)]\n"
    "  ADDR is tcp:HOST:PORT, HOST:PORT or unix:PATH (at most 8 --listen).\n"
    "  Every chunk read on either side is written to the other D us later.\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<Address> listens;
  Address upstream;
  bool have_upstream = false;
  double delay_us = 200;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i], v;
    if (a == "--help" || a == "-h") {
      fputs(kUsage, stdout);
      return 0;
    }
    if (const size_t eq = a.find('='); eq != std::string::npos) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (i + 1 < argc) {
      v = argv[++i];
    } else {
      fputs(kUsage, stderr);
      return 1;
    }
    if (a == "--listen") {
      listens.push_back(ParseAddress(v));
    } else if (a == "--connect") {
      upstream = ParseAddress(v);
      have_upstream = true;
    } else if (a == "--delay-us") {
      char* end = nullptr;
      delay_us = strtod(v.c_str(), &end);
      if (end == v.c_str() || *end || !(delay_us >= 0 && delay_us <= 10e6)) Die("bad --delay-us");
    } else {
      fputs(kUsage, stderr);
      return 1;
    }
  }
  if (listens.empty() || !have_upstream || listens.size() > 8) {
    fputs(kUsage, stderr);
    return 1;
  }
  Relay relay(std::move(listens), std::move(upstream), static_cast<uint64_t>(delay_us * 1000));
  return relay.Run();
}
