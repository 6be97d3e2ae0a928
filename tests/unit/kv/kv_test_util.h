#pragma once
// Shared by the kv unit tests: readable printing of replies and requests in
// failure messages, and the allocation probe (defined in kv_codec_test.cpp,
// which replaces operator new for the whole test binary).

#include <cstddef>
#include <functional>
#include <ostream>
#include <string>

#include "kv/kv_ops.h"

namespace synod::kv {

inline std::string printable(BytesView bytes) {
  constexpr std::size_t kShownBytesMax = 48;
  std::string out = "\"";
  for (std::size_t i = 0; i < bytes.size() && i < kShownBytesMax; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  out += "\"";
  if (bytes.size() > kShownBytesMax) out += "...(" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

inline void PrintTo(KvStatus s, std::ostream* os) { *os << to_string(s); }

inline void PrintTo(const KvEntry& e, std::ostream* os) {
  *os << "{key " << printable(e.key) << " value " << printable(e.value) << " v" << e.version << " create "
      << e.create_revision << " mod " << e.mod_revision << "}";
}

inline void PrintTo(const KvReply& r, std::ostream* os) {
  *os << "{" << to_string(r.status) << " rev " << r.revision;
  if (!r.message.empty()) *os << " message \"" << r.message << "\"";
  if (r.entry) {
    *os << " entry ";
    PrintTo(*r.entry, os);
  }
  if (!r.entries.empty()) *os << " " << r.entries.size() << " entries";
  if (r.more) *os << " more";
  *os << "}";
}

inline void PrintTo(const KvRequest& r, std::ostream* os) {
  *os << op_name(r) << " (" << encode(r).size() << " bytes encoded)";
}

// The largest single allocation made while `f` runs.
std::size_t largest_allocation_bytes(const std::function<void()>& f);

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace synod::kv
