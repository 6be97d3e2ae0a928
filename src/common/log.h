#pragma once
// A small process-wide logger: one line per event that matters, to stderr,
// filtered by a level. Lines from different threads never interleave (each
// is written with one insertion). Not for the protocol cores, which own no
// I/O: their hosts log what the cores report.

#include <string>
#include <string_view>

namespace synod::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

// Default kInfo. Thread-safe.
void set_level(Level level);
Level level();
bool enabled(Level level);

// "debug", "info", "warn", "error", "off".
bool parse_level(std::string_view text, Level& out);

// Writes "<ms since start> <L> <source>: <line>\n" when `level` is enabled.
// `source` names who speaks, e.g. "n1 rsm".
void write(Level level, std::string_view source, std::string_view line);

inline void debug(std::string_view source, std::string_view line) { write(Level::kDebug, source, line); }
inline void info(std::string_view source, std::string_view line) { write(Level::kInfo, source, line); }
inline void warn(std::string_view source, std::string_view line) { write(Level::kWarn, source, line); }
inline void error(std::string_view source, std::string_view line) { write(Level::kError, source, line); }

}  // namespace synod::log
