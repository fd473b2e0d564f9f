// RpcRequest: one msgpack-RPC request ([0, msgid, method, params]) taken
// from a complete, scanned MessagePack object (msgpack_reader.h).
//
// A complete object that is not a request gets BAD_REQUEST with its msgid
// if element 1 is a uint32, else msgid 0 (PROTOCOL.md, "Shape errors"); the
// stream is still in sync, so the connection stays open.
//
// Thread affinity: none. Views point into the connection's input buffer and
// are valid until the connection consumes the message.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"
#include "proxy/msgpack_reader.h"

namespace strata {

struct RpcRequest {
  uint32_t msgid = 0;
  std::string_view method;
  uint32_t param_count = 0;
  MsgpackCursor params;  // positioned at the first parameter
};

// On failure returns BAD_REQUEST and sets *msgid_for_error (0 if unknown).
Status ParseRequest(const char* object, size_t length, RpcRequest* out,
                    uint32_t* msgid_for_error);

}  // namespace strata
