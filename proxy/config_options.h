// The option table as other config files see it: set an option by its
// "section.key" name from a value as a source delivered it.
//
// Internal to proxy/config*.cc (and their tests). config_toml.cc walks a TOML
// document and calls SetOption for each key; it knows no option by name, so
// a new option is one line in config.cc's table and nothing here.
//
// Thread affinity: none; the table is immutable and built on first use
// (thread-safe static initialization).
#pragma once

#include <cstdint>
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

}  // namespace strata::config_internal
