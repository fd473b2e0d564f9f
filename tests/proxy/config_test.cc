#include "proxy/config.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "proxy/config_options.h"

namespace strata {
namespace {

// A TOML file in /tmp for the life of one test.
class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    char name[] = "/tmp/strata_config_test_XXXXXX";
    const int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    path_ = name;
    REQUIRE(write(fd, contents.data(), contents.size()) == static_cast<ssize_t>(contents.size()));
    close(fd);
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// argv and envp as ParseCommandLine receives them from main.
StatusOr<CommandLine> Parse(std::vector<std::string> args, std::vector<std::string> env = {}) {
  std::vector<const char*> argv = {"strata"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  argv.push_back(nullptr);
  std::vector<const char*> envp;
  for (const std::string& var : env) envp.push_back(var.c_str());
  envp.push_back(nullptr);
  return ParseCommandLine(static_cast<int>(argv.size() - 1), argv.data(), envp.data());
}

Config ParseOk(std::vector<std::string> args, std::vector<std::string> env = {}) {
  StatusOr<CommandLine> parsed = Parse(std::move(args), std::move(env));
  INFO(parsed.status().ToString());
  REQUIRE(parsed.ok());
  return parsed->config;
}

std::string ParseError(std::vector<std::string> args, std::vector<std::string> env = {}) {
  StatusOr<CommandLine> parsed = Parse(std::move(args), std::move(env));
  REQUIRE_FALSE(parsed.ok());
  return parsed.status().message();
}

Config TomlOk(std::string_view text) {
  Config config;
  Status status = ApplyToml(text, "test.toml", &config);
  INFO(status.ToString());
  REQUIRE(status.ok());
  return config;
}

std::string TomlError(std::string_view text) {
  Config config;
  Status status = ApplyToml(text, "test.toml", &config);
  REQUIRE_FALSE(status.ok());
  return status.message();
}

std::string FlagError(const std::string& flag) { return ParseError({flag}); }

TEST_CASE("no sources give the documented defaults", "[config]") {
  const Config config = ParseOk({});
  CHECK(config.server.socket == "./strata.sock");
  CHECK(config.server.socket_mode == 0660);
  CHECK(config.server.max_key_bytes == 16 << 10);
  CHECK(config.server.shutdown_timeout_ms == 10'000);
  CHECK(config.l1.max_bytes == 256ull << 20);
  CHECK(config.l2.mode == "off");
  CHECK(config.l2.endpoints.empty());
  CHECK(config.l3.enabled);
  CHECK(config.wal.sync == "interval");
  CHECK(config.admin.listen == "127.0.0.1:9100");
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
    "--l1.max_bytes=2000KiB",
    "--l1.max_ttl=1500",
    "--l1.shards=16",
    "--l1.sweep_interval=2m",
    "--l1.sweep_batch=9",
    "--l2.mode=standalone",
    "--l2.endpoints=redis://u:p@h:1/2,unix:///r.sock",
    "--l3.enabled=no",
    "--l3.path=/var/lib/strata/l3",
    "--wal.path=/var/lib/strata/wal",
    "--wal.sync=never",
    "--admin.listen=",
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
  CHECK(reread.l1.max_bytes == 2'048'000);
  CHECK(reread.l2.endpoints == changed.l2.endpoints);
  CHECK_FALSE(reread.l3.enabled);
  CHECK(reread.admin.listen.empty());

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
             Catch::Contains("l2.endpoints must list at least one endpoint when l2.mode is "
                             "standalone"));
  CHECK_THAT(ValidateError([](Config* c) {
               c->l2.mode = "sharded";
               c->l2.endpoints = {"localhost:6379"};
             }),
             Catch::Contains("must start with redis://"));
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

}  // namespace
}  // namespace strata
