#include "strata/client.h"

#include <unordered_map>

#include "strata/connection.h"

namespace strata::client {
namespace {

Deadline DeadlineFor(const Options& o) {
  return o.timeout_ms > 0 ? Clock::now() + std::chrono::milliseconds(o.timeout_ms)
                          : Deadline::max();
}

void PutU32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

}  // namespace

Client::Client(std::string path, Options options)
    : path_(std::move(path)), options_(options) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

StatusOr<Client> Client::Connect(std::string path, Options options) {
  Client c(std::move(path), options);
  if (Status s = c.EnsureConnected(); !s.ok()) return s;
  return c;
}

Status Client::EnsureConnected() {
  if (conn_ && !conn_->Dead()) return Status::Ok();
  conn_.reset();
  StatusOr<std::unique_ptr<Connection>> c = Connection::Open(path_, DeadlineFor(options_));
  if (!c.ok()) return c.status();
  conn_ = std::move(*c);
  return Status::Ok();
}

Status Client::Execute(Batch& batch) {
  if (batch.empty()) return Status::Ok();
  Deadline deadline = DeadlineFor(options_);
  Status st = EnsureConnected();
  // msgid -> entry. msgid 0 is reserved for connection-level errors.
  std::unordered_map<uint32_t, size_t> pending;
  pending.reserve(batch.size());
  for (size_t i = 0; i < batch.entries_.size(); ++i) {
    Batch::Entry& e = batch.entries_[i];
    if (next_msgid_ == 0) next_msgid_ = 1;
    uint32_t id = next_msgid_++;
    PutU32(&batch.buf_[e.offset], id);
    e.done = false;
    e.status = Status::Internal("no response");
    e.result = Value();
    pending.emplace(id, i);
  }
  std::optional<Status> connection_error;
  if (st.ok()) {
    st = conn_->Exchange(
        batch.buf_, deadline,
        [&](Message&& m) {
          if (m.msgid == 0) {
            // The server refused the stream (and will close it): every
            // request still waiting shares that error.
            connection_error = m.error.ok() ? Status::Internal("msgid 0 without an error")
                                            : m.error;
            return;
          }
          auto it = pending.find(m.msgid);
          if (it == pending.end()) return;  // stale (an earlier timed-out call)
          Batch::Entry& e = batch.entries_[it->second];
          e.status = std::move(m.error);
          e.result = std::move(m.result);
          e.done = true;
          pending.erase(it);
        },
        [&] { return pending.empty() || connection_error.has_value(); });
  }
  if (connection_error) {
    st = *connection_error;
    conn_.reset();
  } else if (!st.ok()) {
    conn_.reset();
  }
  if (!st.ok()) {
    for (auto& [id, i] : pending) batch.entries_[i].status = st;
  }
  return st;
}

template <typename T>
StatusOr<T> Client::Call(Batch& b, Ref<T> ref) {
  if (Status s = Execute(b); !s.ok()) return s;
  return b.Result(ref);
}

StatusOr<std::optional<std::string>> Client::Get(std::string_view key) {
  Batch b;
  auto r = b.Get(key);
  return Call(b, r);
}

StatusOr<bool> Client::Set(std::string_view key, std::string_view value, const SetOptions& opts) {
  Batch b;
  auto r = b.Set(key, value, opts);
  return Call(b, r);
}

Status Client::Del(const std::vector<std::string>& keys) {
  Batch b;
  auto r = b.Del(keys);
  return Call(b, r).status();
}

StatusOr<std::vector<std::optional<std::string>>> Client::MGet(
    const std::vector<std::string>& keys) {
  Batch b;
  auto r = b.MGet(keys);
  return Call(b, r);
}

Status Client::MSet(const std::vector<std::pair<std::string, std::string>>& pairs,
                    const MSetOptions& opts) {
  Batch b;
  auto r = b.MSet(pairs, opts);
  return Call(b, r).status();
}

StatusOr<int64_t> Client::Ttl(std::string_view key) {
  Batch b;
  auto r = b.Ttl(key);
  return Call(b, r);
}

StatusOr<bool> Client::Expire(std::string_view key, int64_t ttl_ms) {
  Batch b;
  auto r = b.Expire(key, ttl_ms);
  return Call(b, r);
}

StatusOr<int64_t> Client::Exists(const std::vector<std::string>& keys) {
  Batch b;
  auto r = b.Exists(keys);
  return Call(b, r);
}

Status Client::Ping() {
  Batch b;
  auto r = b.Ping();
  StatusOr<std::string> s = Call(b, r);
  if (!s.ok()) return s.status();
  if (*s != "pong") return Status::Internal("ping answered \"" + *s + "\"");
  return Status::Ok();
}

StatusOr<StatsMap> Client::Stats() {
  Batch b;
  auto r = b.Stats();
  return Call(b, r);
}

}  // namespace strata::client
