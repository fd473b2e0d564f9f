#include "proxy/rpc_request.h"

namespace strata {

Status ParseRequest(const char* object, size_t length, RpcRequest* out,
                    uint32_t* msgid_for_error) {
  *msgid_for_error = 0;
  MsgpackCursor c(object, object + length);
  uint32_t n = 0;
  if (!c.ReadArrayHeader(&n)) {
    return Status::BadRequest("a request must be an array [0, msgid, method, params]");
  }
  // Learn the msgid first so that every later error can carry it.
  MsgpackCursor probe = c;
  int64_t type = -1;
  bool type_ok = n >= 1 && probe.ReadInt(&type);
  if (n >= 1 && !type_ok) probe.Skip();
  uint64_t msgid = 0;
  bool msgid_ok = n >= 2 && probe.ReadUint(&msgid) && msgid <= UINT32_MAX;
  if (msgid_ok) *msgid_for_error = static_cast<uint32_t>(msgid);

  if (n != 4) {
    return Status::BadRequest("a request is an array of 4 elements, got " + std::to_string(n));
  }
  if (!type_ok || type != 0) {
    return Status::BadRequest("element 0 of a request must be the integer 0");
  }
  if (!msgid_ok) return Status::BadRequest("msgid must be a uint32");
  c = probe;
  if (!c.ReadStr(&out->method)) return Status::BadRequest("method must be a str");
  if (!c.ReadArrayHeader(&out->param_count)) return Status::BadRequest("params must be an array");
  out->msgid = static_cast<uint32_t>(msgid);
  out->params = c;
  return Status::Ok();
}

}  // namespace strata
