#pragma once
// Helpers for the command-line tests: argv from a list of strings, and a
// check that an error holds every expected word.

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "common/result.h"

namespace synod::config_testing {

// argv as main() gets it: the program name first, then `args`.
class Argv {
 public:
  Argv(std::string program, std::vector<std::string> args) : strings_(std::move(args)) {
    strings_.insert(strings_.begin(), std::move(program));
    for (const std::string& s : strings_) pointers_.push_back(s.c_str());
  }
  int argc() const { return static_cast<int>(pointers_.size()); }
  const char* const* argv() const { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<const char*> pointers_;
};

inline std::string missing_words(const std::string& message,
                                 std::initializer_list<std::string_view> words) {
  std::string missing;
  for (std::string_view w : words) {
    if (message.find(w) == std::string::npos) missing += " '" + std::string(w) + "'";
  }
  return missing;
}

// Fails the test unless `result` is an error whose message holds every word.
template <typename T>
void expect_error(const Result<T>& result, std::initializer_list<std::string_view> words) {
  ASSERT_FALSE(result.ok()) << "parsed, but an error holding" << missing_words("", words)
                            << " was expected";
  const std::string missing = missing_words(result.error().message, words);
  EXPECT_TRUE(missing.empty()) << "missing" << missing << " from: " << result.error().message;
}

}  // namespace synod::config_testing
