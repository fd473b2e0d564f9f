#include "bench/load_client.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "bench/shutdown.h"

namespace strata::bench {
namespace {

constexpr size_t kReadRoom = 16 * 1024;  // free space offered to each read()

inline uint64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

inline uint64_t SecondsToNs(double s) { return static_cast<uint64_t>(s * 1e9); }

}  // namespace

struct LoadClient::Conn {
  struct Slot {
    uint64_t sent_ns = 0;
    uint32_t msgid = 0;
    Op op = Op::kGet;
    bool busy = false;
  };

  int fd = -1;
  bool dead = false;
  bool want_out = false;  // EPOLLOUT armed: a write was partial
  ByteBuffer in{64 * 1024};
  ByteBuffer out{16 * 1024};
  std::vector<Slot> slots;           // indexed by the msgid's low bits
  std::vector<uint32_t> free_slots;  // a stack
  std::vector<uint32_t> order;       // ring of slots in send order (ordered codecs)
  size_t order_head = 0;
  size_t order_count = 0;
  uint32_t seq = 0;  // the msgid's high bits; never 0, so msgid 0 is never sent
  int inflight = 0;
  Rng rng;
};

namespace {

// One phase on one LoadClient's connections, for one codec. All the state of
// the loop lives here so that the hot functions are plain member calls.
template <class Codec>
class Phase {
 public:
  using Conn = LoadClient::Conn;

  Phase(int epfd, int slot_bits, std::vector<std::unique_ptr<Conn>>& conns, const Workload& w,
        const PhaseConfig& cfg)
      : epfd_(epfd),
        slot_bits_(slot_bits),
        slot_mask_((1u << slot_bits) - 1),
        conns_(conns),
        w_(w),
        cfg_(cfg),
        key_(w.spec().key_size, '\0'),
        max_buffered_(2 * w.spec().value_size + (size_t{1} << 20)) {}

  PhaseResult Run();

 private:
  void StartWindow();
  void CloseWindow(const char* reason);
  void Fill(Conn& c);
  void WriteOut(Conn& c);
  void OnReadable(Conn& c);
  bool Complete(Conn& c, const Reply& r, uint64_t t);
  void CloseConn(Conn& c);
  void Progress(uint64_t now);
  uint32_t NextMsgid(Conn& c, uint32_t slot) {
    // seq wraps before it would overflow into 32 bits; msgid 0 is reserved.
    if (++c.seq == 0 || c.seq >= (uint64_t{1} << (32 - slot_bits_))) c.seq = 1;
    return (c.seq << slot_bits_) | slot;
  }

  const int epfd_;
  const int slot_bits_;
  const uint32_t slot_mask_;
  std::vector<std::unique_ptr<Conn>>& conns_;
  const Workload& w_;
  const PhaseConfig& cfg_;
  std::string key_;
  const size_t max_buffered_;

