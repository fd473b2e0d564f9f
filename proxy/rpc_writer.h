// RpcWriter: encodes msgpack-RPC responses ([1, msgid, error, result]) onto
// the end of a connection's output buffer. The only user of msgpack-c's
// packer (its pack functions are inline; the write callback appends).
//
// Thread affinity: one writer per buffer, on the buffer's loop thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace strata {

class RpcWriter {
 public:
  explicit RpcWriter(std::string* out) : out_(out) {}

  // Complete responses.
  void Nil(uint32_t msgid);
  void Bool(uint32_t msgid, bool v);
  void Int(uint32_t msgid, int64_t v);
  void Bin(uint32_t msgid, std::string_view v);
  void Str(uint32_t msgid, std::string_view v);
  // [1, msgid, [code, message], nil]. REQUIRES: !status.ok()
  void Error(uint32_t msgid, const Status& status);

  // Responses whose result is an array or a map: the header, then exactly
  // n items (or n key/value pairs) with the item writers below.
  void BeginArray(uint32_t msgid, uint32_t n);
  void BeginMap(uint32_t msgid, uint32_t n);
  void ItemNil();
  void ItemBin(std::string_view v);
  void ItemStr(std::string_view v);
  void ItemInt(int64_t v);
  void ItemUint(uint64_t v);
  void ItemDouble(double v);

 private:
  void Header(uint32_t msgid);  // [1, msgid, nil, ...
  std::string* out_;
};

}  // namespace strata
