#include "proxy/config.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "proxy/config_options.h"
#include "tests/proxy/config_test_util.h"

namespace strata {
namespace {

using namespace config_test;  // NOLINT: test helpers


TEST_CASE("no sources give the documented defaults", "[config]") {
  const Config config = ParseOk({});
  CHECK(config.server.socket == "./strata.sock");
  CHECK(config.server.socket_mode == 0660);
  CHECK(config.server.max_key_bytes == 16 << 10);
  CHECK(config.server.shutdown_timeout_ms == 10'000);
  CHECK(config.server.huge_pages);
  CHECK(config.l1.max_bytes == 256ull << 20);
  CHECK(config.l2.mode == "off");
  CHECK(config.l2.endpoints.empty());
  CHECK(config.l1.negative_ttl_ms == 0);
  CHECK(config.l2.key_prefix.empty());
  CHECK_FALSE(config.l2.hash_tags);
  CHECK(config.l2.vnodes == 2048);
  CHECK(config.l2.connect_timeout_ms == 1000);
  CHECK(config.l2.command_timeout_ms == 250);
  CHECK(config.l2.reconnect_base_ms == 50);
  CHECK(config.l2.reconnect_max_ms == 5000);
  CHECK(config.l2.breaker_failures == 5);
  CHECK(config.l2.breaker_open_ms == 1000);
  CHECK(config.l2.breaker_max_open_ms == 30'000);
  CHECK_FALSE(config.l2.read_from_replicas);
  CHECK_FALSE(config.l2.required);
  CHECK(config.l2.topology_refresh_ms == 10'000);
  CHECK(config.l2.max_redirects == 5);
  CHECK(config.l2.max_retries == 5);
  CHECK(config.l2.retry_base_ms == 10);
  CHECK(config.policies.empty());
  CHECK(config.l3.enabled);
  CHECK(config.wal.sync == "interval");
  CHECK(config.admin.listen == "127.0.0.1:9100");
  CHECK(config.admin.tier_metrics);
  CHECK(Validate(Config{}).ok());
}

TEST_CASE("precedence: defaults < file < environment < flags", "[config]") {
  TempFile file("[server]\nsocket = \"/file.sock\"\nthreads = 2\nmax_connections = 7\n");
  const std::string env = "STRATA_SERVER_SOCKET=/env.sock";
  const std::string env_threads = "STRATA_SERVER_THREADS=3";

  Config config = ParseOk({"--config", file.path()});
  CHECK(config.server.socket == "/file.sock");
  CHECK(config.server.threads == 2);

  config = ParseOk({"--config", file.path()}, {env, env_threads});
  CHECK(config.server.socket == "/env.sock");
  CHECK(config.server.threads == 3);
  CHECK(config.server.max_connections == 7);  // only the file set it

  // A flag wins even when it comes before --config on the command line.
  config = ParseOk({"--server.socket=/flag.sock", "--config=" + file.path()}, {env, env_threads});
  CHECK(config.server.socket == "/flag.sock");
  CHECK(config.server.threads == 3);

  config = ParseOk({"--server.threads", "4"}, {env_threads});
  CHECK(config.server.threads == 4);
}

TEST_CASE("flags: both spellings, bare booleans, repeated flags", "[config]") {
  Config config = ParseOk({"--l1.max_bytes=1GiB", "--wal.sync", "always"});
  CHECK(config.l1.max_bytes == 1ull << 30);
  CHECK(config.wal.sync == "always");

  CHECK_FALSE(ParseOk({"--l3.enabled=false"}).l3.enabled);
  CHECK_FALSE(ParseOk({"--l3.enabled", "no"}).l3.enabled);
  CHECK(ParseOk({"--l3.enabled=0", "--l3.enabled"}).l3.enabled);
  CHECK(ParseOk({"--l3.enabled", "--print-config"}).l3.enabled);

  CHECK(ParseOk({"--server.threads=1", "--server.threads=8"}).server.threads == 8);
  CHECK(ParseOk({"--admin.listen="}).admin.listen.empty());
}

TEST_CASE("flags: --help, --print-config, --config, --check-config", "[config]") {
  StatusOr<CommandLine> help = Parse({"--server.threads=oops", "-h"});
  REQUIRE(help.ok());  // --help wins over everything else
  CHECK(help->help);
  CHECK(Parse({"--help"})->help);

  StatusOr<CommandLine> print = Parse({"--print-config"});
  REQUIRE(print.ok());
  CHECK(print->print_config);
  CHECK_FALSE(print->check_config);

  TempFile file("[log]\nlevel = \"debug\"\n");
  StatusOr<CommandLine> check = Parse({"--check-config", file.path()});
  REQUIRE(check.ok());
  CHECK(check->check_config);
  CHECK(check->config_file == file.path());
  CHECK(check->config.log.level == "debug");

  CHECK_THAT(ParseError({"--config"}), Catch::Contains("--config needs a file name"));
  CHECK_THAT(ParseError({"--config", "/nonexistent/strata.toml"}),
             Catch::Contains("cannot read config file \"/nonexistent/strata.toml\": No such file"));
  CHECK_THAT(ParseError({"--config=/a.toml", "--check-config=/b.toml"}),
             Catch::Contains("two config files given (\"/a.toml\" and \"/b.toml\")"));
}

TEST_CASE("flags: unknown, malformed or missing values are errors", "[config]") {
  CHECK_THAT(FlagError("--server.sockt=/x"), Catch::Contains("unknown flag --server.sockt"));
  CHECK_THAT(FlagError("--verbose"), Catch::Contains("unknown flag --verbose"));
  CHECK_THAT(FlagError("stray"), Catch::Contains("unexpected argument \"stray\""));
  CHECK_THAT(FlagError("--"), Catch::Contains("unexpected argument"));
  CHECK_THAT(FlagError("--server.socket"), Catch::Contains("flag --server.socket needs a value"));
  CHECK_THAT(FlagError("--server.max_connections=abc"),
             Catch::Contains("--server.max_connections: invalid value \"abc\" for "
                             "server.max_connections: expected a positive integer"));
}

TEST_CASE("environment: names, lists, strangers and unknown keys", "[config]") {
  Config config =
      ParseOk({}, {"STRATA_L2_MODE=sharded", "STRATA_L2_ENDPOINTS=redis://a:6379, redis://b:6379",
                   "STRATA_SERVER_SOCKET_MODE=0600", "STRATA_L1_MAX_TTL=5m",
                   "STRATA_HOME=/opt/strata", "PATH=/bin", "NOEQUALS"});
  CHECK(config.l2.mode == "sharded");
  CHECK(config.l2.endpoints == std::vector<std::string>{"redis://a:6379", "redis://b:6379"});
  CHECK(config.server.socket_mode == 0600);
  CHECK(config.l1.max_ttl_ms == 300'000);

  CHECK(ParseOk({}, {"STRATA_L2_ENDPOINTS="}).l2.endpoints.empty());
  CHECK(ParseOk({}, {"STRATA_ADMIN_LISTEN="}).admin.listen.empty());
  CHECK(ParseOk({}, {"STRATA_LOG_LEVEL=WARN"}).log.level == "warn");

  const std::string unknown = ParseError({}, {"STRATA_SERVER_SOCKETT=/x"});
  CHECK_THAT(unknown, Catch::Contains("unknown environment variable STRATA_SERVER_SOCKETT"));
  CHECK_THAT(unknown, Catch::Contains("server.sockett"));
  CHECK_THAT(ParseError({}, {"STRATA_L1_SIZE=1"}), Catch::Contains("STRATA_L1_SIZE"));
  CHECK_THAT(ParseError({}, {"STRATA_SERVER_THREADS=many"}),
             Catch::Contains("STRATA_SERVER_THREADS: invalid value \"many\" for server.threads"));
  CHECK_THAT(ParseError({}, {"STRATA_L2_ENDPOINTS=redis://a:1,,redis://b:2"}),
             Catch::Contains("an item is empty"));
}

TEST_CASE("TOML: types, units, octal modes, arrays", "[config]") {
  const Config config = TomlOk(R"(
[server]
socket = "/run/strata.sock"
socket_mode = 0o600
threads = 4
max_value_bytes = "8 MiB"
max_message_bytes = 33554432
shutdown_timeout = "30s"
idle_timeout = 1500

[l1]
max_bytes = "2GiB"
shards = 64

[l2]
mode = "cluster"
endpoints = ["redis://10.0.0.1:6379", "unix:///run/redis.sock"]

[l3]
enabled = false
)");
  CHECK(config.server.socket == "/run/strata.sock");
  CHECK(config.server.socket_mode == 0600);
  CHECK(config.server.threads == 4);
  CHECK(config.server.max_value_bytes == 8ull << 20);
  CHECK(config.server.max_message_bytes == 32ull << 20);
  CHECK(config.server.shutdown_timeout_ms == 30'000);
  CHECK(config.server.idle_timeout_ms == 1500);
  CHECK(config.l1.max_bytes == 2ull << 30);
  CHECK(config.l1.shards == 64);
  CHECK(config.l2.mode == "cluster");
  CHECK(config.l2.endpoints.size() == 2);
  CHECK_FALSE(config.l3.enabled);

  CHECK(TomlOk("[server]\nsocket_mode = \"0640\"").server.socket_mode == 0640);
  CHECK(TomlOk("server.threads = 3").server.threads == 3);  // dotted keys work too
  CHECK(TomlOk("").server.socket == "./strata.sock");
  CHECK_THAT(TomlError("[server]\nsocket_mode = 660"),
             Catch::Contains("invalid value 660 for server.socket_mode: expected an octal file "
                             "mode such as 0660 (in TOML write 0o660 or \"0660\")"));
  CHECK_THAT(TomlError("[server]\nsocket_mode = 0o1777"),
             Catch::Contains("invalid value 0o1777 for server.socket_mode"));
  CHECK_THAT(TomlError("[admin]\nlisten = 9100"),
             Catch::Contains("invalid value 9100 for admin.listen: expected a string"));
  CHECK_THAT(TomlError("[l2]\nendpoints = [\"redis://a:1\", 2]"),
             Catch::Contains("for l2.endpoints: expected a list of strings"));
  CHECK_THAT(TomlError("[l1]\nmax_bytes = -5"),
             Catch::Contains("invalid value -5 for l1.max_bytes"));
  CHECK_THAT(TomlError("[l1]\nmax_bytes = 1.5"),
             Catch::Contains("invalid value 1.5 for l1.max_bytes"));
  CHECK_THAT(TomlError("[l3]\nenabled = \"maybe\""),
             Catch::Contains("invalid value \"maybe\" for l3.enabled: expected true or false"));
}

TEST_CASE("TOML: unknown keys and sections are errors with a location", "[config]") {
  const std::string key = TomlError("[server]\n\nsockett = \"/x\"\n");
  CHECK_THAT(key, Catch::StartsWith("test.toml:3:"));
  CHECK_THAT(key, Catch::Contains("unknown key server.sockett (keys in [server]: socket,"));
  CHECK_THAT(TomlError("[servr]\nsocket = \"/x\""), Catch::Contains("unknown section [servr]"));
  CHECK_THAT(TomlError("socket = \"/x\""), Catch::Contains("must be inside a [section]"));
  CHECK_THAT(TomlError("[server.tls]\ncert = \"x\""), Catch::Contains("unknown key server.tls"));
  CHECK_THAT(TomlError("[[server]]\nsocket = \"x\""),
             Catch::Contains("must be inside a [section]"));
}

TEST_CASE("TOML: a syntax error names the file, line and column", "[config]") {
  const std::string error = TomlError("[server]\nsocket = \n");
  CHECK_THAT(error, Catch::StartsWith("test.toml:2:"));

  TempFile file("[l1]\nmax_bytes = \"1GiB\"\n[l1]\n");
  const std::string from_file = ParseError({"--config", file.path()});
  CHECK_THAT(from_file, Catch::StartsWith(file.path() + ":3:"));
}

TEST_CASE("TOML: a bad file leaves the config untouched", "[config]") {
  Config config;
  REQUIRE_FALSE(ApplyToml("[server]\nsocket = \"/new\"\nthreads = \"x\"\n", "t", &config).ok());
  CHECK(config.server.socket == "./strata.sock");
}

// Each error message names the key, the value and what is allowed.
TEST_CASE("invalid values: the message names key, value and what is allowed", "[config]") {
  struct Case {
    std::string flag;
    std::string message;
  };
  const Case cases[] = {
      {"--server.max_connections=abc",
       "invalid value \"abc\" for server.max_connections: expected a positive integer"},
      {"--server.max_connections=0",
       "invalid value \"0\" for server.max_connections: expected a positive integer"},
      {"--server.threads=-1",
       "invalid value \"-1\" for server.threads: expected a non-negative integer"},
      {"--server.threads=4294967296",
       "invalid value \"4294967296\" for server.threads: expected a non-negative integer "
       "(at most 4294967295)"},
      {"--l1.max_bytes=abc",
       "invalid value \"abc\" for l1.max_bytes: expected a size such as 512MiB"},
      {"--l1.max_bytes=1k",
       "invalid value \"1k\" for l1.max_bytes: expected a size such as 512MiB (unknown unit"},
      {"--server.max_key_bytes=99999999999999999999",
       "for server.max_key_bytes: expected a size such as 512MiB (too large"},
      {"--wal.sync=sometimes",
       "invalid value \"sometimes\" for wal.sync: expected one of always, interval, never"},
      {"--l2.mode=redis",
       "invalid value \"redis\" for l2.mode: expected one of off, standalone, sharded, cluster"},
      {"--log.level=trace",
       "invalid value \"trace\" for log.level: expected one of debug, info, warn, error, off"},
      {"--server.shutdown_timeout=soon",
       "invalid value \"soon\" for server.shutdown_timeout: expected a duration such as 250ms"},
      {"--l1.max_ttl=-1s", "invalid value \"-1s\" for l1.max_ttl: expected a duration"},
      {"--l3.enabled=maybe", "invalid value \"maybe\" for l3.enabled: expected true or false"},
      {"--server.socket_mode=0999",
       "invalid value \"0999\" for server.socket_mode: expected an octal file mode such as 0660"},
      {"--l2.endpoints=a,,b", "invalid value \"a,,b\" for l2.endpoints"},
  };
  for (const Case& c : cases) {
    INFO(c.flag);
    CHECK_THAT(FlagError(c.flag), Catch::Contains(c.message));
  }
}

// Flags that move every option away from its default. Kept in step with the
// table by the size check below.
const std::vector<std::string> kEveryOptionChanged = {
    "--server.socket=/tmp/a \"quoted\" \\ path.sock",
    "--server.socket_mode=0600",
    "--server.threads=3",
    "--server.max_connections=123",
    "--server.max_key_bytes=1000",
    "--server.max_value_bytes=1500",
    "--server.max_message_bytes=3GB",
    "--server.max_batch_keys=77",
    "--server.shutdown_timeout=90s",
    "--server.idle_timeout=1h",
    "--server.max_output_bytes=1",
    "--server.max_input_bytes=5TiB",
    "--server.huge_pages=false",
    "--l1.max_bytes=2000KiB",
    "--l1.max_ttl=1500",
    "--l1.shards=16",
    "--l1.sweep_interval=2m",
    "--l1.sweep_batch=9",
    "--l1.negative_ttl=30s",
    "--l2.mode=sharded",
    "--l2.endpoints=redis://u:p@h:1/2,unix:///r.sock",
    "--l2.key_prefix=app:\"v2\":",
    "--l2.hash_tags",
    "--l2.vnodes=65536",
    "--l2.connect_timeout=2s",
    "--l2.command_timeout=0",
    "--l2.reconnect_base=100ms",
    "--l2.reconnect_max=1m",
    "--l2.breaker_failures=1",
    "--l2.breaker_open=5s",
    "--l2.breaker_max_open=1h",
    "--l2.read_from_replicas=yes",
    "--l2.required=yes",
    "--l2.topology_refresh=0",
    "--l2.max_redirects=100",
    "--l2.max_retries=0",
    "--l2.retry_base=0",
    "--l3.enabled=no",
    "--l3.path=/var/lib/strata/l3",
    "--l3.block_cache=8MiB",
    "--l3.compression=zstd",
    "--l3.bloom_bits=0",
    "--l3.max_bytes=10GiB",
    "--l3.io_threads=4",
    "--l3.ingest_bytes=4MiB",
    "--l3.ingest_interval=250ms",
    "--wal.enabled=false",
    "--wal.path=/var/lib/strata/wal",
    "--wal.sync=never",
    "--wal.sync_interval=50ms",
    "--wal.max_bytes=2GiB",
    "--wal.segment_bytes=16MiB",
    "--wal.preallocate=false",
    "--wal.through_timeout=2s",
    "--wal.drain_linger=20ms",
    "--admin.listen=",
    "--admin.tier_metrics=false",
    "--log.level=error",
};

TEST_CASE("ToToml -> ApplyToml round-trips every option", "[config]") {
  REQUIRE(kEveryOptionChanged.size() == config_internal::OptionNames().size());
  const Config changed = ParseOk(kEveryOptionChanged);
  const std::string text = ToToml(changed);
  INFO(text);

  Config reread;
  Status status = ApplyToml(text, "print-config", &reread);
  REQUIRE(status.ok());
  CHECK(ToToml(reread) == text);
  CHECK(reread.server.socket == "/tmp/a \"quoted\" \\ path.sock");
  CHECK(reread.server.socket_mode == 0600);
  CHECK(reread.server.max_message_bytes == 3'000'000'000);
  CHECK(reread.server.idle_timeout_ms == 3'600'000);
  CHECK_FALSE(reread.server.huge_pages);
  CHECK(reread.l1.max_bytes == 2'048'000);
  CHECK(reread.l2.endpoints == changed.l2.endpoints);
  CHECK(reread.l1.negative_ttl_ms == 30'000);
  CHECK(reread.l2.key_prefix == "app:\"v2\":");
  CHECK(reread.l2.hash_tags);
  CHECK(reread.l2.vnodes == 65536);
  CHECK(reread.l2.command_timeout_ms == 0);
  CHECK(reread.l2.breaker_max_open_ms == 3'600'000);
  CHECK(reread.l2.read_from_replicas);
  CHECK(reread.l2.required);
  CHECK(reread.l2.max_retries == 0);
  CHECK_FALSE(reread.l3.enabled);
  CHECK(reread.wal.drain_linger_ms == 20);
  CHECK(Config{}.wal.drain_linger_ms == 5);
  CHECK(reread.admin.listen.empty());
  CHECK_FALSE(reread.admin.tier_metrics);

  // Every option's line differs from the default rendering, so every
  // renderer and parser above really was exercised.
  const std::string defaults = ToToml(Config{});
  for (const std::string& name : config_internal::OptionNames()) {
    const size_t dot = name.find('.');
    const size_t section = text.find("[" + name.substr(0, dot) + "]\n");
    const size_t at = text.find("\n" + name.substr(dot + 1) + " = ", section);
    REQUIRE(at != std::string::npos);
    const std::string line = text.substr(at, text.find('\n', at + 1) - at);
    INFO(name << line);
    CHECK(defaults.find(line + "\n") == std::string::npos);
  }
}

TEST_CASE("ToToml of the defaults round-trips and groups by section", "[config]") {
  const std::string text = ToToml(Config{});
  CHECK_THAT(text, Catch::Contains("[server]\n"));
  CHECK_THAT(text, Catch::Contains("\nsocket = \"./strata.sock\"\n"));
  CHECK_THAT(text, Catch::Contains("\nsocket_mode = \"0660\"\n"));
  CHECK_THAT(text, Catch::Contains("\nmax_bytes = \"256MiB\"\n"));
  CHECK_THAT(text, Catch::Contains("\nshutdown_timeout = \"10s\"\n"));
  CHECK_THAT(text, Catch::Contains("\nendpoints = []\n"));
  CHECK(ToToml(TomlOk(text)) == text);
}

TEST_CASE("HelpText lists every option with its env var and default", "[config]") {
  const std::string help = HelpText();
  for (const std::string& name : config_internal::OptionNames()) {
    INFO(name);
    CHECK_THAT(help, Catch::Contains("--" + name + "="));
    CHECK_THAT(help, Catch::Contains("env " + config_internal::EnvVarName(name) + ", default "));
  }
  CHECK_THAT(help, Catch::Contains("env STRATA_SERVER_SOCKET, default ./strata.sock"));
  CHECK_THAT(help, Catch::Contains("env STRATA_L1_MAX_BYTES, default 256MiB"));
  CHECK_THAT(help, Catch::Contains("env STRATA_L2_ENDPOINTS, default \"\""));
  CHECK_THAT(help, Catch::Contains("--check-config FILE"));
  CHECK(config_internal::EnvVarName("server.socket") == "STRATA_SERVER_SOCKET");
}

std::string ValidateError(void (*change)(Config*)) {
  Config config;
  change(&config);
  Status status = Validate(config);
  REQUIRE_FALSE(status.ok());
  return status.message();
}

TEST_CASE("Validate: cross-field limits", "[config]") {
  const std::string key = ValidateError([](Config* c) { c->server.max_key_bytes = 65536; });
  CHECK_THAT(key, Catch::Contains("server.max_key_bytes must be at most 65535"));
  CHECK_THAT(key, Catch::Contains("16 bits"));
  CHECK_THAT(ValidateError([](Config* c) { c->server.max_message_bytes = 1000; }),
             Catch::Contains("server.max_key_bytes (16KiB) must not exceed "
                             "server.max_message_bytes (1KB)"));
  CHECK_THAT(ValidateError([](Config* c) { c->server.max_value_bytes = 100ull << 20; }),
             Catch::Contains("server.max_value_bytes (100MiB) must not exceed"));
  CHECK_THAT(ValidateError([](Config* c) {
               c->server.max_value_bytes = 513ull << 20;
               c->server.max_message_bytes = 1ull << 30;
             }),
             Catch::Contains("server.max_value_bytes must be at most 512MiB"));
  CHECK_THAT(ValidateError([](Config* c) { c->server.max_input_bytes = 1 << 20; }),
             Catch::Contains("server.max_input_bytes (1MiB) must be at least"));
  CHECK_THAT(ValidateError([](Config* c) { c->l1.max_bytes = (1 << 20) - 1; }),
             Catch::Contains("l1.max_bytes must be at least 1MiB"));
  CHECK(Validate([] {
          Config c;
          c.l1.max_bytes = 1 << 20;
          return c;
        }())
            .ok());
}

TEST_CASE("Validate: single-field rules", "[config]") {
  CHECK_THAT(ValidateError([](Config* c) { c->server.threads = 257; }),
             Catch::Contains("server.threads must be at most 256"));
  CHECK_THAT(ValidateError([](Config* c) { c->server.shutdown_timeout_ms = 0; }),
             Catch::Contains("server.shutdown_timeout must be greater than 0"));
  CHECK_THAT(ValidateError([](Config* c) { c->l1.sweep_interval_ms = 0; }),
             Catch::Contains("l1.sweep_interval must be greater than 0"));
  CHECK_THAT(ValidateError([](Config* c) { c->l3.ingest_interval_ms = 0; }),
             Catch::Contains("l3.ingest_interval must be greater than 0"));
  CHECK_THAT(ValidateError([](Config* c) { c->l1.shards = 3; }),
             Catch::Contains("l1.shards must be 0 (automatic) or a power of two up to 4096"));
  CHECK_THAT(ValidateError([](Config* c) { c->l1.shards = 8192; }), Catch::Contains("l1.shards"));
  CHECK(Validate([] {
          Config c;
          c.l1.shards = 4096;
          return c;
        }())
            .ok());
  CHECK_THAT(ValidateError([](Config* c) { c->server.socket.clear(); }),
             Catch::Contains("server.socket must not be empty"));
  CHECK_THAT(ValidateError([](Config* c) { c->server.socket.assign(200, 'x'); }),
             Catch::Contains("a Unix socket path can be at most 107"));
  CHECK_THAT(ValidateError([](Config* c) { c->l2.mode = "standalone"; }),
             Catch::Contains("l2.endpoints must list exactly one endpoint when l2.mode is "
                             "standalone, not 0"));
  CHECK_THAT(ValidateError([](Config* c) {
               c->l2.mode = "sharded";
               c->l2.endpoints = {"localhost:6379"};
             }),
             Catch::Contains("l2.endpoints[0]: redis endpoint 'localhost:6379': expected "
                             "redis://host:port[/db] or unix:///path"));
  CHECK_THAT(ValidateError([](Config* c) { c->admin.listen = "localhost"; }),
             Catch::Contains("admin.listen must be HOST:PORT"));
  CHECK_THAT(ValidateError([](Config* c) { c->l3.path.clear(); }), Catch::Contains("l3.path"));
  CHECK(Validate([] {
          Config c;
          c.l3.enabled = false;
          c.l3.path.clear();
          return c;
        }())
            .ok());
}

TEST_CASE("Validate reports every problem at once; ParseCommandLine runs it", "[config]") {
  const std::string both = ValidateError([](Config* c) {
    c->server.threads = 999;
    c->l1.shards = 5;
  });
  CHECK_THAT(both, Catch::Contains("server.threads") && Catch::Contains("l1.shards"));
  CHECK_THAT(ParseError({"--l2.mode=cluster"}), Catch::Contains("l2.endpoints must list"));
}

// ---------------------------------------------------------------- L2 tier and negative caching

TEST_CASE("L2 options: TOML, environment and flags", "[config]") {
  const Config config = TomlOk(R"(
[l1]
negative_ttl = "2s"

[l2]
mode = "cluster"
endpoints = ["redis://10.0.0.1:7000"]
key_prefix = "strata:"
hash_tags = true
vnodes = 512
connect_timeout = "3s"
command_timeout = 100
reconnect_base = "20ms"
reconnect_max = "1m"
breaker_failures = 3
breaker_open = "500ms"
breaker_max_open = "2m"
read_from_replicas = true
topology_refresh = "30s"
max_redirects = 8
max_retries = 2
retry_base = "5ms"
)");
  CHECK(config.l1.negative_ttl_ms == 2000);
  CHECK(config.l2.key_prefix == "strata:");
  CHECK(config.l2.hash_tags);
  CHECK(config.l2.vnodes == 512);
  CHECK(config.l2.connect_timeout_ms == 3000);
  CHECK(config.l2.command_timeout_ms == 100);
  CHECK(config.l2.reconnect_base_ms == 20);
  CHECK(config.l2.reconnect_max_ms == 60'000);
  CHECK(config.l2.breaker_failures == 3);
  CHECK(config.l2.breaker_open_ms == 500);
  CHECK(config.l2.breaker_max_open_ms == 120'000);
  CHECK(config.l2.read_from_replicas);
  CHECK(config.l2.topology_refresh_ms == 30'000);
  CHECK(config.l2.max_redirects == 8);
  CHECK(config.l2.max_retries == 2);
  CHECK(config.l2.retry_base_ms == 5);
  CHECK(Validate(config).ok());

  Config env = ParseOk({}, {"STRATA_L2_KEY_PREFIX=tenant-a:", "STRATA_L1_NEGATIVE_TTL=5m",
                            "STRATA_L2_HASH_TAGS=yes", "STRATA_L2_COMMAND_TIMEOUT=1s"});
  CHECK(env.l2.key_prefix == "tenant-a:");
  CHECK(env.l1.negative_ttl_ms == 300'000);
  CHECK(env.l2.hash_tags);
  CHECK(env.l2.command_timeout_ms == 1000);
  // A flag still wins over the environment.
  CHECK(ParseOk({"--l2.key_prefix=x:"}, {"STRATA_L2_KEY_PREFIX=y:"}).l2.key_prefix == "x:");
  CHECK(ParseOk({"--l2.vnodes", "1"}).l2.vnodes == 1);

  const struct {
    std::string flag;
    std::string message;
  } cases[] = {
      {"--l2.vnodes=0", "invalid value \"0\" for l2.vnodes: expected a positive integer"},
      {"--l2.vnodes=65537", "for l2.vnodes: expected a positive integer (at most 65536)"},
      {"--l2.breaker_failures=0",
       "invalid value \"0\" for l2.breaker_failures: expected a positive integer"},
      {"--l2.max_redirects=0", "invalid value \"0\" for l2.max_redirects"},
      {"--l2.max_retries=101", "for l2.max_retries: expected a non-negative integer (at most 100)"},
      {"--l2.connect_timeout=soon",
       "invalid value \"soon\" for l2.connect_timeout: expected a duration"},
      {"--l1.negative_ttl=-1", "invalid value \"-1\" for l1.negative_ttl: expected a duration"},
      {"--l2.hash_tags=sometimes", "invalid value \"sometimes\" for l2.hash_tags"},
  };
  for (const auto& c : cases) {
    INFO(c.flag);
    CHECK_THAT(FlagError(c.flag), Catch::Contains(c.message));
  }
  CHECK_THAT(ParseError({}, {"STRATA_L1_NEGATIVE_TTL=forever"}),
             Catch::Contains("STRATA_L1_NEGATIVE_TTL: invalid value \"forever\" for "
                             "l1.negative_ttl"));
}

TEST_CASE("Validate: L2 endpoints by mode", "[config]") {
  CHECK_THAT(ValidateError([](Config* c) {
               c->l2.mode = "standalone";
               c->l2.endpoints = {"redis://a:1", "redis://b:2"};
             }),
             Catch::Contains("l2.endpoints must list exactly one endpoint when l2.mode is "
                             "standalone, not 2"));
  CHECK_THAT(ValidateError([](Config* c) { c->l2.endpoints = {"redis://a:1"}; }),
             Catch::Contains("l2.endpoints set but l2.mode is off"));
  CHECK_THAT(ParseError({"--l2.endpoints=redis://a:1"}),
             Catch::Contains("l2.endpoints set but l2.mode is off"));
  CHECK_THAT(ValidateError([](Config* c) { c->l2.mode = "sharded"; }),
             Catch::Contains("l2.endpoints must list at least one endpoint when l2.mode is "
                             "sharded"));

  // The index names the endpoint; the reason comes from ParseRedisEndpoint.
  const std::string port = ValidateError([](Config* c) {
    c->l2.mode = "sharded";
    c->l2.endpoints = {"redis://a:6379", "redis://b:"};
  });
  CHECK_THAT(port, Catch::Contains("l2.endpoints[1]: redis endpoint: empty port"));
  CHECK_THAT(port, !Catch::Contains("l2.endpoints[0]"));
  CHECK_THAT(ValidateError([](Config* c) {
               c->l2.mode = "sharded";
               c->l2.endpoints = {"unix://relative.sock"};
             }),
             Catch::Contains("l2.endpoints[0]: redis endpoint 'unix://relative.sock': unix "
                             "socket path must be absolute"));
  CHECK_THAT(ValidateError([](Config* c) {
               c->l2.mode = "cluster";
               c->l2.endpoints = {"redis://a:7000", "unix:///run/redis.sock"};
             }),
             Catch::Contains("l2.endpoints[1]: cluster mode needs TCP endpoints "
                             "(redis://host:port), not \"unix:///run/redis.sock\""));

  // Valid shapes for each mode.
  Config standalone;
  standalone.l2.mode = "standalone";
  standalone.l2.endpoints = {"unix:///run/redis.sock"};
  CHECK(Validate(standalone).ok());
  Config sharded;
  sharded.l2.mode = "sharded";
  sharded.l2.endpoints = {"redis://a:1", "redis://:pw@b:2/3", "unix:///r.sock"};
  CHECK(Validate(sharded).ok());
  Config cluster;
  cluster.l2.mode = "cluster";
  cluster.l2.endpoints = {"redis://[::1]:7000", "redis://b:7001"};
  CHECK(Validate(cluster).ok());
}

TEST_CASE("Validate: L2 timing and negative caching", "[config]") {
  CHECK_THAT(ValidateError([](Config* c) { c->l2.breaker_max_open_ms = 500; }),
             Catch::Contains("l2.breaker_max_open (500ms) must be at least l2.breaker_open (1s)"));
  CHECK_THAT(ValidateError([](Config* c) { c->l2.reconnect_max_ms = 10; }),
             Catch::Contains("l2.reconnect_max (10ms) must be at least l2.reconnect_base (50ms)"));
  CHECK_THAT(ValidateError([](Config* c) { c->l2.connect_timeout_ms = 0; }),
             Catch::Contains("l2.connect_timeout must be greater than 0"));
  CHECK_THAT(ValidateError([](Config* c) { c->l2.command_timeout_ms = -1; }),
             Catch::Contains("l2.command_timeout must not be negative"));
  CHECK_THAT(ValidateError([](Config* c) { c->l2.vnodes = 0; }),
             Catch::Contains("l2.vnodes must be from 1 to 65536, not 0"));
  CHECK_THAT(ValidateError([](Config* c) { c->l2.breaker_failures = 0; }),
             Catch::Contains("l2.breaker_failures must be at least 1"));
  CHECK_THAT(ValidateError([](Config* c) { c->l1.negative_ttl_ms = -5; }),
             Catch::Contains("l1.negative_ttl must not be negative"));
  CHECK_THAT(ParseError({"--l2.breaker_open=1m", "--l2.breaker_max_open=30s"}),
             Catch::Contains("l2.breaker_max_open (30s) must be at least l2.breaker_open (1m)"));
  // Equal bounds and the 0 = none/only-after-errors values are fine.
  CHECK(ParseOk({"--l2.reconnect_base=1s", "--l2.reconnect_max=1s", "--l2.command_timeout=0",
                 "--l2.topology_refresh=0", "--l1.negative_ttl=0"})
            .l2.reconnect_max_ms == 1000);
}

}  // namespace
}  // namespace strata
