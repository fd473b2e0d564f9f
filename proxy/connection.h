// Connection: one client on a Unix socket, owned by one worker loop for life.
//
// Reading: bytes land in an input buffer that grows only as bytes arrive
// (never to a size a header merely claims). Complete messages are scanned,
// parsed and dispatched in order; responses are appended to the output
// buffer and written once per read batch (one write for many pipelined
// requests), first with uv_try_write, then with uv_write for the rest.
//
// Back-pressure: while more than server.max_output_bytes of responses wait
// to be written, the connection neither reads nor dispatches; it resumes
// when the output falls below half of that. Growth of the input buffer past
// a 64 KiB baseline draws on the server-wide server.max_input_bytes; when
// that is exhausted the connection pauses reading and retries on the
// worker's tick, except that one connection at a time may overdraw to
// finish its message (otherwise connections that each hold part of the
// budget could wait on each other forever).
//
// Lifetime: the object is reference-counted (ResponseSink Hold/Release). The
// open connection holds one reference, dropped when its libuv handles have
// closed; each outstanding response and write holds one more. It deletes
// itself when the count reaches zero.
//
// Thread affinity: everything runs on the owning worker's loop thread.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <vector>

#include "proxy/dispatch.h"
#include "proxy/msgpack_reader.h"

namespace strata {

class Worker;

class Connection final : public ResponseSink {
 public:
  explicit Connection(Worker* worker);

  // Takes ownership of the accepted fd. On failure the fd is closed and the
  // connection deletes itself.
  bool Open(int fd);
  // Starts closing now (pending output is dropped).
  void Close();
  // Stops after answering what has been received; closes once quiet.
  void BeginDrain();
  // Worker tick: retries paused reads, closes drained quiet connections.
  void Tick();

  // ResponseSink
  std::string* output() override { return &out_; }
  bool alive() const override { return !closed_; }
  void Hold() override { ++refs_; }
  void Release() override;

 private:
  ~Connection() override;
  static void OnAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static void OnClose(uv_handle_t* h);
  static void OnIdle(uv_timer_t* t);

  // Decodes and dispatches complete messages from data; returns the bytes
  // consumed (a trailing partial message is left).
  size_t ProcessBytes(const char* data, size_t size);
  // Processes the connection's own buffered input, then flushes.
  void Process();
  void DropInput();
  void Flush();
  void StartReading();
  void StopReading();
  size_t pending_output() const { return out_.size() + (writing_ ? wbuf_.size() - woff_ : 0); }
  // Ensures at least `want` free bytes after in_end_. Returns false if the
  // server-wide input budget does not allow it.
  bool Reserve(size_t want);
  void ReleaseInputMemory();
  void FailAndClose(Code code, const std::string& message);
  void MaybeFinish();

  Worker* worker_;
  uv_pipe_t pipe_;
  uv_timer_t idle_;
  bool idle_enabled_ = false;
  int open_handles_ = 0;
  int refs_ = 1;
  bool closed_ = false;
  bool reading_ = false;
  bool eof_ = false;           // the client half-closed
  bool broken_ = false;        // bad bytes: answer, flush, close
  bool draining_ = false;
  bool in_batch_ = false;
  bool paused_for_input_ = false;
  bool paused_for_output_ = false;
  bool read_since_tick_ = false;

  std::vector<char> in_;
  size_t in_start_ = 0;
  size_t in_end_ = 0;
  size_t need_ = 0;            // buffered bytes required before scanning again
  ObjectScanner scanner_;      // resumes a partial message's scan
  int64_t charged_input_ = 0;  // bytes drawn from SharedState::input_bytes
  bool overdraft_ = false;     // holds SharedState::input_overdraft

  std::string out_;    // responses not yet handed to a write
  std::string wbuf_;   // the write in flight
  size_t woff_ = 0;
  bool writing_ = false;
  uv_write_t write_req_;
};

}  // namespace strata
