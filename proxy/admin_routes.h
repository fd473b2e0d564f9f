// The admin endpoint's routes: /healthz, /readyz, /metrics and /stats.
//
// Routing knows nothing about metrics or readiness: it calls the hooks the
// server wires in. HEAD is answered like GET (the server drops the body and
// keeps its Content-Length); the query string is ignored for routing.
//
// Thread affinity: HandleAdminRequest runs on the admin server's thread and
// calls the hooks there; the hooks must be safe to call from that thread.
#pragma once

#include <functional>
#include <string>

#include "proxy/http_codec.h"

namespace strata {

struct AdminHooks {
  // Prometheus text exposition (format 0.0.4).
  std::function<std::string()> metrics_text;
  // A JSON object with the process's statistics.
  std::function<std::string()> stats_json;
  // True when ready; otherwise fills *reason_json with a JSON object saying
  // why (served as the body of the 503).
  std::function<bool(std::string* reason_json)> ready;
};

// GET|HEAD /healthz  200 "ok\n"                     text/plain
// GET|HEAD /readyz   200 {"ready":true} | 503 hook's reason   application/json
// GET|HEAD /metrics  200 hook's text   text/plain; version=0.0.4; charset=utf-8
// GET|HEAD /stats    200 hook's JSON   application/json
// Other method on a known path: 405 with "Allow: GET, HEAD"; unknown path:
// 404 naming the routes. A missing hook answers 503 rather than crashing.
HttpResponse HandleAdminRequest(const AdminHooks& hooks, const HttpRequest& request);

}  // namespace strata
