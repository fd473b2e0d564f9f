// How each kind of option value is read from a source and written back: the
// typed half of the option table. config_kinds.h binds these to Config fields.
//
// A Read* function assigns *out only when the value is acceptable. On failure
// its status message is an optional detail, possibly empty, that Apply
// (config.cc) puts after "invalid value ... expected ...": "too large",
// "negative values are not allowed", and so on.
//
// Text values come trimmed of spaces and tabs where noted; a TOML value of the
// wrong type (a string where a number belongs, say) is refused without detail.
//
// Internal to proxy/config*.cc. Thread affinity: none; pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "proxy/config_options.h"

namespace strata::config_internal {

constexpr uint32_t kMaxFileMode = 0777;

// Any string, as given.
Status ReadText(const RawValue& value, std::string* out);

// One of `choices`, case-insensitive and trimmed; *out gets the choice as
// the table spells it.
Status ReadChoice(const RawValue& value, const std::vector<std::string_view>& choices,
                  std::string* out);

// A whole number from text (digits only, trimmed) or from a TOML integer.
StatusOr<uint64_t> ReadWholeNumber(const RawValue& value);

// A whole number in [min, max].
Status ReadCount(const RawValue& value, uint64_t min, uint64_t max, uint64_t* out);

// Bytes: a TOML integer, or text that ParseSize (common/units.h) accepts.
Status ReadSize(const RawValue& value, uint64_t* out);

// Milliseconds: a TOML integer, or text that ParseDuration accepts.
Status ReadDuration(const RawValue& value, int64_t* out);

// A TOML boolean, or text: true/1/yes, false/0/no (case-insensitive).
Status ReadBool(const RawValue& value, bool* out);

// A file mode up to 0777: text "0660", "660" or "0o660", or a TOML integer
// written in octal (0o660). A decimal TOML integer other than 0 is refused.
Status ReadMode(const RawValue& value, uint32_t* out);

// A TOML array of strings, or comma-separated text ("a, b,c"; "" is empty).
Status ReadList(const RawValue& value, std::vector<std::string>* out);

// Renderers. "Toml" ones give a TOML value; "Text" ones give the value as
// an environment variable or flag spells it.
std::string SizeToml(uint64_t bytes);                         // 0 or "512MiB"
std::string DurationToml(int64_t ms);                         // 0 or "10s"
std::string BoolText(bool value);                             // true or false, in TOML too
std::string ModeText(uint32_t mode);                          // 0660
std::string ListToml(const std::vector<std::string>& items);  // ["a", "b"]
std::string ListText(const std::vector<std::string>& items);  // a,b

}  // namespace strata::config_internal
