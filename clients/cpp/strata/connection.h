// Connection: one non-blocking Unix stream socket to the server and the
// decoder for what it sends back. Internal to the client library.
//
// Exchange writes a buffer of requests while reading responses at the same
// time (poll on both directions), so a large batch cannot deadlock against a
// server that answers before it has read everything.
//
// Thread affinity: one thread at a time. Ownership: owns the fd.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "strata/wire.h"

namespace strata::client {

using Clock = std::chrono::steady_clock;
// Clock::time_point::max() = no deadline.
using Deadline = Clock::time_point;

class Connection {
 public:
  static StatusOr<std::unique_ptr<Connection>> Open(const std::string& path, Deadline deadline);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // True if the peer has closed or the stream is unusable, checked without
  // blocking. Notifications waiting on the socket are read and dropped.
  bool Dead();

  // Sends `out`, then keeps reading until done() is true. Each response goes
  // to on_response. Any failure leaves the connection unusable.
  Status Exchange(std::string_view out, Deadline deadline,
                  const std::function<void(Message&&)>& on_response,
                  const std::function<bool()>& done);

 private:
  explicit Connection(int fd) : fd_(fd) {}
  // Reads what is available; Unavailable on EOF or error.
  Status ReadSome(const std::function<void(Message&&)>& on_response);

  // After a failed send: reads until EOF, error or the deadline.
  void Drain(Deadline deadline, const std::function<void(Message&&)>& on_response);

  int fd_;
  bool broken_ = false;
  Decoder decoder_;
};

}  // namespace strata::client
