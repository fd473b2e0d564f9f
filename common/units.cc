#include "common/units.h"

#include <limits>
#include <span>

namespace strata {
namespace {

struct Unit {
  std::string_view name;  // canonical spelling; parsing ignores case
  uint64_t scale;
};

constexpr Unit kSizeUnits[] = {
    {"B", 1},
    {"KB", 1000},
    {"MB", 1000 * 1000},
    {"GB", 1000 * 1000 * 1000},
    {"TB", 1000ull * 1000 * 1000 * 1000},
    {"KiB", 1ull << 10},
    {"MiB", 1ull << 20},
    {"GiB", 1ull << 30},
    {"TiB", 1ull << 40},
};
constexpr std::string_view kSizeUnitList = "B, KB, MB, GB, TB, KiB, MiB, GiB or TiB";

// Largest first: FormatDuration takes the first that divides exactly.
constexpr Unit kDurationUnits[] = {
    {"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1000}, {"ms", 1}};
constexpr std::string_view kDurationUnitList = "ms, s, m, h or d";

// How a kind of quantity is spelled and bounded.
struct QuantityKind {
  std::span<const Unit> units;
  std::string_view unit_list;  // for messages
  std::string_view base_unit;  // what a plain number counts, for messages
  uint64_t max;
};

bool IsSpace(char c) { return c == ' ' || c == '\t'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  return s;
}

std::string_view Trim(std::string_view s) {
  s = TrimLeft(s);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

Status TooLarge(const QuantityKind& kind) {
  return Status::BadArgs("too large: the most is " + std::to_string(kind.max) + " " +
                         std::string(kind.base_unit));
}

// Reads the leading digits of *text into *number, consuming them. Returns
// false if the number does not fit in 64 bits.
bool ConsumeDigits(std::string_view* text, uint64_t* number) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  bool fits = true;
  *number = 0;
  while (!text->empty() && IsDigit(text->front())) {
    const uint64_t digit = static_cast<uint64_t>(text->front() - '0');
    if (*number > (kMax - digit) / 10) fits = false;
    if (fits) *number = *number * 10 + digit;
    text->remove_prefix(1);
  }
  return fits;
}

const Unit* FindUnit(std::string_view name, std::span<const Unit> units) {
  for (const Unit& unit : units) {
    if (EqualsIgnoreCase(name, unit.name)) return &unit;
  }
  return nullptr;
}

// "<digits>[spaces][unit]" -> number * unit scale, in base units.
StatusOr<uint64_t> ParseQuantity(std::string_view text, const QuantityKind& kind) {
  text = Trim(text);
  if (text.empty()) return Status::BadArgs("empty value");
  if (text.front() == '-') return Status::BadArgs("negative values are not allowed");
  if (!IsDigit(text.front())) {
    return Status::BadArgs("expected a whole number followed by an optional unit (" +
                           std::string(kind.unit_list) + ")");
  }
  uint64_t number = 0;
  const bool fits = ConsumeDigits(&text, &number);
  if (!text.empty() && (text.front() == '.' || text.front() == ',')) {
    return Status::BadArgs("fractions are not allowed; use a smaller unit");
  }
  std::string_view unit_name = TrimLeft(text);
  uint64_t scale = 1;
  if (!unit_name.empty()) {
    const Unit* unit = FindUnit(unit_name, kind.units);
    if (unit == nullptr) {
      return Status::BadArgs("unknown unit \"" + std::string(unit_name) + "\" (use " +
                             std::string(kind.unit_list) + ")");
    }
    scale = unit->scale;
  }
  if (!fits || number > kind.max / scale) return TooLarge(kind);
  return number * scale;
}

std::string FormatInUnits(uint64_t value, std::span<const Unit> units) {
  const Unit* best = nullptr;
  for (const Unit& unit : units) {
    if (value % unit.scale != 0) continue;
    if (best == nullptr || unit.scale > best->scale) best = &unit;
  }
  return std::to_string(value / best->scale) + std::string(best->name);
}

}  // namespace

StatusOr<uint64_t> ParseSize(std::string_view text) {
  static constexpr QuantityKind kSize{kSizeUnits, kSizeUnitList, "bytes",
                                      std::numeric_limits<uint64_t>::max()};
  return ParseQuantity(text, kSize);
}

StatusOr<int64_t> ParseDuration(std::string_view text) {
  static constexpr QuantityKind kDuration{kDurationUnits, kDurationUnitList, "milliseconds",
                                          std::numeric_limits<int64_t>::max()};
  StatusOr<uint64_t> ms = ParseQuantity(text, kDuration);
  if (!ms.ok()) return ms.status();
  return static_cast<int64_t>(*ms);
}

std::string FormatSize(uint64_t bytes) {
  if (bytes == 0) return "0";
  return FormatInUnits(bytes, kSizeUnits);
}

std::string FormatDuration(int64_t ms) {
  if (ms == 0) return "0";
  if (ms < 0) {
    // Negate in unsigned arithmetic so that INT64_MIN works too.
    return "-" + FormatInUnits(0 - static_cast<uint64_t>(ms), kDurationUnits);
  }
  return FormatInUnits(static_cast<uint64_t>(ms), kDurationUnits);
}

}  // namespace strata
