#include "proxy/connection.h"

#include <unistd.h>

#include <cstring>

#include "common/log.h"
#include "proxy/msgpack_reader.h"
#include "proxy/rpc_request.h"
#include "proxy/rpc_writer.h"
#include "proxy/worker.h"

namespace strata {
namespace {

constexpr size_t kBaselineInput = 64 << 10;  // per connection, outside the shared budget
constexpr size_t kReadChunk = 64 << 10;

}  // namespace

Connection::Connection(Worker* worker) : worker_(worker) {
  pipe_.data = this;
  idle_.data = this;
  write_req_.data = this;
}

Connection::~Connection() {
  ReleaseInputMemory();
  worker_->Forget(this);
}

bool Connection::Open(int fd) {
  uv_pipe_init(worker_->loop(), &pipe_, 0);
  ++open_handles_;
  worker_->dispatcher()->Attach(this);
  int rc = uv_pipe_open(&pipe_, fd);
  if (rc != 0) {
    LOG_RATE_LIMITED(LogLevel::kWarn, "cannot adopt client fd %d: %s", fd, uv_strerror(rc));
    ::close(fd);
    Close();
    return false;
  }
  int64_t idle_ms = worker_->shared()->config->server.idle_timeout_ms;
  if (idle_ms > 0) {
    uv_timer_init(worker_->loop(), &idle_);
    ++open_handles_;
    idle_enabled_ = true;
    uv_timer_start(&idle_, OnIdle, idle_ms, idle_ms);
  }
  StartReading();
  return true;
}

void Connection::StartReading() {
  if (reading_ || closed_ || eof_ || broken_) return;
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&pipe_), OnAlloc, OnRead) == 0) reading_ = true;
}

void Connection::StopReading() {
  if (!reading_) return;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&pipe_));
  reading_ = false;
}

bool Connection::Reserve(size_t want) {
  if (in_start_ > 0 && (in_start_ == in_end_ || in_.size() - in_end_ < want)) {
    // Move the unconsumed tail to the front before growing.
    std::memmove(in_.data(), in_.data() + in_start_, in_end_ - in_start_);
    in_end_ -= in_start_;
    in_start_ = 0;
  }
  if (in_.size() - in_end_ >= want) return true;
  size_t cap = in_.size() < kReadChunk ? kReadChunk : in_.size();
  while (cap - in_end_ < want) cap *= 2;
  // Never more than a whole message can need (plus one read).
  size_t limit = worker_->shared()->config->server.max_message_bytes + kReadChunk;
  if (cap > limit) cap = limit;
  if (cap <= in_end_) return false;
  int64_t charge = cap > kBaselineInput ? int64_t(cap - kBaselineInput) : 0;
  int64_t delta = charge - charged_input_;
  if (delta > 0) {
    SharedState* sh = worker_->shared();
    int64_t budget = static_cast<int64_t>(sh->config->server.max_input_bytes);
    if (sh->input_bytes.fetch_add(delta) + delta > budget && !overdraft_) {
      // Over the bound. Pausing every connection that wants more could
      // deadlock (each holds part of the budget and waits for the rest), so
      // one connection at a time may finish its message past the bound; the
      // others pause until memory frees. Total stays under the bound plus
      // one max_message_bytes.
      bool expected = false;
      if (!sh->input_overdraft.compare_exchange_strong(expected, true)) {
        sh->input_bytes.fetch_sub(delta);
        return false;
      }
      overdraft_ = true;
    }
    charged_input_ = charge;
  }
  in_.resize(cap);
  return true;
}

void Connection::ReleaseInputMemory() {
  if (charged_input_ > 0) {
    worker_->shared()->input_bytes.fetch_sub(charged_input_);
    charged_input_ = 0;
  }
  if (overdraft_) {
    overdraft_ = false;
    worker_->shared()->input_overdraft.store(false);
  }
}

