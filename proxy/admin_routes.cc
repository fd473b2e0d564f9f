#include "proxy/admin_routes.h"

#include <string_view>

namespace strata {
namespace {

constexpr char kText[] = "text/plain; charset=utf-8";
constexpr char kJson[] = "application/json";
constexpr char kPrometheus[] = "text/plain; version=0.0.4; charset=utf-8";

HttpResponse Text(int status, std::string body) { return {status, kText, std::move(body), {}}; }

HttpResponse NotWired(std::string_view what) {
  return Text(503, std::string(what) + " is not available\n");
}

}  // namespace

HttpResponse HandleAdminRequest(const AdminHooks& hooks, const HttpRequest& request) {
  std::string_view path = request.path();
  bool known = path == "/healthz" || path == "/readyz" || path == "/metrics" || path == "/stats";
  if (!known) {
    return Text(404, "not found; routes: /healthz /readyz /metrics /stats\n");
  }
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse r = Text(405, "method not allowed; use GET or HEAD\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }

  if (path == "/healthz") return Text(200, "ok\n");
  if (path == "/readyz") {
    if (!hooks.ready) return NotWired("readiness");
    std::string reason;
    if (hooks.ready(&reason)) return {200, kJson, "{\"ready\":true}", {}};
    if (reason.empty()) reason = "{\"ready\":false}";
    return {503, kJson, std::move(reason), {}};
  }
  if (path == "/metrics") {
    if (!hooks.metrics_text) return NotWired("metrics");
    return {200, kPrometheus, hooks.metrics_text(), {}};
  }
  if (!hooks.stats_json) return NotWired("stats");
  return {200, kJson, hooks.stats_json(), {}};
}

}  // namespace strata