  PhaseResult res_;
  bool started_ = false;  // measured window open (or over)
  bool closed_ = false;   // window over; draining
  bool issuing_ = true;
  const char* exhausted_ = nullptr;  // why issuing stopped before the deadline
  uint64_t window_start_ns_ = 0;
  uint64_t drain_deadline_ = 0;
  uint64_t next_key_ = 0;  // preload
  uint64_t total_inflight_ = 0;
  int live_ = 0;
  std::vector<uint32_t> batch_;
  uint64_t last_progress_ns_ = 0;
  uint64_t last_progress_issued_ = 0;
};

template <class Codec>
PhaseResult Phase<Codec>::Run() {
  const uint64_t t0 = NowNs();
  window_start_ns_ = cfg_.preload ? t0 : t0 + SecondsToNs(cfg_.warmup_s);
  // The window's length is counted from when it really opens. For preload
  // the "duration" is its timeout.
  uint64_t window_deadline = window_start_ns_ + SecondsToNs(cfg_.duration_s);
  last_progress_ns_ = t0;

  for (size_t i = 0; i < conns_.size(); ++i) {
    Conn& c = *conns_[i];
    if (c.dead) continue;
    ++live_;
    uint64_t s = cfg_.seed * 0x9e3779b97f4a7c15ULL + i;
    c.rng = Rng(Rng::SplitMix(s));
  }
  if (cfg_.preload || cfg_.warmup_s <= 0) {
    StartWindow();
    window_deadline = window_start_ns_ + SecondsToNs(cfg_.duration_s);
  }
  for (auto& c : conns_) Fill(*c);

  std::vector<struct epoll_event> events(std::max<size_t>(conns_.size(), 1));
  for (;;) {
    uint64_t now = NowNs();
    if (!started_ && now >= window_start_ns_) {
      StartWindow();
      window_deadline = window_start_ns_ + SecondsToNs(cfg_.duration_s);
      now = NowNs();
    }
    if (!closed_) {
      const char* reason = nullptr;
      if (Interrupted())
        reason = "interrupted";
      else if (live_ == 0)
        reason = "connections_closed";
      else if (started_ && now >= window_deadline)
        reason = cfg_.preload ? "timeout" : "duration";
      else if (!issuing_ && total_inflight_ == 0)
        reason = exhausted_;
      if (reason) CloseWindow(reason);
    }
    if (closed_) {
      if (total_inflight_ == 0) break;
      if (NowNs() >= drain_deadline_) {
        for (auto& c : conns_) {
          if (!c->dead && c->inflight > 0) CloseConn(*c);  // counts them as lost
        }
        break;
      }
    }
    const uint64_t next = closed_ ? drain_deadline_ : started_ ? window_deadline : window_start_ns_;
    const int timeout_ms =
        next > now ? static_cast<int>(std::min<uint64_t>((next - now) / 1000000 + 1, 100)) : 0;
    const int n = epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), timeout_ms);
    if (n < 0 && errno != EINTR) {
      perror("epoll_wait");
      if (!closed_) CloseWindow("epoll_error");
      break;
    }
    for (int i = 0; i < n; ++i) {
      Conn& c = *static_cast<Conn*>(events[i].data.ptr);
      if (c.dead) continue;
      if (events[i].events & EPOLLOUT) WriteOut(c);
      if (!c.dead && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) OnReadable(c);
    }
    if (cfg_.progress) Progress(NowNs());
  }
  return std::move(res_);
}

template <class Codec>
void Phase<Codec>::StartWindow() {
  if (cfg_.on_window_start) cfg_.on_window_start();
  started_ = true;
  res_.window_started = true;
  window_start_ns_ = NowNs();
}

template <class Codec>
void Phase<Codec>::CloseWindow(const char* reason) {
  closed_ = true;
  issuing_ = false;
  res_.stop_reason = reason ? reason : "unknown";
  const uint64_t now = NowNs();
  if (started_) {
    res_.window_s = static_cast<double>(now - window_start_ns_) * 1e-9;
    if (cfg_.on_window_end) cfg_.on_window_end();
  }
  drain_deadline_ = NowNs() + SecondsToNs(cfg_.drain_timeout_s);
}

