// The option table as other config files see it: set an option by its
// "section.key" name from a value as a source delivered it.
//
// Internal to proxy/config*.cc (and their tests). config_toml.cc walks a TOML
// document and calls SetOption for each key; it knows no option by name, so
// a new option is one line in config.cc's table and nothing here.
//
// The second half, Option and the functions after it, is the table itself
// for the files that fill it (config.cc, config_kinds.h) and those that look
// options up by flag or environment variable (config_args.cc, config_env.cc).
//
// Thread affinity: none; the table is immutable and built on first use
// (thread-safe static initialization).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "proxy/config.h"

namespace strata::config_internal {

// One value from one source. Environment variables and flags always give
// text; a TOML file gives typed values, and `text` then holds the value as
// TOML spells it, for error messages.
struct RawValue {
  enum class Type { kText, kInteger, kBool, kList, kOther };

  Type type = Type::kText;
  std::string text;
  int64_t integer = 0;            // kInteger
  int integer_base = 10;          // kInteger: 2, 8 or 16 when written 0b, 0o or 0x
  bool boolean = false;           // kBool
  std::vector<std::string> list;  // kList: an array whose items are all strings

  static RawValue Text(std::string_view text);
};

// Sets option `name` ("server.socket") on *config. Errors:
//   unknown key server.sockt (keys in [server]: socket, socket_mode, ...)
//   invalid value "abc" for server.threads: expected a non-negative integer
Status SetOption(std::string_view name, const RawValue& value, Config* config);

// True if `section` ("server", "l1", ...) holds at least one option.
bool IsSection(std::string_view section);

// Every option name, in table order.
std::vector<std::string> OptionNames();

// "server.socket" -> "STRATA_SERVER_SOCKET".
std::string EnvVarName(std::string_view option_name);

// ---------------------------------------------------------------- the table

// A setter assigns only if the value is acceptable. On failure its status
// message is an optional detail for "invalid value ... expected ... (detail)".
using Setter = std::function<Status(const RawValue&, Config*)>;
using Renderer = std::function<std::string(const Config&)>;

// One row of the table. Built by the kinds in config_kinds.h.
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

// Every option, grouped by section in the order --help and --print-config
// show them. Built on first use and never freed.
const std::vector<Option>& Options();

// The option named "section.key", or nullptr.
const Option* FindOption(std::string_view name);

// Every section name, in table order.
std::vector<std::string_view> Sections();

// Runs the option's setter and turns a refusal into the standard message:
//   invalid value "abc" for server.threads: expected a non-negative integer
Status Apply(const Option& option, const RawValue& value, Config* config);

// The error for an unknown "section.key", listing the sections or the keys
// of the section that could have been meant.
Status UnknownKey(std::string_view name);

inline std::string_view SectionOf(std::string_view name) { return name.substr(0, name.find('.')); }
inline std::string_view KeyOf(std::string_view name) { return name.substr(name.find('.') + 1); }

}  // namespace strata::config_internal
