// The option table, the order in which sources override one another, and
// the --help and --print-config renderings. Around it: config_kinds.h and
// config_values.h (how each kind of value is read and written),
// config_toml.cc, config_env.cc and config_args.cc (the sources),
// config_policy.h ([[policy]] tables) and config_validate.cc (cross-field
// checks).
#include "proxy/config.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/config_kinds.h"
#include "proxy/config_options.h"
#include "proxy/config_policy.h"
#include "proxy/config_sources.h"
#include "proxy/config_text.h"

namespace strata {
namespace config_internal {
namespace {

// The value as its source spelled it, for messages.
std::string Shown(const RawValue& value) {
  return value.type == RawValue::Type::kText ? Quote(value.text) : value.text;
}

}  // namespace

// ---------------------------------------------------------------- the table

// A new knob is one entry here.
const std::vector<Option>& Options() {
  using Srv = ServerConfig;
  using L2 = L2Config;
  constexpr auto kServer = &Config::server;
  constexpr auto kL1 = &Config::l1;
  constexpr auto kL2 = &Config::l2;
  constexpr auto kL3 = &Config::l3;
  constexpr auto kWal = &Config::wal;
  constexpr auto kAdmin = &Config::admin;
  constexpr auto kLog = &Config::log;
  static const std::vector<Option>* const options = new std::vector<Option>{
      Text("server.socket", kServer, &Srv::socket, "PATH", "Unix socket path to listen on"),
      Mode("server.socket_mode", kServer, &Srv::socket_mode, "socket file permissions (octal)"),
      Count("server.threads", kServer, &Srv::threads, 0, "worker loops; 0 = number of cores"),
      Count("server.max_connections", kServer, &Srv::max_connections, 1,
            "client connections at once; beyond it a new one gets code 7 and is closed"),
      Size("server.max_key_bytes", kServer, &Srv::max_key_bytes,
           "longest key accepted (code 4 beyond it); at most 65535"),
      Size("server.max_value_bytes", kServer, &Srv::max_value_bytes,
           "largest value accepted (code 4 beyond it); at most 512MiB"),
      Size("server.max_message_bytes", kServer, &Srv::max_message_bytes,
           "largest request message accepted (code 4 beyond it)"),
      Count("server.max_batch_keys", kServer, &Srv::max_batch_keys, 1,
            "most keys in one batch request (code 4 beyond it)"),
      Duration("server.shutdown_timeout", kServer, &Srv::shutdown_timeout_ms,
               "drain budget on SIGTERM"),
      Duration("server.idle_timeout", kServer, &Srv::idle_timeout_ms,
               "close a connection idle this long; 0 = never"),
      Size("server.max_output_bytes", kServer, &Srv::max_output_bytes,
           "output a connection may queue before the server stops reading from it"),
      Bool("server.huge_pages", kServer, &Srv::huge_pages,
           "back malloc with transparent huge pages (re-executes once at start with "
           "GLIBC_TUNABLES)"),
      Size("server.max_input_bytes", kServer, &Srv::max_input_bytes,
           "bytes of incomplete messages held across all connections"),
      Size("l1.max_bytes", kL1, &L1Config::max_bytes,
           "L1 memory budget, overhead included; at least 1MiB"),
      Duration("l1.max_ttl", kL1, &L1Config::max_ttl_ms,
               "cap on L1 lifetime, the staleness bound for data from L2/L3; 0 = none"),
      Count("l1.shards", kL1, &L1Config::shards, 0,
            "L1 shards; 0 = automatic, else a power of two up to 4096"),
      Duration("l1.sweep_interval", kL1, &L1Config::sweep_interval_ms,
               "how often L1 looks for expired entries"),
      Count("l1.sweep_batch", kL1, &L1Config::sweep_batch, 1,
            "entries examined per shard per sweep tick"),
      Duration("l1.negative_ttl", kL1, &L1Config::negative_ttl_ms,
               "how long L1 remembers that a key is absent from the tiers below; 0 = off"),
      Enum("l2.mode", kL2, &L2Config::mode, {"off", "standalone", "sharded", "cluster"},
           "how L2 (Redis) is reached; off = no L2"),
      List("l2.endpoints", kL2, &L2Config::endpoints, "URL,...",
           "redis://[user:pass@]host:port[/db] or unix:///path; env and flag: comma-separated"),
      Text("l2.key_prefix", kL2, &L2::key_prefix, "TEXT", "prepended to every key sent to Redis"),
      Bool("l2.hash_tags", kL2, &L2::hash_tags, "sharded: route a key \"{tag}rest\" by its tag"),
      Count("l2.vnodes", kL2, &L2::vnodes, 1, 65536,
            "sharded: virtual nodes per endpoint, 1 to 65536"),
      Duration("l2.connect_timeout", kL2, &L2::connect_timeout_ms,
               "connect plus AUTH/SELECT budget per attempt"),
      Duration("l2.command_timeout", kL2, &L2::command_timeout_ms,
               "per-command reply budget; 0 = none"),
      Duration("l2.reconnect_base", kL2, &L2::reconnect_base_ms,
               "first reconnect delay (jittered, doubling)"),
      Duration("l2.reconnect_max", kL2, &L2::reconnect_max_ms, "reconnect delay cap"),
      Count("l2.breaker_failures", kL2, &L2::breaker_failures, 1,
            "consecutive failures that open an endpoint's circuit breaker"),
      Duration("l2.breaker_open", kL2, &L2::breaker_open_ms,
               "first circuit-breaker cool-down before a probe"),
      Duration("l2.breaker_max_open", kL2, &L2::breaker_max_open_ms,
               "cool-down cap after repeated failed probes"),
      Bool("l2.required", kL2, &L2::required,
           "readiness (/readyz) needs every Redis connection of every loop up"),
      Bool("l2.read_from_replicas", kL2, &L2::read_from_replicas,
           "cluster: gets and ttls may go to replicas"),
      Duration("l2.topology_refresh", kL2, &L2::topology_refresh_ms,
               "cluster: how often slots are re-read; 0 = only after errors"),
      Count("l2.max_redirects", kL2, &L2::max_redirects, 1, 100,
            "cluster: MOVED/ASK hops one request may follow, 1 to 100"),
      Count("l2.max_retries", kL2, &L2::max_retries, 0, 100,
            "TRYAGAIN/CLUSTERDOWN/LOADING retries per request, at most 100; 0 = none"),
      Duration("l2.retry_base", kL2, &L2::retry_base_ms, "first retry delay; doubles per retry"),
      Bool("l3.enabled", kL3, &L3Config::enabled, "use the RocksDB tier"),
      Text("l3.path", kL3, &L3Config::path, "PATH", "RocksDB directory"),
      Size("l3.block_cache", kL3, &L3Config::block_cache, "RocksDB block cache size"),
      Enum("l3.compression", kL3, &L3Config::compression, {"lz4", "zstd", "none"},
           "compression of RocksDB blocks"),
      Count("l3.bloom_bits", kL3, &L3Config::bloom_bits, 0, 64,
            "bloom filter bits per key (0 = none); saves disk reads for absent keys"),
      Size("l3.max_bytes", kL3, &L3Config::max_bytes,
           "disk budget for L3; past it the oldest data is dropped; 0 = unbounded"),
      Count("l3.io_threads", kL3, &L3Config::io_threads, 1, 64,
            "threads for L3 reads that miss the block cache and for L3 write-through"),
      Size("l3.ingest_bytes", kL3, &L3Config::ingest_bytes,
           "write-behind gathers this much for L3, then adds it as one sorted file "
           "(at most l3.max_bytes/16 and wal.max_bytes/4); 0 = each batch via the memtable"),
      Duration("l3.ingest_interval", kL3, &L3Config::ingest_interval_ms,
               "... or adds what it gathered after this long"),
      Bool("wal.enabled", kWal, &WalConfig::enabled,
           "journal writes (write-behind) when a tier below L1 is configured"),
      Text("wal.path", kWal, &WalConfig::path, "PATH", "write-behind journal directory"),
      Enum("wal.sync", kWal, &WalConfig::sync, {"always", "interval", "never"},
           "when the journal is fsynced: always = before each ack (group commit), "
           "interval = every wal.sync_interval, never = left to the OS"),
      Duration("wal.sync_interval", kWal, &WalConfig::sync_interval_ms,
               "fsync period for wal.sync = interval"),
      Size("wal.max_bytes", kWal, &WalConfig::max_bytes,
           "journaled bytes not yet in every tier below L1; beyond it writes get code 7"),
      Size("wal.segment_bytes", kWal, &WalConfig::segment_bytes, "size of one journal file"),
      Bool("wal.preallocate", kWal, &WalConfig::preallocate,
           "write the next journal file as zeros ahead of time, so fsyncs skip the file "
           "system's journal (costs one extra write of each segment)"),
      Duration("wal.through_timeout", kWal, &WalConfig::through_timeout_ms,
               "how long a write \"through\" waits for every tier (then code 6; the write "
               "stays journaled)"),
      Duration("wal.drain_linger", kWal, &WalConfig::drain_linger_ms,
               "how long the drain waits for a fuller batch (1,024 writes) before it sends "
               "what it has to Redis and RocksDB; 0 = never wait"),
      Text("admin.listen", kAdmin, &AdminConfig::listen, "HOST:PORT",
           "admin HTTP address (/healthz, /readyz, /metrics, /stats); empty = off"),
      Bool("admin.tier_metrics", kAdmin, &AdminConfig::tier_metrics,
           "count each tier's lookups and time them (strata_tier_* metrics)"),
      Enum("log.level", kLog, &LogConfig::level, {"debug", "info", "warn", "error", "off"},
           "least severe log level written"),
  };
  return *options;
}

const Option* FindOption(std::string_view name) {
  for (const Option& option : Options()) {
    if (option.name == name) return &option;
  }
  return nullptr;
}

std::vector<std::string_view> Sections() {
  std::vector<std::string_view> sections;
  for (const Option& option : Options()) {
    if (sections.empty() || sections.back() != SectionOf(option.name)) {
      sections.push_back(SectionOf(option.name));
    }
  }
  return sections;
}

Status Apply(const Option& option, const RawValue& value, Config* config) {
  Status status = option.set(value, config);
  if (status.ok()) return status;
  std::string message = "invalid value " + Shown(value) + " for " + std::string(option.name) +
                        ": expected " + option.expected;
  if (!status.message().empty()) message += " (" + status.message() + ")";
  return Status::BadArgs(std::move(message));
}

Status UnknownKey(std::string_view name) {
  std::string message = "unknown key " + std::string(name);
  const std::string_view section = SectionOf(name);
  if (!IsSection(section)) {
    return Status::BadArgs(message + " (sections: " + Join(Sections(), ", ") + ")");
  }
  std::vector<std::string_view> keys;
  for (const Option& option : Options()) {
    if (SectionOf(option.name) == section) keys.push_back(KeyOf(option.name));
  }
  return Status::BadArgs(message + " (keys in [" + std::string(section) + "]: " + Join(keys, ", ") +
                         ")");
}

RawValue RawValue::Text(std::string_view text) {
  RawValue value;
  value.text = std::string(text);
  return value;
}

Status SetOption(std::string_view name, const RawValue& value, Config* config) {
  const Option* option = FindOption(name);
  if (option == nullptr) return UnknownKey(name);
  return Apply(*option, value, config);
}

bool IsSection(std::string_view section) {
  for (const Option& option : Options()) {
    if (SectionOf(option.name) == section) return true;
  }
  return false;
}

std::vector<std::string> OptionNames() {
  std::vector<std::string> names;
  for (const Option& option : Options()) names.emplace_back(option.name);
  return names;
}

std::string EnvVarName(std::string_view option_name) {
  std::string var = "STRATA_";
  for (char c : option_name) var += c == '.' ? '_' : Upper(c);
  return var;
}

}  // namespace config_internal

// ---------------------------------------------------------------- public API

using config_internal::KeyOf;
using config_internal::Option;
using config_internal::Options;
using config_internal::Quote;
using config_internal::SectionOf;

namespace {

StatusOr<std::string> ReadFile(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return Status::BadArgs("cannot read config file " + Quote(path) + ": " + std::strerror(errno));
  }
  std::string contents;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) contents.append(buffer, n);
  const int error = std::ferror(file) ? errno : 0;
  std::fclose(file);
  if (error != 0) {
    return Status::BadArgs("cannot read config file " + Quote(path) + ": " + std::strerror(error));
  }
  return contents;
}

}  // namespace

