#include "proxy/config_values.h"

#include <cstdio>
#include <limits>
#include <optional>

#include "common/units.h"
#include "proxy/config_text.h"

namespace strata::config_internal {
namespace {

using Type = RawValue::Type;

Status Reject(std::string detail = "") { return Status::BadArgs(std::move(detail)); }

std::optional<bool> ParseBool(std::string_view text) {
  text = Trim(text);
  for (std::string_view yes : {"true", "1", "yes"}) {
    if (EqualsIgnoreCase(text, yes)) return true;
  }
  for (std::string_view no : {"false", "0", "no"}) {
    if (EqualsIgnoreCase(text, no)) return false;
  }
  return std::nullopt;
}

// "0660", "660" or "0o660".
std::optional<uint32_t> ParseOctalMode(std::string_view text) {
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

}  // namespace

Status ReadText(const RawValue& value, std::string* out) {
  if (value.type != Type::kText) return Reject();
  *out = value.text;
  return Status::Ok();
}

Status ReadChoice(const RawValue& value, const std::vector<std::string_view>& choices,
                  std::string* out) {
  if (value.type != Type::kText) return Reject();
  for (std::string_view choice : choices) {
    if (!EqualsIgnoreCase(Trim(value.text), choice)) continue;
    *out = std::string(choice);
    return Status::Ok();
  }
  return Reject();
}

StatusOr<uint64_t> ReadWholeNumber(const RawValue& value) {
  if (value.type == Type::kInteger) {
    if (value.integer < 0) return Reject();
    return static_cast<uint64_t>(value.integer);
  }
  if (value.type != Type::kText) return Reject();
  std::string_view digits = Trim(value.text);
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

Status ReadCount(const RawValue& value, uint64_t min, uint64_t max, uint64_t* out) {
  StatusOr<uint64_t> n = ReadWholeNumber(value);
  if (!n.ok()) return n.status();
  if (*n > max) return Reject("at most " + std::to_string(max));
  if (*n < min) return Reject();
  *out = *n;
  return Status::Ok();
}

Status ReadSize(const RawValue& value, uint64_t* out) {
  if (value.type == Type::kInteger) {
    if (value.integer < 0) return Reject("negative values are not allowed");
    *out = static_cast<uint64_t>(value.integer);
    return Status::Ok();
  }
  if (value.type != Type::kText) return Reject();
  StatusOr<uint64_t> bytes = ParseSize(value.text);
  if (!bytes.ok()) return bytes.status();
  *out = *bytes;
  return Status::Ok();
}

Status ReadDuration(const RawValue& value, int64_t* out) {
  if (value.type == Type::kInteger) {
    if (value.integer < 0) return Reject("negative values are not allowed");
    *out = value.integer;
    return Status::Ok();
  }
  if (value.type != Type::kText) return Reject();
  StatusOr<int64_t> ms = ParseDuration(value.text);
  if (!ms.ok()) return ms.status();
  *out = *ms;
  return Status::Ok();
}

Status ReadBool(const RawValue& value, bool* out) {
  std::optional<bool> b;
  if (value.type == Type::kBool) b = value.boolean;
  if (value.type == Type::kText) b = ParseBool(value.text);
  if (!b) return Reject();
  *out = *b;
  return Status::Ok();
}

Status ReadMode(const RawValue& value, uint32_t* out) {
  std::optional<uint32_t> mode;
  if (value.type == Type::kText) mode = ParseOctalMode(value.text);
  if (value.type == Type::kInteger) {
    // A decimal 660 is almost surely a mistyped 0o660.
    if (value.integer_base != 8 && value.integer != 0) {
      return Reject("in TOML write 0o660 or \"0660\"");
    }
    if (value.integer >= 0 && value.integer <= kMaxFileMode) {
      mode = static_cast<uint32_t>(value.integer);
    }
  }
  if (!mode) return Reject();
  *out = *mode;
  return Status::Ok();
}

Status ReadList(const RawValue& value, std::vector<std::string>* out) {
  if (value.type == Type::kList) {
    *out = value.list;
    return Status::Ok();
  }
  if (value.type != Type::kText) return Reject();
  std::optional<std::vector<std::string>> items = SplitList(value.text);
  if (!items) return Reject("an item is empty");
  *out = std::move(*items);
  return Status::Ok();
}

std::string SizeToml(uint64_t bytes) { return bytes == 0 ? "0" : Quote(FormatSize(bytes)); }

std::string DurationToml(int64_t ms) { return ms == 0 ? "0" : Quote(FormatDuration(ms)); }

std::string BoolText(bool value) { return value ? "true" : "false"; }

std::string ModeText(uint32_t mode) {
  char text[16];
  std::snprintf(text, sizeof(text), "0%03o", static_cast<unsigned>(mode));
  return text;
}

std::string ListToml(const std::vector<std::string>& items) {
  std::vector<std::string> quoted;
  quoted.reserve(items.size());
  for (const std::string& item : items) quoted.push_back(Quote(item));
  return "[" + Join(quoted, ", ") + "]";
}

std::string ListText(const std::vector<std::string>& items) { return Join(items, ","); }

}  // namespace strata::config_internal
