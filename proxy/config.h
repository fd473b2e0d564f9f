// Config: every setting Strata reads, with its default.
//
// Sources, later ones win: built-in defaults < TOML file (--config FILE) <
// environment (STRATA_<SECTION>_<KEY>, e.g. STRATA_SERVER_SOCKET) < flags
// (--server.socket=PATH or --server.socket PATH). Sizes accept units
// (512MiB, 16KiB, 1GB, plain bytes); durations accept units (250ms, 10s, 1m,
// plain = milliseconds). An invalid value is an error naming the key, the
// value and what is allowed. [[policy]] tables (per-key-prefix policies)
// come only from the TOML file; config_policy.h reads and writes them.
//
// The option table (name, default, help, parser) lives in config.cc next to
// nothing else; modules add their knobs there, one line each.
//
// Thread affinity: built once on the main thread before workers start;
// read-only afterwards.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace strata {

struct ServerConfig {
  std::string socket = "./strata.sock";
  uint32_t socket_mode = 0660;
  uint32_t threads = 0;  // 0 = number of cores
  uint64_t max_connections = 10000;
  uint64_t max_key_bytes = 16 << 10;
  uint64_t max_value_bytes = 16 << 20;
  uint64_t max_message_bytes = 64ull << 20;
  uint64_t max_batch_keys = 10000;
  int64_t shutdown_timeout_ms = 10'000;
  int64_t idle_timeout_ms = 0;  // 0 = none
  // Output a connection may queue before the server stops reading from it.
  uint64_t max_output_bytes = 4 << 20;
  // Bytes of incomplete messages held across all connections.
  uint64_t max_input_bytes = 1ull << 30;
  // Back malloc with transparent huge pages (proxy/huge_pages.h).
  bool huge_pages = true;
};

struct L1Config {
  uint64_t max_bytes = 256ull << 20;
  int64_t max_ttl_ms = 0;  // 0 = none
  uint32_t shards = 0;     // 0 = automatic (a power of two)
  int64_t sweep_interval_ms = 100;
  uint32_t sweep_batch = 64;  // entries examined per shard per sweep step
  // How long L1 remembers that a key is absent from the tiers below; 0 = off.
  int64_t negative_ttl_ms = 0;
};

struct L2Config {
  std::string mode = "off";  // off | standalone | sharded | cluster
  // standalone: exactly one; sharded: the ring's nodes; cluster: seeds (TCP).
  std::vector<std::string> endpoints;
  std::string key_prefix;  // prepended to every key sent to Redis
  bool hash_tags = false;  // sharded: route "{tag}rest" by "tag"
  uint32_t vnodes = 2048;  // sharded: virtual nodes per endpoint, 1..65536
  int64_t connect_timeout_ms = 1000;
  int64_t command_timeout_ms = 250;  // 0 = none
  int64_t reconnect_base_ms = 50;    // first reconnect delay; doubles up to reconnect_max_ms
  int64_t reconnect_max_ms = 5000;
  uint32_t breaker_failures = 5;        // consecutive failures that open an endpoint's breaker
  int64_t breaker_open_ms = 1000;       // first cool-down
  int64_t breaker_max_open_ms = 30000;  // cool-down cap after failed probes
  bool read_from_replicas = false;      // cluster: reads may go to replicas
  int64_t topology_refresh_ms = 10000;  // cluster: 0 = only after errors
  uint32_t max_redirects = 5;           // MOVED/ASK hops for one request, 1..100
  uint32_t max_retries = 5;             // TRYAGAIN/CLUSTERDOWN/LOADING retries, 0..100
  int64_t retry_base_ms = 10;           // first retry delay; doubles per retry
  bool required = false;                // /readyz: 503 unless every connection is up
};

struct L3Config {
  bool enabled = true;
  std::string path = "./data/l3";
  uint64_t block_cache = 64ull << 20;
  std::string compression = "lz4";  // lz4 | zstd | none
  uint32_t bloom_bits = 10;          // 0 = no bloom filter
  uint64_t max_bytes = 0;            // disk budget; 0 = unbounded
  uint32_t io_threads = 2;           // threads for reads that miss the block cache
  // Write-behind stages L3 writes and ingests them as one SST file per
  // ingest_bytes (0 = each drain batch through the memtable instead) or
  // ingest_interval, whichever comes first.
  uint64_t ingest_bytes = 16ull << 20;
  int64_t ingest_interval_ms = 1000;
};

struct WalConfig {
  bool enabled = true;  // journal writes (write-behind) when a tier below L1 exists
  std::string path = "./data/wal";
  std::string sync = "interval";  // always | interval | never
  int64_t sync_interval_ms = 10;
  uint64_t max_bytes = 1ull << 30;      // journaled, not yet in every tier below L1
  uint64_t segment_bytes = 64ull << 20;
  bool preallocate = true;              // spare segments of zeros (wal/wal.h)
  int64_t through_timeout_ms = 5000;    // a "through" write waits this long for the drain
  int64_t drain_linger_ms = 5;          // the drain waits this long for a fuller batch; 0 = never
};

struct AdminConfig {
  std::string listen = "127.0.0.1:9100";  // empty = off
  bool tier_metrics = true;  // per-tier lookup counts and latency histograms
};

struct LogConfig {
  std::string level = "info";  // debug | info | warn | error | off
};

// One [[policy]] table: how keys that start with `prefix` are cached. Only
// the TOML file sets policies; environment variables and flags cannot.
struct PolicyConfig {
  std::string prefix;              // required; the longest matching prefix wins
  std::vector<std::string> tiers;  // ordered subset of l1, l2, l3; empty = every configured tier
  std::string write = "default";   // default | behind | through | around
  int64_t default_ttl_ms = 0;      // applied to sets without ttl_ms; 0 = none
  int64_t max_ttl_ms = 0;          // caps every TTL (set, expire, fills); 0 = none
};

struct Config {
  ServerConfig server;
  L1Config l1;
  L2Config l2;
  L3Config l3;
  WalConfig wal;
  AdminConfig admin;
  LogConfig log;
  std::vector<PolicyConfig> policies;  // in file order
};

// What the command line asked for besides settings.
struct CommandLine {
  Config config;
  bool print_config = false;  // --print-config: print effective TOML and exit 0
  bool help = false;          // --help: list every option with its default
  bool check_config = false;  // --check-config FILE: validate and exit
  std::string config_file;    // --config FILE (or --check-config FILE)
};

// Parses argv and the environment (envp: NULL-terminated "K=V" strings) into
// a CommandLine, reading the TOML file named by --config/--check-config.
// The result has passed Validate. With --help nothing else is read or checked.
StatusOr<CommandLine> ParseCommandLine(int argc, const char* const* argv,
                                       const char* const* envp);

// Applies a TOML document (text) to *config. `origin` names it in errors.
Status ApplyToml(std::string_view text, std::string_view origin, Config* config);

// The effective configuration as a TOML document that ApplyToml accepts.
std::string ToToml(const Config& config);

// The --help text: every option, its env var, its default and its meaning.
std::string HelpText();

// Cross-field checks (e.g. max_key_bytes <= max_message_bytes, l2.endpoints
// parse, policies name configured tiers).
Status Validate(const Config& config);

}  // namespace strata
