#include "common/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>

namespace synod::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

// Milliseconds since the first line: enough to order events and read gaps,
// and it never jumps with the wall clock.
std::int64_t elapsed_ms() {
  static const auto start = std::chrono::steady_clock::now();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
}

char letter(Level level) {
  switch (level) {
    case Level::kDebug: return 'D';
    case Level::kInfo: return 'I';
    case Level::kWarn: return 'W';
    case Level::kError: return 'E';
    case Level::kOff: return '-';
  }
  return '?';
}

}  // namespace

void set_level(Level level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

Level level() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

bool enabled(Level l) { return l != Level::kOff && static_cast<int>(l) >= g_level.load(std::memory_order_relaxed); }

bool parse_level(std::string_view text, Level& out) {
  if (text == "debug") out = Level::kDebug;
  else if (text == "info") out = Level::kInfo;
  else if (text == "warn") out = Level::kWarn;
  else if (text == "error") out = Level::kError;
  else if (text == "off") out = Level::kOff;
  else return false;
  return true;
}

void write(Level l, std::string_view source, std::string_view line) {
  if (!enabled(l)) return;
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%9lld ", static_cast<long long>(elapsed_ms()));
  std::string out;
  out.reserve(line.size() + source.size() + 16);
  out += stamp;
  out += letter(l);
  out += ' ';
  out += source;
  out += ": ";
  out += line;
  out += '\n';
  std::cerr << out;  // one insertion: lines from different threads stay whole
}

}  // namespace synod::log
