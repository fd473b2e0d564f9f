// The Unix-socket listener: creates, guards and removes the socket file.
//
// Thread affinity: called on the main thread at start and at shutdown.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace strata {

// Longest path a sockaddr_un holds (107 on Linux). libuv would silently
// truncate a longer one, so Strata checks first.
size_t MaxUnixSocketPath();

// Binds and listens on `path` with file mode `mode`. A stale socket file (no
// server answers on it) is replaced; a live one is an error, as is a path
// that exists and is not a socket, or one over the OS limit. Returns the
// listening fd (non-blocking, close-on-exec).
StatusOr<int> ListenUnix(const std::string& path, uint32_t mode, int backlog);

}  // namespace strata
