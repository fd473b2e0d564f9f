// Text helpers shared by the config files: ASCII case, trimming, joining, and
// the quoting that both TOML output and error messages use.
//
// Internal to proxy/config*.cc. Thread affinity: none; pure functions.
#pragma once

#include <string>
#include <string_view>

namespace strata::config_internal {

// ASCII only; other bytes are returned unchanged.
char Lower(char c);
char Upper(char c);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Without leading and trailing spaces and tabs.
std::string_view Trim(std::string_view s);

// A TOML basic string ("a\"b"); also how messages quote a value.
std::string Quote(std::string_view s);

// Join({"a", "b"}, ", ") -> "a, b".
template <typename Container>
std::string Join(const Container& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

}  // namespace strata::config_internal