// Tops the connection up to `depth` requests in flight and sends them in one
// write, stamped with the time just before that write.
template <class Codec>
void Phase<Codec>::Fill(Conn& c) {
  if (!issuing_ || c.dead) return;
  batch_.clear();
  const std::string_view key(key_.data(), key_.size());
  while (c.inflight < cfg_.depth) {
    if (res_.issued >= cfg_.max_requests) {
      issuing_ = false;
      exhausted_ = "max_requests";
      break;
    }
    uint64_t index;
    Op op;
    if (cfg_.preload) {
      if (next_key_ >= w_.spec().keyspace) {
        issuing_ = false;
        exhausted_ = "done";
        break;
      }
      index = next_key_++;
      op = Op::kSet;
    } else {
      op = w_.NextOp(c.rng);
      index = w_.NextKey(c.rng);
    }
    const uint32_t slot = c.free_slots.back();
    c.free_slots.pop_back();
    const uint32_t msgid = NextMsgid(c, slot);
    w_.FormatKey(index, key_.data());
    if (op == Op::kGet) {
      Codec::EncodeGet(c.out, msgid, key);
    } else {
      Codec::EncodeSet(c.out, msgid, key, w_.value());
    }
    Conn::Slot& s = c.slots[slot];
    s.msgid = msgid;
    s.op = op;
    s.busy = true;
    if constexpr (Codec::kOrdered) {
      c.order[(c.order_head + c.order_count) & slot_mask_] = slot;
      ++c.order_count;
    }
    batch_.push_back(slot);
    ++c.inflight;
    ++total_inflight_;
    ++res_.issued;
  }
  if (batch_.empty()) return;
  const uint64_t t = NowNs();
  for (uint32_t slot : batch_) c.slots[slot].sent_ns = t;
  if (!c.want_out) WriteOut(c);  // else EPOLLOUT will carry it with the rest
}

template <class Codec>
void Phase<Codec>::WriteOut(Conn& c) {
  if (!c.out.empty()) {
    ssize_t n = write(c.fd, c.out.data(), c.out.size());
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) {
        ++res_.conns_closed;
        CloseConn(c);
        return;
      }
      n = 0;
    }
    c.out.Consume(static_cast<size_t>(n));
  }
  const bool want = !c.out.empty();
  if (want != c.want_out) {
    struct epoll_event ev;
    ev.events = want ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    ev.data.ptr = &c;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
    c.want_out = want;
  }
}

template <class Codec>
void Phase<Codec>::OnReadable(Conn& c) {
  char* const room = c.in.Reserve(kReadRoom);  // before Writable(): it may grow the buffer
  const ssize_t n = read(c.fd, room, c.in.Writable());
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    ++res_.conns_closed;  // EOF or error: the server closed on us
    CloseConn(c);
    return;
  }
  c.in.Commit(static_cast<size_t>(n));
  const uint64_t t = NowNs();
  while (!c.in.empty()) {
    Reply r;
    size_t used = 0;
    const DecodeStatus st = Codec::Decode(c.in.data(), c.in.size(), &r, &used);
    if (st == DecodeStatus::kNeedMore) break;
    if (st == DecodeStatus::kMalformed) {
      ++res_.protocol_errors;
      CloseConn(c);
      return;
    }
    c.in.Consume(used);
    if (r.notification) {
      ++res_.notifications;
      continue;
    }
    if (!Complete(c, r, t)) return;
  }
  if (c.in.size() > max_buffered_) {  // a "reply" larger than any we asked for
    ++res_.protocol_errors;
    CloseConn(c);
    return;
  }
  Fill(c);
}

// Matches a reply to its request and records it. False if the connection was
// closed because the reply cannot belong to any request.
template <class Codec>
bool Phase<Codec>::Complete(Conn& c, const Reply& r, uint64_t t) {
  uint32_t slot;
  if constexpr (Codec::kOrdered) {
    if (c.order_count == 0) {  // a reply to nothing: the stream is out of sync
      ++res_.protocol_errors;
      CloseConn(c);
      return false;
    }
    slot = c.order[c.order_head];
    c.order_head = (c.order_head + 1) & slot_mask_;
    --c.order_count;
  } else {
    slot = r.msgid & slot_mask_;
    const Conn::Slot& s = c.slots[slot];
    if (!s.busy || s.msgid != r.msgid) {
      ++res_.msgid_mismatch;
      return true;
    }
  }
  Conn::Slot& s = c.slots[slot];
  s.busy = false;
  c.free_slots.push_back(slot);
  --c.inflight;
  --total_inflight_;
  if (started_ && !closed_) ++res_.replies_in_window;
  if (started_ && s.sent_ns >= window_start_ns_) {
    res_.latency_ns.Record(t - s.sent_ns);
    if (r.error) ++res_.server_errors;
    if (s.op == Op::kGet) {
      ++res_.gets;
      if (!r.error) ++(r.nil ? res_.misses : res_.hits);
    } else {
      ++res_.sets;
    }
  } else if (r.error) {
    ++res_.warmup_errors;
  }
  return true;
}