StatusOr<CommandLine> ParseCommandLine(int argc, const char* const* argv, const char* const* envp) {
  CommandLine command_line;
  std::vector<config_internal::FlagSetting> settings;
  Status status = config_internal::ScanArgs(argc, argv, &command_line, &settings);
  if (!status.ok()) return status;
  if (command_line.help) return command_line;
  Config& config = command_line.config;
  if (!command_line.config_file.empty()) {
    StatusOr<std::string> text = ReadFile(command_line.config_file);
    if (!text.ok()) return text.status();
    status = ApplyToml(*text, command_line.config_file, &config);
    if (!status.ok()) return status;
  }
  status = config_internal::ApplyEnvironment(envp, &config);
  if (!status.ok()) return status;
  status = config_internal::ApplyFlags(settings, &config);
  if (!status.ok()) return status;
  status = Validate(config);
  if (!status.ok()) return status;
  return command_line;
}

std::string ToToml(const Config& config) {
  std::string out =
      "# Strata configuration. Sizes: 512MiB, 16KiB, 1GB or plain bytes.\n"
      "# Durations: 250ms, 10s, 5m, 1h, 1d or plain milliseconds.\n";
  std::string_view section;
  for (const Option& option : Options()) {
    if (SectionOf(option.name) != section) {
      section = SectionOf(option.name);
      out += "\n[" + std::string(section) + "]\n";
    }
    out += "# " + std::string(option.help) + "\n";
    out += std::string(KeyOf(option.name)) + " = " + option.toml(config) + "\n";
  }
  return out + config_internal::PoliciesToml(config.policies);
}

