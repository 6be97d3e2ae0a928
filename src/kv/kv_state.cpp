#include "kv/kv_state.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "kv/kv_ops.h"

namespace synod::kv {
namespace {

// A key for a message: printable ASCII as it is, other bytes as \xNN, and
// long keys cut (a message is for a person, and bounded).
std::string printable(BytesView key) {
  constexpr std::size_t kShownBytesMax = 64;
  std::string out = "\"";
  for (std::size_t i = 0; i < key.size() && i < kShownBytesMax; ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  out += key.size() > kShownBytesMax ? "\"..." : "\"";
  return out;
}

Status broken(BytesView key, const std::string& rule) { return Error{"key " + printable(key) + ": " + rule}; }

Status check_record(const Bytes& key, const KvRecord& r, std::uint64_t revision) {
  if (key.empty() || key.size() > kKeyBytesMax) {
    return broken(key, "key of " + std::to_string(key.size()) + " bytes is outside 1 to " +
                           std::to_string(kKeyBytesMax));
  }
  if (r.value.size() > kValueBytesMax) {
    return broken(key, "value of " + std::to_string(r.value.size()) + " bytes exceeds the limit of " +
                           std::to_string(kValueBytesMax));
  }
  if (r.version == 0) return broken(key, "version 0 (a live key has version 1 or more)");
  if (r.create_revision == 0 || r.create_revision > r.mod_revision || r.mod_revision > revision) {
    return broken(key, "revisions out of order: create " + std::to_string(r.create_revision) + ", mod " +
                           std::to_string(r.mod_revision) + ", store " + std::to_string(revision) +
                           " (want 1 <= create <= mod <= store)");
  }
  if ((r.version == 1) != (r.mod_revision == r.create_revision) ||
      r.version - 1 > r.mod_revision - r.create_revision) {
    return broken(key, "version " + std::to_string(r.version) + " does not fit revisions create " +
                           std::to_string(r.create_revision) + ", mod " + std::to_string(r.mod_revision));
  }
  return Status::Ok();
}

}  // namespace

Status check_invariants(const KvState& state) {
  // Every revision a key names, with the key, to find one named twice.
  std::vector<std::pair<std::uint64_t, const Bytes*>> named;
  named.reserve(state.keys.size() * 2);
  for (const auto& [key, record] : state.keys) {
    if (Status s = check_record(key, record, state.revision); !s) return s;
    named.emplace_back(record.create_revision, &key);
    if (record.mod_revision != record.create_revision) named.emplace_back(record.mod_revision, &key);
  }
  std::sort(named.begin(), named.end());
  for (std::size_t i = 1; i < named.size(); ++i) {
    if (named[i].first == named[i - 1].first) {
      return broken(*named[i].second, "revision " + std::to_string(named[i].first) + " also changed key " +
                                          printable(*named[i - 1].second) + "; a revision changes one key");
    }
  }
  return Status::Ok();
}

}  // namespace synod::kv
