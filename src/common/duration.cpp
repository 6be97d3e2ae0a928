#include "common/duration.h"

#include <array>
#include <cstdint>
#include <optional>

namespace synod {
namespace {

// Longer text is never a sensible duration; the bound keeps the digit loops
// (and the quoted text in errors) short.
constexpr std::size_t kTextLengthMax = 32;
constexpr std::size_t kFractionDigitsMax = 9;

struct Unit {
  std::string_view name;
  std::uint64_t ms;
};
// Smallest first; a unit is matched against the whole text after the number.
constexpr std::array<Unit, 4> kUnits = {{{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}}};

const std::string kAccepted =
    "; expected a number and a unit (ms, s, m or h), such as 500ms, 2s, 1.5s, 1m or 1h";

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::optional<std::uint64_t> unit_ms(std::string_view name) {
  for (const Unit& unit : kUnits) {
    if (unit.name == name) return unit.ms;
  }
  return std::nullopt;
}

}  // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text.empty()) return Error{"duration is empty" + kAccepted};
  if (text.size() > kTextLengthMax) {
    return Error{"duration " + quoted(text.substr(0, 16)) + "... is longer than " +
                 std::to_string(kTextLengthMax) + " characters" + kAccepted};
  }
  if (text.front() == '-') return Error{"duration " + quoted(text) + " is negative" + kAccepted};

  // Split into number and unit at the first character that is not a digit or '.'.
  std::size_t unit_begin = 0;
  while (unit_begin < text.size() && (is_digit(text[unit_begin]) || text[unit_begin] == '.')) {
    ++unit_begin;
  }
  const std::string_view number = text.substr(0, unit_begin);
  const std::string_view unit = text.substr(unit_begin);
  if (number.empty()) return Error{"duration " + quoted(text) + " has no number" + kAccepted};
  if (unit.empty()) return Error{"duration " + quoted(text) + " has no unit" + kAccepted};
  const std::optional<std::uint64_t> per_unit_ms = unit_ms(unit);
  if (!per_unit_ms) {
    return Error{"duration " + quoted(text) + " has unknown unit " + quoted(unit) + kAccepted};
  }

  const std::size_t point = number.find('.');
  const std::string_view whole = number.substr(0, point);
  const std::string_view fraction =
      point == std::string_view::npos ? std::string_view() : number.substr(point + 1);
  if (whole.empty()) {
    return Error{"duration " + quoted(text) + " has no digits before '.'" + kAccepted};
  }
  if (point != std::string_view::npos && fraction.empty()) {
    return Error{"duration " + quoted(text) + " has no digits after '.'" + kAccepted};
  }
  if (fraction.find('.') != std::string_view::npos) {
    return Error{"duration " + quoted(text) + " has more than one '.'" + kAccepted};
  }
  if (fraction.size() > kFractionDigitsMax) {
    return Error{"duration " + quoted(text) + " has more than " +
                 std::to_string(kFractionDigitsMax) + " digits after '.'" + kAccepted};
  }

  const std::uint64_t max_ms = static_cast<std::uint64_t>(kDurationMax.count());
  const std::string too_long =
      "duration " + quoted(text) + " is longer than the maximum, " + format_duration(kDurationMax);
  // whole * per_unit_ms, refusing as soon as it passes the maximum (which is
  // far below where a u64 overflows, so no step here can overflow).
  std::uint64_t whole_value = 0;
  for (char c : whole) {
    whole_value = whole_value * 10 + static_cast<std::uint64_t>(c - '0');
    if (whole_value > max_ms) return Error{too_long};
  }
  std::uint64_t total_ms = whole_value * *per_unit_ms;  // <= 3.6e6 * 3.6e12: fits in a u64
  if (total_ms > max_ms) return Error{too_long};

  // fraction / 10^digits of a unit, which must come to whole milliseconds.
  std::uint64_t fraction_value = 0;
  std::uint64_t scale = 1;
  for (char c : fraction) {
    fraction_value = fraction_value * 10 + static_cast<std::uint64_t>(c - '0');
    scale *= 10;
  }
  const std::uint64_t fraction_scaled = fraction_value * *per_unit_ms;  // < 1e9 * 3.6e6
  if (fraction_scaled % scale != 0) {
    return Error{"duration " + quoted(text) +
                 " is not a whole number of milliseconds; nothing finer than 1ms is accepted"};
  }
  total_ms += fraction_scaled / scale;
  if (total_ms > max_ms) return Error{too_long};
  return std::chrono::milliseconds(static_cast<std::int64_t>(total_ms));
}

std::string format_duration(std::chrono::milliseconds duration) {
  const std::int64_t count = duration.count();
  // Through unsigned arithmetic so that the most negative value has a magnitude too.
  const std::uint64_t magnitude =
      count < 0 ? ~static_cast<std::uint64_t>(count) + 1 : static_cast<std::uint64_t>(count);
  const std::string sign = count < 0 ? "-" : "";
  if (magnitude == 0) return "0ms";
  // Largest unit first.
  for (auto it = kUnits.rbegin(); it != kUnits.rend(); ++it) {
    if (magnitude % it->ms == 0) {
      return sign + std::to_string(magnitude / it->ms) + std::string(it->name);
    }
  }
  return sign + std::to_string(magnitude) + "ms";  // unreachable: 1ms divides everything
}

}  // namespace synod
