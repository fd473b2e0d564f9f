// Test helper: builds MessagePack bytes with msgpack-c's packer, so that the
// decoder tests do not depend on Strata's own encoder (rpc_writer.cc).
#pragma once

#include <msgpack.h>

#include <functional>
#include <string>

namespace strata::testing {

using Fill = std::function<void(msgpack_packer*)>;

// Pack([](msgpack_packer* pk) { msgpack_pack_nil(pk); }) == "\xc0"
inline std::string Pack(const Fill& fill) {
  msgpack_sbuffer buf;
  msgpack_sbuffer_init(&buf);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
  fill(&pk);
  std::string out(buf.data == nullptr ? "" : std::string(buf.data, buf.size));
  msgpack_sbuffer_destroy(&buf);
  return out;
}

inline void PackStr(msgpack_packer* pk, const std::string& s) {
  msgpack_pack_str_with_body(pk, s.data(), s.size());
}

inline void PackBin(msgpack_packer* pk, const std::string& s) {
  msgpack_pack_bin_with_body(pk, s.data(), s.size());
}

}  // namespace strata::testing
