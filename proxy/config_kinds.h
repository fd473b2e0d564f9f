// The kinds of option: each binds one Config field to its reader and
// renderers (config_values.h) and says how --help shows it. config.cc's
// table is a list of calls to these, one per option:
//
//   Size("l1.max_bytes", &Config::l1, &L1Config::max_bytes, "L1 memory budget")
//
// Internal to proxy/config*.cc. Thread affinity: none; the Options built here
// are immutable once in the table.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/units.h"
#include "proxy/config.h"
#include "proxy/config_options.h"
#include "proxy/config_text.h"
#include "proxy/config_values.h"

namespace strata::config_internal {

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
          [f](const RawValue& v, Config* c) { return ReadText(v, &f(c)); },
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
          [f, choices](const RawValue& v, Config* c) { return ReadChoice(v, choices, &f(c)); },
          [f](const Config& c) { return Quote(f(c)); },
          [f](const Config& c) { return f(c); }};
}

// An unsigned integer in [min, max]; max must fit T.
template <typename S, typename T>
Option Count(std::string_view name, S Config::*s, T S::*m, uint64_t min, uint64_t max,
             std::string_view help) {
  static_assert(std::is_unsigned_v<T>);
  Field<S, T> f{s, m};
  return {name,
          "N",
          min > 0 ? "a positive integer" : "a non-negative integer",
          help,
          [f, min, max](const RawValue& v, Config* c) {
            uint64_t n = 0;
            Status status = ReadCount(v, min, max, &n);
            if (status.ok()) f(c) = static_cast<T>(n);
            return status;
          },
          [f](const Config& c) { return std::to_string(f(c)); },
          [f](const Config& c) { return std::to_string(f(c)); }};
}

// An unsigned integer of at least `min` that fits T.
template <typename S, typename T>
Option Count(std::string_view name, S Config::*s, T S::*m, uint64_t min, std::string_view help) {
  return Count(name, s, m, min, std::numeric_limits<T>::max(), help);
}

template <typename S>
Option Size(std::string_view name, S Config::*s, uint64_t S::*m, std::string_view help) {
  Field<S, uint64_t> f{s, m};
  return {name,
          "SIZE",
          "a size such as 512MiB",
          help,
          [f](const RawValue& v, Config* c) { return ReadSize(v, &f(c)); },
          [f](const Config& c) { return SizeToml(f(c)); },
          [f](const Config& c) { return FormatSize(f(c)); }};
}

template <typename S>
Option Duration(std::string_view name, S Config::*s, int64_t S::*m, std::string_view help) {
  Field<S, int64_t> f{s, m};
  return {name,
          "DURATION",
          "a duration such as 250ms, 10s or 5m",
          help,
          [f](const RawValue& v, Config* c) { return ReadDuration(v, &f(c)); },
          [f](const Config& c) { return DurationToml(f(c)); },
          [f](const Config& c) { return FormatDuration(f(c)); }};
}

// A bare --flag (no value, or followed by another flag) means true.
template <typename S>
Option Bool(std::string_view name, S Config::*s, bool S::*m, std::string_view help) {
  Field<S, bool> f{s, m};
  Option option{name,
                "BOOL",
                "true or false",
                help,
                [f](const RawValue& v, Config* c) { return ReadBool(v, &f(c)); },
                [f](const Config& c) { return BoolText(f(c)); },
                [f](const Config& c) { return BoolText(f(c)); }};
  option.boolean = true;
  return option;
}

// An octal file mode.
template <typename S>
Option Mode(std::string_view name, S Config::*s, uint32_t S::*m, std::string_view help) {
  Field<S, uint32_t> f{s, m};
  return {name,
          "MODE",
          "an octal file mode such as 0660",
          help,
          [f](const RawValue& v, Config* c) { return ReadMode(v, &f(c)); },
          [f](const Config& c) { return Quote(ModeText(f(c))); },
          [f](const Config& c) { return ModeText(f(c)); }};
}

template <typename S>
Option List(std::string_view name, S Config::*s, std::vector<std::string> S::*m,
            std::string_view metavar, std::string_view help) {
  Field<S, std::vector<std::string>> f{s, m};
  return {name,
          std::string(metavar),
          "a list of strings (comma-separated in the environment and in flags)",
          help,
          [f](const RawValue& v, Config* c) { return ReadList(v, &f(c)); },
          [f](const Config& c) { return ListToml(f(c)); },
          [f](const Config& c) { return ListText(f(c)); }};
}

}  // namespace strata::config_internal
