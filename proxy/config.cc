// The option table and the sources that feed it (environment, flags), the
// --help and --print-config renderings, and Validate. The TOML file is read
// by config_toml.cc through config_options.h.
#include "proxy/config.h"

#include <sys/un.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <sstream>
#include <type_traits>

#include "common/units.h"
#include "proxy/config_options.h"

namespace strata {
namespace {

using config_internal::RawValue;
using Type = RawValue::Type;

// ---------------------------------------------------------------- text helpers

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
char Upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

template <typename Container>
std::string Join(const Container& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// A TOML basic string; also how messages quote a value.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04X", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// The value as its source spelled it, for messages.
std::string Shown(const RawValue& value) {
  return value.type == Type::kText ? Quote(value.text) : value.text;
}

std::string_view SectionOf(std::string_view name) { return name.substr(0, name.find('.')); }
std::string_view KeyOf(std::string_view name) { return name.substr(name.find('.') + 1); }

// ---------------------------------------------------------------- option kinds

// A setter assigns only if the value is acceptable. On failure its status
// message is an optional detail for "invalid value ... expected ... (detail)".
using Setter = std::function<Status(const RawValue&, Config*)>;
using Renderer = std::function<std::string(const Config&)>;

struct Option {
  std::string_view name;  // "section.key"
  std::string metavar;    // --help: what a value looks like
  std::string expected;   // finishes "expected ..."
  std::string_view help;
  Setter set;
  Renderer toml;         // the value as TOML
  Renderer text;         // the value as an environment variable or flag spells it
  bool boolean = false;  // a bare --flag means true
};

Status Reject(std::string detail = "") { return Status::BadArgs(std::move(detail)); }

// One field of Config, reached through its section.
template <typename S, typename T>
struct Field {
  S Config::*section;
  T S::*member;
  T& operator()(Config* c) const { return (c->*section).*member; }
  const T& operator()(const Config& c) const { return (c.*section).*member; }
};

template <typename S>
Option Text(std::string_view name, S Config::*s, std::string S::*m, std::string_view metavar,
            std::string_view help) {
  Field<S, std::string> f{s, m};
  return {name,
          std::string(metavar),
          "a string",
          help,
          [f](const RawValue& v, Config* c) {
            if (v.type != Type::kText) return Reject();
            f(c) = v.text;
            return Status::Ok();
          },
          [f](const Config& c) { return Quote(f(c)); },
          [f](const Config& c) { return f(c); }};
}

template <typename S>
Option Enum(std::string_view name, S Config::*s, std::string S::*m,
            std::initializer_list<std::string_view> choice_list, std::string_view help) {
  Field<S, std::string> f{s, m};
  std::vector<std::string_view> choices(choice_list);
  return {name,
          Join(choices, "|"),
          "one of " + Join(choices, ", "),
          help,
          [f, choices](const RawValue& v, Config* c) {
            if (v.type != Type::kText) return Reject();
            for (std::string_view choice : choices) {
              if (!EqualsIgnoreCase(Trim(v.text), choice)) continue;
              f(c) = std::string(choice);
              return Status::Ok();
            }
            return Reject();
          },
          [f](const Config& c) { return Quote(f(c)); },
          [f](const Config& c) { return f(c); }};
}

// A whole number from text (digits only) or from a TOML integer.
StatusOr<uint64_t> ReadWholeNumber(const RawValue& v) {
  if (v.type == Type::kInteger) {
    if (v.integer < 0) return Reject();
    return static_cast<uint64_t>(v.integer);
  }
  if (v.type != Type::kText) return Reject();
  std::string_view digits = Trim(v.text);
  if (digits.empty()) return Reject();
  uint64_t n = 0;
  for (char ch : digits) {
    if (ch < '0' || ch > '9') return Reject();
    const uint64_t digit = static_cast<uint64_t>(ch - '0');
    if (n > (std::numeric_limits<uint64_t>::max() - digit) / 10) return Reject("too large");
    n = n * 10 + digit;
  }
  return n;
}

template <typename S, typename T>
Option Count(std::string_view name, S Config::*s, T S::*m, uint64_t min, std::string_view help) {
  static_assert(std::is_unsigned_v<T>);
  Field<S, T> f{s, m};
  return {name,
          "N",
          min > 0 ? "a positive integer" : "a non-negative integer",
          help,
          [f, min](const RawValue& v, Config* c) {
            StatusOr<uint64_t> n = ReadWholeNumber(v);
            if (!n.ok()) return n.status();
            constexpr uint64_t kMax = std::numeric_limits<T>::max();
            if (*n > kMax) return Reject("at most " + std::to_string(kMax));
            if (*n < min) return Reject();
            f(c) = static_cast<T>(*n);
            return Status::Ok();
          },
          [f](const Config& c) { return std::to_string(f(c)); },
          [f](const Config& c) { return std::to_string(f(c)); }};
}

template <typename S>
Option Size(std::string_view name, S Config::*s, uint64_t S::*m, std::string_view help) {
  Field<S, uint64_t> f{s, m};
  return {name,
          "SIZE",
          "a size such as 512MiB",
          help,
          [f](const RawValue& v, Config* c) {
            if (v.type == Type::kInteger) {
              if (v.integer < 0) return Reject("negative values are not allowed");
              f(c) = static_cast<uint64_t>(v.integer);
              return Status::Ok();
            }
            if (v.type != Type::kText) return Reject();
            StatusOr<uint64_t> bytes = ParseSize(v.text);
            if (!bytes.ok()) return bytes.status();
            f(c) = *bytes;
            return Status::Ok();
          },
          [f](const Config& c) { return f(c) == 0 ? "0" : Quote(FormatSize(f(c))); },
          [f](const Config& c) { return FormatSize(f(c)); }};
}

template <typename S>
Option Duration(std::string_view name, S Config::*s, int64_t S::*m, std::string_view help) {
  Field<S, int64_t> f{s, m};
  return {name,
          "DURATION",
          "a duration such as 250ms, 10s or 5m",
          help,
          [f](const RawValue& v, Config* c) {
            if (v.type == Type::kInteger) {
              if (v.integer < 0) return Reject("negative values are not allowed");
              f(c) = v.integer;
              return Status::Ok();
            }
            if (v.type != Type::kText) return Reject();
            StatusOr<int64_t> ms = ParseDuration(v.text);
            if (!ms.ok()) return ms.status();
            f(c) = *ms;
            return Status::Ok();
          },
          [f](const Config& c) { return f(c) == 0 ? "0" : Quote(FormatDuration(f(c))); },
          [f](const Config& c) { return FormatDuration(f(c)); }};
}

std::optional<bool> ReadBool(std::string_view text) {
  text = Trim(text);
  for (std::string_view yes : {"true", "1", "yes"}) {
    if (EqualsIgnoreCase(text, yes)) return true;
  }
  for (std::string_view no : {"false", "0", "no"}) {
    if (EqualsIgnoreCase(text, no)) return false;
  }
  return std::nullopt;
}

template <typename S>
Option Bool(std::string_view name, S Config::*s, bool S::*m, std::string_view help) {
  Field<S, bool> f{s, m};
  Option option{name,
                "BOOL",
                "true or false",
                help,
                [f](const RawValue& v, Config* c) {
                  std::optional<bool> b;
                  if (v.type == Type::kBool) b = v.boolean;
                  if (v.type == Type::kText) b = ReadBool(v.text);
                  if (!b) return Reject();
                  f(c) = *b;
                  return Status::Ok();
                },
                [f](const Config& c) { return std::string(f(c) ? "true" : "false"); },
                [f](const Config& c) { return std::string(f(c) ? "true" : "false"); }};
  option.boolean = true;
  return option;
}

constexpr uint32_t kMaxFileMode = 0777;

std::string FormatMode(uint32_t mode) {
  char text[16];
  std::snprintf(text, sizeof(text), "0%03o", static_cast<unsigned>(mode));
  return text;
}

// "0660", "660" or "0o660".
std::optional<uint32_t> ReadOctalMode(std::string_view text) {
  text = Trim(text);
  if (text.starts_with("0o") || text.starts_with("0O")) text.remove_prefix(2);
  if (text.empty() || text.size() > 8) return std::nullopt;
  uint32_t mode = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return std::nullopt;
    mode = mode * 8 + static_cast<uint32_t>(c - '0');
  }
  if (mode > kMaxFileMode) return std::nullopt;
  return mode;
}

template <typename S>
Option Mode(std::string_view name, S Config::*s, uint32_t S::*m, std::string_view help) {
  Field<S, uint32_t> f{s, m};
  return {name,
          "MODE",
          "an octal file mode such as 0660",
          help,
          [f](const RawValue& v, Config* c) {
            std::optional<uint32_t> mode;
            if (v.type == Type::kText) mode = ReadOctalMode(v.text);
            if (v.type == Type::kInteger) {
              // A decimal 660 is almost surely a mistyped 0o660.
              if (v.integer_base != 8 && v.integer != 0) {
                return Reject("in TOML write 0o660 or \"0660\"");
              }
              if (v.integer >= 0 && v.integer <= kMaxFileMode)
                mode = static_cast<uint32_t>(v.integer);
            }
            if (!mode) return Reject();
            f(c) = *mode;
            return Status::Ok();
          },
          [f](const Config& c) { return Quote(FormatMode(f(c))); },
          [f](const Config& c) { return FormatMode(f(c)); }};
}

// "a, b,c" -> {"a", "b", "c"}; "" -> {}.
std::optional<std::vector<std::string>> SplitList(std::string_view text) {
  std::vector<std::string> items;
  if (Trim(text).empty()) return items;
  while (true) {
    const size_t comma = text.find(',');
    std::string_view item = Trim(text.substr(0, comma));
    if (item.empty()) return std::nullopt;
    items.emplace_back(item);
    if (comma == std::string_view::npos) return items;
    text.remove_prefix(comma + 1);
  }
}

template <typename S>
Option List(std::string_view name, S Config::*s, std::vector<std::string> S::*m,
            std::string_view metavar, std::string_view help) {
  Field<S, std::vector<std::string>> f{s, m};
  return {name,
          std::string(metavar),
          "a list of strings (comma-separated in the environment and in flags)",
          help,
          [f](const RawValue& v, Config* c) {
            if (v.type == Type::kList) {
              f(c) = v.list;
              return Status::Ok();
            }
            if (v.type != Type::kText) return Reject();
            std::optional<std::vector<std::string>> items = SplitList(v.text);
            if (!items) return Reject("an item is empty");
            f(c) = std::move(*items);
            return Status::Ok();
          },
          [f](const Config& c) {
            std::vector<std::string> quoted;
            for (const std::string& item : f(c)) quoted.push_back(Quote(item));
            return "[" + Join(quoted, ", ") + "]";
          },
          [f](const Config& c) { return Join(f(c), ","); }};
}

// ---------------------------------------------------------------- the table

// Every option, grouped by section in the order --help and --print-config
// show them. A new knob is one entry here.
const std::vector<Option>& Options() {
  using Srv = ServerConfig;
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
      Enum("l2.mode", kL2, &L2Config::mode, {"off", "standalone", "sharded", "cluster"},
           "how L2 (Redis) is reached; off = no L2"),
      List("l2.endpoints", kL2, &L2Config::endpoints, "URL,...",
           "redis://[user:pass@]host:port[/db] or unix:///path; env and flag: comma-separated"),
      Bool("l3.enabled", kL3, &L3Config::enabled, "use the RocksDB tier"),
      Text("l3.path", kL3, &L3Config::path, "PATH", "RocksDB directory"),
      Text("wal.path", kWal, &WalConfig::path, "PATH", "write-behind journal directory"),
      Enum("wal.sync", kWal, &WalConfig::sync, {"always", "interval", "never"},
           "when the journal is fsynced"),
      Text("admin.listen", kAdmin, &AdminConfig::listen, "HOST:PORT",
           "admin HTTP address (/healthz, /readyz, /metrics, /stats); empty = off"),
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

// Runs the option's setter and turns a refusal into the standard message.
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
  if (!config_internal::IsSection(section)) {
    return Status::BadArgs(message + " (sections: " + Join(Sections(), ", ") + ")");
  }
  std::vector<std::string_view> keys;
  for (const Option& option : Options()) {
    if (SectionOf(option.name) == section) keys.push_back(KeyOf(option.name));
  }
  return Status::BadArgs(message + " (keys in [" + std::string(section) + "]: " + Join(keys, ", ") +
                         ")");
}

// ---------------------------------------------------------------- environment

const Option* FindOptionByEnvVar(std::string_view var) {
  for (const Option& option : Options()) {
    if (config_internal::EnvVarName(option.name) == var) return &option;
  }
  return nullptr;
}

// STRATA_<SECTION>_<KEY> for a known section -> "section.key"; else empty.
std::string OptionNameForUnknownVar(std::string_view var) {
  for (std::string_view section : Sections()) {
    const std::string prefix = config_internal::EnvVarName(std::string(section) + ".");
    if (!var.starts_with(prefix)) continue;
    std::string name = std::string(section) + ".";
    for (char c : var.substr(prefix.size())) name += Lower(c);
    return name;
  }
  return "";
}

Status ApplyEnvironment(const char* const* envp, Config* config) {
  for (; envp != nullptr && *envp != nullptr; ++envp) {
    const std::string_view entry(*envp);
    const size_t eq = entry.find('=');
    if (eq == std::string_view::npos || !entry.starts_with("STRATA_")) continue;
    const std::string_view var = entry.substr(0, eq);
    const Option* option = FindOptionByEnvVar(var);
    if (option == nullptr) {
      const std::string guess = OptionNameForUnknownVar(var);
      if (guess.empty()) continue;  // not one of ours, e.g. STRATA_HOME
      return Status::BadArgs("unknown environment variable " + std::string(var) + ": " +
                             UnknownKey(guess).message());
    }
    Status status = Apply(*option, RawValue::Text(entry.substr(eq + 1)), config);
    if (!status.ok()) return Status::BadArgs(std::string(var) + ": " + status.message());
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- command line

struct FlagSetting {
  const Option* option;
  std::string value;
};

// Walks argv once; settings are applied later, after the file and the
// environment, whatever their position.
class ArgScanner {
 public:
  ArgScanner(int argc, const char* const* argv) : argc_(argc), argv_(argv) {}

  Status Scan(CommandLine* command_line, std::vector<FlagSetting>* settings) {
    for (index_ = 1; index_ < argc_; ++index_) {
      Status status = ScanOne(argv_[index_], command_line, settings);
      if (!status.ok()) return status;
    }
    return Status::Ok();
  }

 private:
  Status ScanOne(std::string_view arg, CommandLine* command_line,
                 std::vector<FlagSetting>* settings) {
    if (arg == "-h" || arg == "--help") {
      command_line->help = true;
      return Status::Ok();
    }
    if (arg == "--print-config") {
      command_line->print_config = true;
      return Status::Ok();
    }
    if (!arg.starts_with("--") || arg.size() == 2) {
      return Status::BadArgs("unexpected argument " + Quote(arg) + " (see strata --help)");
    }
    const size_t eq = arg.find('=');
    const std::string_view name = arg.substr(2, eq == std::string_view::npos ? eq : eq - 2);
    std::optional<std::string_view> value;
    if (eq != std::string_view::npos) value = arg.substr(eq + 1);
    if (name == "config" || name == "check-config") {
      return ScanConfigFile(name, value, command_line);
    }
    const Option* option = FindOption(name);
    if (option == nullptr) {
      return Status::BadArgs("unknown flag " + std::string(arg.substr(0, eq)) +
                             " (see strata --help)");
    }
    if (!value && option->boolean && !NextIsValue()) value = "true";
    if (!value) value = TakeNext();
    if (!value) return Status::BadArgs("flag --" + std::string(name) + " needs a value");
    settings->push_back({option, std::string(*value)});
    return Status::Ok();
  }

  Status ScanConfigFile(std::string_view name, std::optional<std::string_view> value,
                        CommandLine* command_line) {
    if (!value) value = TakeNext();
    if (!value || value->empty()) {
      return Status::BadArgs("flag --" + std::string(name) + " needs a file name");
    }
    if (!command_line->config_file.empty() && command_line->config_file != *value) {
      return Status::BadArgs("two config files given (" + Quote(command_line->config_file) +
                             " and " + Quote(*value) + "); give one");
    }
    command_line->config_file = std::string(*value);
    if (name == "check-config") command_line->check_config = true;
    return Status::Ok();
  }

  // A bare boolean flag takes the next argument only if it is not a flag.
  bool NextIsValue() const { return index_ + 1 < argc_ && argv_[index_ + 1][0] != '-'; }

  std::optional<std::string_view> TakeNext() {
    if (index_ + 1 >= argc_) return std::nullopt;
    return std::string_view(argv_[++index_]);
  }

  const int argc_;
  const char* const* const argv_;
  int index_ = 1;
};

Status ApplyFlags(const std::vector<FlagSetting>& settings, Config* config) {
  for (const FlagSetting& setting : settings) {
    Status status = Apply(*setting.option, RawValue::Text(setting.value), config);
    if (!status.ok()) {
      return Status::BadArgs("--" + std::string(setting.option->name) + ": " + status.message());
    }
  }
  return Status::Ok();
}

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

// ---------------------------------------------------------------- validation

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
  return n.ok() && *n >= 1 && *n <= 65535;
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
}

void ValidateL2(const L2Config& l2, Problems* p) {
  if (!IsOneOf(l2.mode, {"off", "standalone", "sharded", "cluster"})) {
    p->Add("l2.mode must be one of off, standalone, sharded, cluster, not " + Quote(l2.mode));
  }
  if (l2.mode != "off" && l2.endpoints.empty()) {
    p->Add("l2.endpoints must list at least one endpoint when l2.mode is " + l2.mode);
  }
  for (const std::string& endpoint : l2.endpoints) {
    if (!endpoint.starts_with("redis://") && !endpoint.starts_with("unix://")) {
      p->Add("l2.endpoints item " + Quote(endpoint) +
             " must start with redis:// (redis://host:port) or unix:// (unix:///path)");
    }
  }
}

void ValidateOthers(const Config& c, Problems* p) {
  if (c.l3.enabled && c.l3.path.empty()) p->Add("l3.path must not be empty when l3 is enabled");
  if (c.wal.path.empty()) p->Add("wal.path must not be empty");
  if (!IsOneOf(c.wal.sync, {"always", "interval", "never"})) {
    p->Add("wal.sync must be one of always, interval, never, not " + Quote(c.wal.sync));
  }
  if (!c.admin.listen.empty() && !IsHostPort(c.admin.listen)) {
    p->Add("admin.listen must be HOST:PORT or empty (off), not " + Quote(c.admin.listen));
  }
  if (!IsOneOf(c.log.level, {"debug", "info", "warn", "error", "off"})) {
    p->Add("log.level must be one of debug, info, warn, error, off, not " + Quote(c.log.level));
  }
}

}  // namespace

// ---------------------------------------------------------------- config_internal

namespace config_internal {

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

StatusOr<CommandLine> ParseCommandLine(int argc, const char* const* argv, const char* const* envp) {
  CommandLine command_line;
  std::vector<FlagSetting> settings;
  Status status = ArgScanner(argc, argv).Scan(&command_line, &settings);
  if (!status.ok()) return status;
  if (command_line.help) return command_line;
  Config& config = command_line.config;
  if (!command_line.config_file.empty()) {
    StatusOr<std::string> text = ReadFile(command_line.config_file);
    if (!text.ok()) return text.status();
    status = ApplyToml(*text, command_line.config_file, &config);
    if (!status.ok()) return status;
  }
  status = ApplyEnvironment(envp, &config);
  if (!status.ok()) return status;
  status = ApplyFlags(settings, &config);
  if (!status.ok()) return status;
  status = Validate(config);
  if (!status.ok()) return status;
  return command_line;
}

std::string ToToml(const Config& config) {
  std::string out =
      "# Strata configuration. Sizes: 512MiB, 16KiB, 1GB or plain bytes.\n"
      "# Durations: 250ms, 10s, 5m, 1h or plain milliseconds.\n";
  std::string_view section;
  for (const Option& option : Options()) {
    if (SectionOf(option.name) != section) {
      section = SectionOf(option.name);
      out += "\n[" + std::string(section) + "]\n";
    }
    out += "# " + std::string(option.help) + "\n";
    out += std::string(KeyOf(option.name)) + " = " + option.toml(config) + "\n";
  }
  return out;
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
  return out;
}

Status Validate(const Config& config) {
  Problems problems;
  ValidateServer(config.server, &problems);
  ValidateL1(config.l1, &problems);
  ValidateL2(config.l2, &problems);
  ValidateOthers(config, &problems);
  return problems.ToStatus();
}

}  // namespace strata
