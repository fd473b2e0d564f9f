// The one thing that differs between targets: how a GET or SET is spelled on
// the wire and how a reply is recognised. Each codec is a class with static
// functions (no virtual call on the hot path); LoadClient is instantiated
// once per codec:
//
//   static constexpr bool kOrdered;  // replies come in request order (RESP)
//   static void EncodeGet(ByteBuffer&, uint32_t msgid, std::string_view key);
//   static void EncodeSet(ByteBuffer&, uint32_t msgid, std::string_view key,
//                         std::string_view value);
//   static DecodeStatus Decode(const char* data, size_t len, Reply*, size_t* used);
//
// Decode looks at one reply at the front of `data`: kNeedMore if it is not all
// there yet (nothing consumed), kMalformed if the bytes cannot be a reply, else
// kOk with *used bytes consumed. Ordered codecs ignore msgid.
//
// Thread affinity: stateless.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace strata::bench {

enum class DecodeStatus { kOk, kNeedMore, kMalformed };

struct Reply {
  uint32_t msgid = 0;         // msgpack-RPC only
  bool error = false;         // the server answered with an error
  bool nil = false;           // the result is nil (a GET miss)
  bool notification = false;  // msgpack-RPC [2, method, params]: not a reply
};

// A byte queue: append at the back, consume from the front. Compacts lazily.
class ByteBuffer {
 public:
  explicit ByteBuffer(size_t initial = 16 * 1024) : buf_(initial) {}

  const char* data() const { return buf_.data() + begin_; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  size_t capacity() const { return buf_.size(); }

  // Room for at least n more bytes; write there, then Commit what was written.
  char* Reserve(size_t n) {
    if (buf_.size() - end_ < n) Grow(n);
    return buf_.data() + end_;
  }
  size_t Writable() const { return buf_.size() - end_; }
  void Commit(size_t n) { end_ += n; }
  void Append(const void* p, size_t n) {
    memcpy(Reserve(n), p, n);
    end_ += n;
  }
  void Consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  void Clear() { begin_ = end_ = 0; }

 private:
  void Grow(size_t n) {
    if (begin_ > 0) {
      memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (buf_.size() - end_ < n) buf_.resize(std::max(buf_.size() * 2, end_ + n));
  }

  std::vector<char> buf_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

struct MsgpackCodec {
  static constexpr bool kOrdered = false;
  static constexpr const char* kName = "msgpack";
  static void EncodeGet(ByteBuffer& out, uint32_t msgid, std::string_view key);
  static void EncodeSet(ByteBuffer& out, uint32_t msgid, std::string_view key,
                        std::string_view value);
  static DecodeStatus Decode(const char* data, size_t len, Reply* reply, size_t* used);
};

struct RespCodec {
  static constexpr bool kOrdered = true;
  static constexpr const char* kName = "resp";
  static void EncodeGet(ByteBuffer& out, uint32_t msgid, std::string_view key);
  static void EncodeSet(ByteBuffer& out, uint32_t msgid, std::string_view key,
                        std::string_view value);
  static DecodeStatus Decode(const char* data, size_t len, Reply* reply, size_t* used);
};

}  // namespace strata::bench