std::string HelpText() {
  std::string out =
      "Usage: strata [--config FILE] [--SECTION.KEY=VALUE ...]\n"
      "\n"
      "  --config FILE         read settings from a TOML file\n"
      "  --check-config FILE   read FILE (with environment and flags), validate, exit\n"
      "  --print-config        print the effective configuration as TOML, exit\n"
      "  -h, --help            print this text, exit\n"
      "\n"
      "Every option can be set as `key = value` under [section] in the TOML file, by\n"
      "its environment variable, or by a flag (--section.key=VALUE or --section.key\n"
      "VALUE). Later sources win: defaults < file < environment < flags.\n"
      "[[policy]] tables (at the end) can only be set in the file.\n"
      "Sizes: 512MiB, 16KiB, 1GB or plain bytes. Durations: 250ms, 10s, 5m, 1h or\n"
      "plain milliseconds. Booleans: true/false (also 1/0, yes/no outside TOML).\n"
      "\n"
      "Options:\n";
  const Config defaults;
  for (const Option& option : Options()) {
    std::string default_text = option.text(defaults);
    if (default_text.empty()) default_text = "\"\"";
    out += "  --" + std::string(option.name) + "=" + option.metavar + "\n";
    out += "      " + std::string(option.help) + "\n";
    out += "      env " + config_internal::EnvVarName(option.name) + ", default " + default_text +
           "\n";
  }
  return out + "\n" + config_internal::PolicyHelp();
}

}  // namespace strata
