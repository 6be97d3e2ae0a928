#pragma once
// Durations as operators write them on command lines and in config files.
//
// Grammar (no spaces, no sign, lower-case units):
//   duration = number unit
//   number   = digits [ "." digits ]     at most 9 digits after the point
//   unit     = "ms" | "s" | "m" | "h"     milliseconds, seconds, minutes, hours
// Examples: 500ms, 2s, 1.5s, 1m, 1h, 0ms. The value must be a whole number of
// milliseconds ("1.5ms" and "0.0001s" are refused: nothing here is finer) and
// at most kDurationMax. Zero is a valid duration; a caller that needs a
// positive one says so in its own check.

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace synod {

// About 114 years: far past any timeout, far below where milliseconds overflow.
inline constexpr std::chrono::milliseconds kDurationMax = std::chrono::hours(1'000'000);

// Errors quote the text and say what is accepted, with no flag name: the
// caller prefixes it ("--tick: ...").
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// The shortest exact spelling parse_duration reads back to the same value:
// the largest unit that divides it ("2s", "90s", "1500ms", "1h", "0ms").
// A negative value gets a leading '-' (which parse_duration refuses).
std::string format_duration(std::chrono::milliseconds duration);

}  // namespace synod
