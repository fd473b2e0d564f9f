#include "tiers/redis_libuv_adapter.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
// Defines static helpers, including one named on_close: keep it in this file.
#include <hiredis/adapters/libuv.h>

namespace strata {
namespace {

// libuv reports POLLERR (a refused connect, a reset socket) as a negative
// status and stops the handle; hiredis 0.14's adapter ignores that status, so
// a refused TCP connect would sit until our connect timeout. Hand the event
// to hiredis instead: it reads the socket error and fails the connect (or the
// connection) through its usual callbacks.
void PollReportingErrors(uv_poll_t* handle, int status, int events) {
  auto* p = static_cast<redisLibuvEvents*>(handle->data);
  if (status >= 0) {
    redisLibuvPoll(handle, status, events);
    return;
  }
  if (p->context == nullptr) return;
  if (!(p->context->c.flags & REDIS_CONNECTED)) {
    redisAsyncHandleWrite(p->context);  // runs the connect check
  } else {
    redisAsyncHandleRead(p->context);  // reads the error or EOF
  }
}

// The adapter's add/del functions (re)start the poll with its own callback;
// these wrappers swap ours back in. uv_poll_start on an active handle only
// updates the events and the callback.
void Rearm(void* privdata) {
  auto* p = static_cast<redisLibuvEvents*>(privdata);
  if (p->events != 0) uv_poll_start(&p->handle, p->events, PollReportingErrors);
}
void AddRead(void* privdata) {
  redisLibuvAddRead(privdata);
  Rearm(privdata);
}
void DelRead(void* privdata) {
  redisLibuvDelRead(privdata);
  Rearm(privdata);
}
void AddWrite(void* privdata) {
  redisLibuvAddWrite(privdata);
  Rearm(privdata);
}
void DelWrite(void* privdata) {
  redisLibuvDelWrite(privdata);
  Rearm(privdata);
}

}  // namespace

Status AttachRedisToLibuv(redisAsyncContext* ac, uv_loop_t* loop) {
  // hiredis 0.14's adapter leaks its small events struct if uv_poll_init
  // fails (bad fd); that only happens on a broken context, so we accept it.
  if (redisLibuvAttach(ac, loop) != REDIS_OK) {
    return Status::Internal("hiredis: cannot attach the connection to the libuv loop");
  }
  ac->ev.addRead = AddRead;
  ac->ev.delRead = DelRead;
  ac->ev.addWrite = AddWrite;
  ac->ev.delWrite = DelWrite;
  return Status::Ok();
}

}  // namespace strata
