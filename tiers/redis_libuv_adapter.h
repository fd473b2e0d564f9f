// The glue between a hiredis async context and a libuv loop.
//
// This is the only translation unit that includes hiredis/adapters/libuv.h:
// that header defines static functions (among them a global `on_close`) that
// must not meet other code. It hooks the context's socket into the loop with a
// uv_poll_t that hiredis owns: the adapter frees it in the handle's close
// callback after redisAsyncFree(), so the loop must run once more after a
// context is freed.
//
// Thread affinity: call on the thread that runs `loop`.
#pragma once

#include <uv.h>

#include "common/status.h"

struct redisAsyncContext;

namespace strata {

// REQUIRES: `ac` has no event library attached yet and ac->err == 0.
// On failure the caller still owns `ac` and must redisAsyncFree() it.
Status AttachRedisToLibuv(redisAsyncContext* ac, uv_loop_t* loop);

}  // namespace strata