void Connection::OnAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(h->data);
  if (c->in_start_ == c->in_end_) {
    // Nothing pending: read into the worker's buffer and decode in place.
    std::vector<char>& scratch = c->worker_->read_buffer();
    *buf = uv_buf_init(scratch.data(), scratch.size());
    return;
  }
  // Ask for a read-sized chunk; when a partial message is waiting on a known
  // length, growth still follows the bytes that actually arrive (doubling).
  if (!c->Reserve(4096)) {
    *buf = uv_buf_init(nullptr, 0);  // OnRead sees UV_ENOBUFS and pauses
    return;
  }
  *buf = uv_buf_init(c->in_.data() + c->in_end_, c->in_.size() - c->in_end_);
}

void Connection::OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(s->data);
  if (n == UV_ENOBUFS) {
    c->StopReading();
    c->paused_for_input_ = true;
    c->worker_->shared()->input_paused.fetch_add(1, std::memory_order_relaxed);
    c->worker_->WantTick(c);
    return;
  }
  if (n < 0) {
    if (n != UV_EOF) {
      LOG_RATE_LIMITED(LogLevel::kDebug, "client read error: %s", uv_strerror(int(n)));
      c->Close();
      return;
    }
    // Half-close: answer what was received, then close.
    c->eof_ = true;
    c->StopReading();
    c->Process();
    c->MaybeFinish();
    return;
  }
  if (n == 0) return;
  c->read_since_tick_ = true;
  if (c->idle_enabled_) uv_timer_again(&c->idle_);
  if (buf->base != c->worker_->read_buffer().data()) {
    c->in_end_ += size_t(n);
    c->Process();
    return;
  }
  // Decode from the worker's buffer; keep only an unfinished tail.
  c->in_batch_ = true;
  size_t used = c->ProcessBytes(buf->base, size_t(n));
  size_t rest = size_t(n) - used;
  if (rest > 0 && !c->broken_ && !c->closed_) {
    c->in_.assign(buf->base + used, buf->base + n);  // within the free baseline
    c->in_start_ = 0;
    c->in_end_ = rest;
  }
  c->in_batch_ = false;
  c->Flush();
  c->MaybeFinish();
}

void Connection::FailAndClose(Code code, const std::string& message) {
  worker_->shared()->protocol_errors.fetch_add(1, std::memory_order_relaxed);
  LOG_RATE_LIMITED(LogLevel::kWarn, "closing a client connection: %s", message.c_str());
  // Not a request: counted in protocol_errors, not in requests/errors_total.
  RpcWriter(&out_).Error(0, Status(code, message));
  broken_ = true;
  StopReading();
}

size_t Connection::ProcessBytes(const char* data, size_t size) {
  const ServerConfig& sc = worker_->shared()->config->server;
  Dispatcher* dispatcher = worker_->dispatcher();
  size_t done = 0;
  while (!broken_ && !closed_) {
    size_t avail = size - done;
    if (avail == 0 || avail < need_) break;
    if (pending_output() > sc.max_output_bytes) {
      // Back-pressure: the client is not reading its answers.
      if (!paused_for_output_) {
        paused_for_output_ = true;
        worker_->shared()->output_paused.fetch_add(1, std::memory_order_relaxed);
      }
      StopReading();
      break;
    }
    const char* msg = data + done;
    size_t len = 0;
    ScanStatus st = scanner_.Scan(msg, avail, sc.max_message_bytes, &len);
    if (st == ScanStatus::kIncomplete) {
      need_ = len;
      break;
    }
    need_ = 0;
    if (st == ScanStatus::kMalformed) {
      FailAndClose(Code::kBadRequest, "bytes that are not MessagePack");
      break;
    }
    if (st == ScanStatus::kTooDeep) {
      FailAndClose(Code::kBadRequest, "MessagePack nested deeper than 8 levels");
      break;
    }
    if (st == ScanStatus::kTooLarge) {
      FailAndClose(Code::kTooLarge,
                   "message exceeds max_message_bytes " + std::to_string(sc.max_message_bytes));
      break;
    }
    RpcRequest req;
    uint32_t err_msgid = 0;
    Status s = ParseRequest(msg, len, &req, &err_msgid);
    if (s.ok()) {
      dispatcher->Handle(req, this);
    } else {
      dispatcher->HandleInvalid(err_msgid, s, this);
    }
    done += len;
  }
  return done;
}

