#include "common/duration.h"

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace synod {
namespace {

using std::chrono::milliseconds;

milliseconds parse_ok(std::string_view text) {
  Result<milliseconds> d = parse_duration(text);
  EXPECT_TRUE(d.ok()) << text << ": " << d.error().message;
  return d.ok() ? *d : milliseconds(-1);
}

// The error for `text`, which must hold every one of `words`.
void expect_refused(std::string_view text, std::initializer_list<std::string_view> words) {
  Result<milliseconds> d = parse_duration(text);
  ASSERT_FALSE(d.ok()) << "'" << text << "' parsed as " << d->count() << "ms";
  for (std::string_view w : words) {
    EXPECT_NE(d.error().message.find(w), std::string::npos)
        << "'" << w << "' missing from: " << d.error().message;
  }
}

TEST(Duration, ParsesEachUnit) {
  EXPECT_EQ(parse_ok("500ms"), milliseconds(500));
  EXPECT_EQ(parse_ok("2s"), milliseconds(2000));
  EXPECT_EQ(parse_ok("1m"), milliseconds(60'000));
  EXPECT_EQ(parse_ok("1h"), milliseconds(3'600'000));
  EXPECT_EQ(parse_ok("0ms"), milliseconds(0));
  EXPECT_EQ(parse_ok("0s"), milliseconds(0));
  EXPECT_EQ(parse_ok("007s"), milliseconds(7000));
}

TEST(Duration, ParsesFractionsThatComeToWholeMilliseconds) {
  EXPECT_EQ(parse_ok("1.5s"), milliseconds(1500));
  EXPECT_EQ(parse_ok("0.25m"), milliseconds(15'000));
  EXPECT_EQ(parse_ok("1.001s"), milliseconds(1001));
  EXPECT_EQ(parse_ok("0.5h"), milliseconds(1'800'000));
  EXPECT_EQ(parse_ok("2.0ms"), milliseconds(2));
  EXPECT_EQ(parse_ok("1.000000000s"), milliseconds(1000));  // 9 decimals, the most
}

TEST(Duration, AcceptsTheMaximumAndRefusesBeyondIt) {
  EXPECT_EQ(parse_ok("1000000h"), kDurationMax);
  EXPECT_EQ(parse_ok("3600000000000ms"), kDurationMax);
  expect_refused("1000001h", {"maximum", "1000000h"});
  expect_refused("3600000000001ms", {"maximum"});
  expect_refused("1000000.001h", {"maximum"});
  // Would overflow a u64 (and milliseconds) if not caught digit by digit.
  expect_refused("99999999999999999999999h", {"maximum"});
}

TEST(Duration, RefusesEmptyAndSaysWhatIsAccepted) {
  expect_refused("", {"empty", "500ms", "2s", "1.5s", "1m", "1h"});
}

TEST(Duration, RefusesNegative) { expect_refused("-5s", {"'-5s'", "negative", "500ms"}); }

TEST(Duration, RefusesMissingUnit) { expect_refused("10", {"'10'", "no unit", "ms, s, m or h"}); }

TEST(Duration, RefusesUnknownUnit) {
  expect_refused("5x", {"unknown unit 'x'", "ms, s, m or h"});
  expect_refused("5S", {"unknown unit 'S'"});
  expect_refused("5sec", {"unknown unit 'sec'"});
  expect_refused("5us", {"unknown unit 'us'"});
  expect_refused("5 s", {"unknown unit ' s'"});
}

TEST(Duration, RefusesMalformedNumbers) {
  expect_refused("s", {"no number"});
  expect_refused(" 5s", {"no number"});
  expect_refused(".5s", {"no digits before '.'"});
  expect_refused("1.s", {"no digits after '.'"});
  expect_refused("1.2.3s", {"more than one '.'"});
  expect_refused("1.0000000001s", {"more than 9 digits"});
  expect_refused("+5s", {"no number"});
  expect_refused("1e3ms", {"unknown unit 'e3ms'"});
}

TEST(Duration, RefusesLessThanAMillisecond) {
  expect_refused("1.5ms", {"whole number of milliseconds"});
  expect_refused("0.0001s", {"whole number of milliseconds"});
}

TEST(Duration, RefusesOverlongText) {
  expect_refused(std::string(40, '1') + "ms", {"longer than 32 characters"});
}

TEST(Duration, FormatsWithTheLargestExactUnit) {
  EXPECT_EQ(format_duration(milliseconds(0)), "0ms");
  EXPECT_EQ(format_duration(milliseconds(10)), "10ms");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(format_duration(milliseconds(2000)), "2s");
  EXPECT_EQ(format_duration(milliseconds(90'000)), "90s");
  EXPECT_EQ(format_duration(milliseconds(60'000)), "1m");
  EXPECT_EQ(format_duration(milliseconds(5'400'000)), "90m");
  EXPECT_EQ(format_duration(milliseconds(3'600'000)), "1h");
  EXPECT_EQ(format_duration(kDurationMax), "1000000h");
  EXPECT_EQ(format_duration(milliseconds(-5)), "-5ms");
  EXPECT_EQ(format_duration(milliseconds(std::numeric_limits<std::int64_t>::min())),
            "-9223372036854775808ms");
}

TEST(Duration, FormatReadsBackToTheSameValue) {
  for (std::int64_t ms : {0LL, 1LL, 999LL, 1000LL, 1001LL, 59'999LL, 60'000LL, 3'600'000LL,
                          3'600'001LL, 86'400'000LL, 3'600'000'000'000LL}) {
    EXPECT_EQ(parse_ok(format_duration(milliseconds(ms))), milliseconds(ms)) << ms;
  }
}

}  // namespace
}  // namespace synod
