// Validate: the cross-field and range checks that no single option's parser
// can make, run once every source has been applied.
#include <sys/un.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/units.h"
#include "proxy/config.h"
#include "proxy/config_options.h"
#include "proxy/config_policy.h"
#include "proxy/config_text.h"
#include "proxy/config_values.h"
#include "tiers/redis_connection.h"

namespace strata {
namespace {

using config_internal::Join;
using config_internal::kMaxFileMode;
using config_internal::Quote;
using config_internal::RawValue;
using config_internal::ReadWholeNumber;

// Collects every problem so that --check-config reports them all at once.
class Problems {
 public:
  void Add(std::string problem) { problems_.push_back(std::move(problem)); }
  Status ToStatus() const {
    if (problems_.empty()) return Status::Ok();
    return Status::BadArgs(Join(problems_, "; "));
  }

 private:
  std::vector<std::string> problems_;
};

bool IsOneOf(std::string_view value, std::initializer_list<std::string_view> choices) {
  for (std::string_view choice : choices) {
    if (value == choice) return true;
  }
  return false;
}

bool IsHostPort(std::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  RawValue port = RawValue::Text(address.substr(colon + 1));
  StatusOr<uint64_t> n = ReadWholeNumber(port);
  return n.ok() && *n <= 65535;  // 0: any free port (the log says which)
}

void ValidateServer(const ServerConfig& s, Problems* p) {
  constexpr size_t kMaxSocketPath = sizeof(sockaddr_un::sun_path) - 1;
  constexpr uint64_t kMaxKeyBytes = 65535;
  constexpr uint64_t kMaxValueBytes = 512ull << 20;
  if (s.socket.empty()) p->Add("server.socket must not be empty");
  if (s.socket.size() > kMaxSocketPath) {
    p->Add("server.socket is " + std::to_string(s.socket.size()) +
           " bytes long; a Unix socket path can be at most " + std::to_string(kMaxSocketPath));
  }
  if (s.socket_mode > kMaxFileMode) p->Add("server.socket_mode must be at most 0777");
  if (s.threads > 256)
    p->Add("server.threads must be at most 256, not " + std::to_string(s.threads));
  if (s.max_connections == 0) p->Add("server.max_connections must be at least 1");
  if (s.max_batch_keys == 0) p->Add("server.max_batch_keys must be at least 1");
  if (s.max_key_bytes > kMaxKeyBytes) {
    p->Add(
        "server.max_key_bytes must be at most 65535 bytes (L1 stores a key's length in 16 "
        "bits), not " +
        std::to_string(s.max_key_bytes));
  }
  if (s.max_key_bytes > s.max_message_bytes) {
    p->Add("server.max_key_bytes (" + FormatSize(s.max_key_bytes) +
           ") must not exceed server.max_message_bytes (" + FormatSize(s.max_message_bytes) + ")");
  }
  if (s.max_value_bytes > kMaxValueBytes) {
    p->Add("server.max_value_bytes must be at most 512MiB, not " + FormatSize(s.max_value_bytes));
  }
  if (s.max_value_bytes > s.max_message_bytes) {
    p->Add("server.max_value_bytes (" + FormatSize(s.max_value_bytes) +
           ") must not exceed server.max_message_bytes (" + FormatSize(s.max_message_bytes) + ")");
  }
  if (s.max_input_bytes < s.max_message_bytes) {
    p->Add("server.max_input_bytes (" + FormatSize(s.max_input_bytes) +
           ") must be at least server.max_message_bytes (" + FormatSize(s.max_message_bytes) +
           "), or a message of the largest size could never be read");
  }
  if (s.shutdown_timeout_ms <= 0) p->Add("server.shutdown_timeout must be greater than 0");
  if (s.idle_timeout_ms < 0) p->Add("server.idle_timeout must not be negative");
}

void ValidateL1(const L1Config& l1, Problems* p) {
  if (l1.max_bytes < (1u << 20)) {
    p->Add("l1.max_bytes must be at least 1MiB, not " + FormatSize(l1.max_bytes));
  }
  if (l1.max_ttl_ms < 0) p->Add("l1.max_ttl must not be negative");
  const bool power_of_two = (l1.shards & (l1.shards - 1)) == 0;
  if (!power_of_two || l1.shards > 4096) {
    p->Add("l1.shards must be 0 (automatic) or a power of two up to 4096, not " +
           std::to_string(l1.shards));
  }
  if (l1.sweep_interval_ms <= 0) p->Add("l1.sweep_interval must be greater than 0");
  if (l1.sweep_batch == 0) p->Add("l1.sweep_batch must be at least 1");
  if (l1.negative_ttl_ms < 0) p->Add("l1.negative_ttl must not be negative");
}

void ValidateEndpoints(const L2Config& l2, Problems* p) {
  if (l2.mode == "off" && !l2.endpoints.empty()) {
    p->Add("l2.endpoints set but l2.mode is off (set l2.mode, or clear l2.endpoints)");
  }
  if (l2.mode == "standalone" && l2.endpoints.size() != 1) {
    p->Add("l2.endpoints must list exactly one endpoint when l2.mode is standalone, not " +
           std::to_string(l2.endpoints.size()));
  }
  if ((l2.mode == "sharded" || l2.mode == "cluster") && l2.endpoints.empty()) {
    p->Add("l2.endpoints must list at least one endpoint when l2.mode is " + l2.mode);
  }
  for (size_t i = 0; i < l2.endpoints.size(); ++i) {
    // Not the value itself: it may hold a password. The index says which.
    const std::string name = "l2.endpoints[" + std::to_string(i) + "]";
    StatusOr<RedisEndpoint> endpoint = ParseRedisEndpoint(l2.endpoints[i]);
    if (!endpoint.ok()) {
      p->Add(name + ": " + endpoint.status().message());
    } else if (l2.mode == "cluster" && endpoint->kind != RedisEndpoint::Kind::kTcp) {
      p->Add(name + ": cluster mode needs TCP endpoints (redis://host:port), not " +
             Quote(l2.endpoints[i]));
    }
  }
}

void ValidateL2(const L2Config& l2, Problems* p) {
  if (!IsOneOf(l2.mode, {"off", "standalone", "sharded", "cluster"})) {
    p->Add("l2.mode must be one of off, standalone, sharded, cluster, not " + Quote(l2.mode));
  }
  ValidateEndpoints(l2, p);
  if (l2.vnodes < 1 || l2.vnodes > 65536) {
    p->Add("l2.vnodes must be from 1 to 65536, not " + std::to_string(l2.vnodes));
  }
  if (l2.breaker_failures < 1) p->Add("l2.breaker_failures must be at least 1");
  if (l2.max_redirects < 1 || l2.max_redirects > 100) {
    p->Add("l2.max_redirects must be from 1 to 100, not " + std::to_string(l2.max_redirects));
  }
  if (l2.max_retries > 100) {
    p->Add("l2.max_retries must be at most 100, not " + std::to_string(l2.max_retries));
  }
  const struct {
    const char* name;
    int64_t ms;
    bool zero_ok;
  } durations[] = {
      {"l2.connect_timeout", l2.connect_timeout_ms, false},
      {"l2.command_timeout", l2.command_timeout_ms, true},
      {"l2.reconnect_base", l2.reconnect_base_ms, false},
      {"l2.reconnect_max", l2.reconnect_max_ms, false},
      {"l2.breaker_open", l2.breaker_open_ms, false},
      {"l2.breaker_max_open", l2.breaker_max_open_ms, false},
      {"l2.topology_refresh", l2.topology_refresh_ms, true},
      {"l2.retry_base", l2.retry_base_ms, true},
  };
  for (const auto& d : durations) {
    if (d.ms < 0) p->Add(std::string(d.name) + " must not be negative");
    if (d.ms == 0 && !d.zero_ok) p->Add(std::string(d.name) + " must be greater than 0");
  }
  if (l2.reconnect_max_ms < l2.reconnect_base_ms) {
    p->Add("l2.reconnect_max (" + FormatDuration(l2.reconnect_max_ms) +
           ") must be at least l2.reconnect_base (" + FormatDuration(l2.reconnect_base_ms) + ")");
  }
  if (l2.breaker_max_open_ms < l2.breaker_open_ms) {
    p->Add("l2.breaker_max_open (" + FormatDuration(l2.breaker_max_open_ms) +
           ") must be at least l2.breaker_open (" + FormatDuration(l2.breaker_open_ms) + ")");
  }
}

void ValidateOthers(const Config& c, Problems* p) {
  if (c.l3.enabled && c.l3.path.empty()) p->Add("l3.path must not be empty when l3 is enabled");
  if (c.l3.ingest_interval_ms <= 0) p->Add("l3.ingest_interval must be greater than 0");
  if (c.wal.path.empty()) p->Add("wal.path must not be empty");
  if (!IsOneOf(c.wal.sync, {"always", "interval", "never"})) {
    p->Add("wal.sync must be one of always, interval, never, not " + Quote(c.wal.sync));
  }
  if (!c.admin.listen.empty() && !IsHostPort(c.admin.listen)) {
    p->Add("admin.listen must be HOST:PORT (port 0..65535; 0 = any free one) or empty (off), not " +
           Quote(c.admin.listen));
  }
  if (!IsOneOf(c.log.level, {"debug", "info", "warn", "error", "off"})) {
    p->Add("log.level must be one of debug, info, warn, error, off, not " + Quote(c.log.level));
  }
}

}  // namespace

Status Validate(const Config& config) {
  Problems problems;
  ValidateServer(config.server, &problems);
  ValidateL1(config.l1, &problems);
  ValidateL2(config.l2, &problems);
  ValidateOthers(config, &problems);
  for (std::string& problem : config_internal::PolicyProblems(config)) {
    problems.Add(std::move(problem));
  }
  return problems.ToStatus();
}

}  // namespace strata