void Connection::Process() {
  if (closed_) return;
  in_batch_ = true;
  if (!broken_) in_start_ += ProcessBytes(in_.data() + in_start_, in_end_ - in_start_);
  if (in_start_ == in_end_ || broken_) DropInput();
  in_batch_ = false;
  Flush();
  MaybeFinish();
}

void Connection::DropInput() {
  // Idle connections hold no input buffer: complete messages are usually
  // decoded straight from the worker's read buffer (see OnRead).
  in_start_ = in_end_ = 0;
  need_ = 0;
  scanner_.Reset();
  std::vector<char>().swap(in_);
  ReleaseInputMemory();
}

void Connection::Flush() {
  if (closed_ || writing_ || out_.empty()) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(&pipe_);
  uv_buf_t b = uv_buf_init(out_.data(), out_.size());
  int n = uv_try_write(stream, &b, 1);
  if (n == int(out_.size())) {
    out_.clear();
    if (out_.capacity() > (1 << 20)) std::string().swap(out_);
    return;
  }
  if (n < 0 && n != UV_EAGAIN) {
    LOG_RATE_LIMITED(LogLevel::kDebug, "client write error: %s", uv_strerror(n));
    Close();
    return;
  }
  wbuf_.swap(out_);
  out_.clear();
  woff_ = n > 0 ? size_t(n) : 0;
  writing_ = true;
  Hold();
  uv_buf_t rest = uv_buf_init(wbuf_.data() + woff_, wbuf_.size() - woff_);
  int rc = uv_write(&write_req_, stream, &rest, 1, OnWrite);
  if (rc != 0) {
    writing_ = false;
    Close();
    Release();
  }
}

void Connection::OnWrite(uv_write_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  c->writing_ = false;
  c->wbuf_.clear();
  if (c->wbuf_.capacity() > (1 << 20)) std::string().swap(c->wbuf_);
  if (status < 0) {
    c->Close();
  } else if (!c->closed_) {
    const ServerConfig& sc = c->worker_->shared()->config->server;
    if (c->paused_for_output_ && c->pending_output() <= sc.max_output_bytes / 2) {
      c->paused_for_output_ = false;
      c->Process();  // dispatch what was held back, then read again
      if (!c->paused_for_output_) c->StartReading();
    }
    c->Flush();
    c->MaybeFinish();
  }
  c->Release();
}

void Connection::MaybeFinish() {
  if (closed_ || writing_ || !out_.empty() || refs_ > 1) return;
  // After a half-close, every complete message has been answered unless
  // back-pressure holds some back; a partial one can no longer complete.
  if (broken_ || (eof_ && !paused_for_output_)) Close();
}

void Connection::Release() {
  if (--refs_ == 0) {
    delete this;
    return;
  }
  if (!in_batch_ && !closed_) {
    Flush();
    MaybeFinish();
  }
}

void Connection::BeginDrain() {
  draining_ = true;
  read_since_tick_ = true;  // give it one full tick to deliver what is in flight
}

void Connection::Tick() {
  if (closed_) return;
  if (paused_for_input_) {
    paused_for_input_ = false;
    StartReading();
  }
  if (draining_) {
    bool quiet = !read_since_tick_ && !writing_ && out_.empty() && refs_ == 1 &&
                 in_start_ == in_end_;
    read_since_tick_ = false;
    if (quiet) Close();
  }
}

void Connection::OnIdle(uv_timer_t* t) {
  auto* c = static_cast<Connection*>(t->data);
  // The timer restarts on every read, so firing means no bytes for a whole
  // idle_timeout; a connection still waiting for its own answers is not idle.
  if (c->refs_ > 1 || c->writing_) return;
  c->worker_->shared()->idle_closed.fetch_add(1, std::memory_order_relaxed);
  c->Close();
}

void Connection::Close() {
  if (closed_) return;
  closed_ = true;
  StopReading();
  uv_close(reinterpret_cast<uv_handle_t*>(&pipe_), OnClose);
  if (idle_enabled_) {
    uv_timer_stop(&idle_);
    uv_close(reinterpret_cast<uv_handle_t*>(&idle_), OnClose);
  }
}

void Connection::OnClose(uv_handle_t* h) {
  auto* c = static_cast<Connection*>(h->data);
  if (--c->open_handles_ == 0) c->Release();  // the open connection's own reference
}

}  // namespace strata