template <class Codec>
void Phase<Codec>::CloseConn(Conn& c) {
  if (c.dead) return;
  epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr);
  close(c.fd);
  c.fd = -1;
  c.dead = true;
  res_.lost += static_cast<uint64_t>(c.inflight);
  total_inflight_ -= static_cast<uint64_t>(c.inflight);
  c.inflight = 0;
  --live_;
}

template <class Codec>
void Phase<Codec>::Progress(uint64_t now) {
  if (now - last_progress_ns_ < 1000000000ULL) return;
  const double dt = static_cast<double>(now - last_progress_ns_) * 1e-9;
  const char* what = cfg_.preload ? "preload" : !started_ ? "warmup" : closed_ ? "drain" : "run";
  fprintf(stderr, "  %-7s issued=%llu  %.0f req/s  in-flight=%llu  connections=%d\n", what,
          static_cast<unsigned long long>(res_.issued),
          static_cast<double>(res_.issued - last_progress_issued_) / dt,
          static_cast<unsigned long long>(total_inflight_), live_);
  last_progress_ns_ = now;
  last_progress_issued_ = res_.issued;
}

}  // namespace

LoadClient::LoadClient() = default;
LoadClient::~LoadClient() { Close(); }

std::string LoadClient::Connect(const std::string& path, int connections, int max_depth,
                                Protocol protocol) {
  Close();
  protocol_ = protocol;
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return "socket path too long: " + path;
  memcpy(addr.sun_path, path.c_str(), path.size());
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return std::string("epoll_create1: ") + strerror(errno);
  slot_bits_ = 0;
  while ((1 << slot_bits_) < max_depth) ++slot_bits_;
  const uint32_t nslots = 1u << slot_bits_;
  for (int i = 0; i < connections; ++i) {
    auto c = std::make_unique<Conn>();
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return std::string("socket: ") + strerror(errno);
    if (connect(c->fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0) {
      const std::string err =
          "connect " + path + " (connection " + std::to_string(i + 1) + "): " + strerror(errno);
      close(c->fd);
      Close();
      return err;
    }
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    c->slots.resize(nslots);
    c->order.resize(nslots);
    for (uint32_t s = nslots; s-- > 0;) c->free_slots.push_back(s);
    struct epoll_event ev;
    ev.events = EPOLLIN;
    ev.data.ptr = c.get();
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
      close(c->fd);
      Close();
      return std::string("epoll_ctl: ") + strerror(errno);
    }
    conns_.push_back(std::move(c));
  }
  return "";
}

PhaseResult LoadClient::Run(const Workload& workload, const PhaseConfig& cfg) {
  if (protocol_ == Protocol::kMsgpack) return RunWith<MsgpackCodec>(workload, cfg);
  return RunWith<RespCodec>(workload, cfg);
}

template <class Codec>
PhaseResult LoadClient::RunWith(const Workload& workload, const PhaseConfig& cfg) {
  Phase<Codec> phase(epfd_, slot_bits_, conns_, workload, cfg);
  return phase.Run();
}

int LoadClient::live_connections() const {
  int n = 0;
  for (const auto& c : conns_) n += c->dead ? 0 : 1;
  return n;
}

void LoadClient::Close() {
  for (auto& c : conns_) {
    if (!c->dead && c->fd >= 0) close(c->fd);
  }
  conns_.clear();
  if (epfd_ >= 0) close(epfd_);
  epfd_ = -1;
}

}  // namespace strata::bench
