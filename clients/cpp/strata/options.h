// Options for the Strata C++ client: connection and per-write options.
// Thread affinity: none; plain data.
#pragma once

#include <cstdint>

namespace strata::client {

struct Options {
  // Deadline for connecting and for each call (a whole Batch counts as one
  // call). On expiry the call returns Timeout and the connection is dropped
  // (the next call reconnects). 0 = wait forever.
  int64_t timeout_ms = 5000;
};

// Protocol `write` option; kDefault leaves it to the key's policy.
enum class WriteMode { kDefault, kBehind, kThrough, kAround };

struct SetOptions {
  int64_t ttl_ms = 0;  // 0 = absent (policy default); else 1 .. ten years
  bool nx = false;     // only if absent
  bool xx = false;     // only if present
  WriteMode write = WriteMode::kDefault;
};

struct MSetOptions {
  int64_t ttl_ms = 0;
  WriteMode write = WriteMode::kDefault;
};

}  // namespace strata::client
