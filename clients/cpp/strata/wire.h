// Wire: msgpack encoding of requests (wire.cc, the only client file that
// includes msgpack-c: STYLE's one adapter per library) and decoding of
// server messages (decoder.cc).
//
// The decoder is our own, not msgpack_unpacker: msgpack-c allocates
// count * sizeof(msgpack_object) as soon as it reads an array or map header,
// so five bytes of garbage (0xdd ffffffff) ask malloc for 128 GiB. Ours
// allocates only for bytes that have arrived, limits nesting, and reports
// malformed input as an error. It handles messages split across reads.
//
// Thread affinity: none; each object belongs to one caller at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "strata/value.h"

namespace strata::client {

// Appends msgpack to a std::string.
class Packer {
 public:
  explicit Packer(std::string* out) : out_(out) {}
  void ArrayHeader(uint32_t n);
  void MapHeader(uint32_t n);
  void Str(std::string_view s);
  void Bin(std::string_view s);
  void Uint(uint64_t v);
  void Int(int64_t v);
  void Bool(bool v);
  void Nil();

 private:
  std::string* out_;
};

// One server message.
struct Message {
  enum class Kind { kResponse, kNotification };
  Kind kind = Kind::kResponse;
  uint32_t msgid = 0;
  Status error;  // the response's error, Ok if nil
  Value result;  // response result, or notification params
  std::string method;  // notifications only
};

class Decoder {
 public:
  Decoder() = default;
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Space to read up to n bytes into; then Commit how many arrived (0 if
  // the read failed). Each Reserve must be followed by one Commit.
  char* Reserve(size_t n);
  void Commit(size_t n);

  // true and *out filled: one message decoded. false: need more bytes.
  // Error (Internal): the bytes are not msgpack, or not a response or
  // notification; the stream is then unusable.
  StatusOr<bool> Next(Message* out);

 private:
  std::string buf_;     // received bytes; [start_, buf_.size()) not yet decoded
  size_t start_ = 0;
  size_t reserved_ = 0;  // Reserve()d tail beyond the received bytes
};

}  // namespace strata::client
