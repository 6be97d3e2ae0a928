#pragma once
// Small helpers the real-process tests share: bounded polling, and the
// comma-separated values the test state machine answers with.

#include <chrono>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace synod::testing {

// Polls `condition` until it holds or `limit` passes; every wait is bounded.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

inline std::vector<std::string> items_of(const std::string& all) {
  std::vector<std::string> out;
  std::stringstream in(all);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

}  // namespace synod::testing
