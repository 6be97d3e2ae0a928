#pragma once
// A tiny deterministic state machine for tests against real processes: an
// append-only list of strings. Small enough to check by eye, strict enough
// that a lost, duplicated or reordered op shows in its content.
//
//   apply("append X") -> the list's length after appending X, e.g. "3"
//   query("all")      -> the items joined by ',' ("" when empty)
//   query("count")    -> the list's length
// Anything else answers "error: ..." and changes nothing.
//
// The real KV state machine (src/kv) replaces it in the daemon later.

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "synod/state_machine.h"

namespace synod::testing {

class AppendRegister : public StateMachine {
 public:
  std::string apply(std::string_view op, OpPosition) override {
    constexpr std::string_view kAppend = "append ";
    if (op.substr(0, kAppend.size()) != kAppend) return "error: unknown op";
    items_.emplace_back(op.substr(kAppend.size()));
    return std::to_string(items_.size());
  }

  std::string query(std::string_view op) const override {
    if (op == "count") return std::to_string(items_.size());
    if (op != "all") return "error: unknown query";
    std::string out;
    for (std::size_t i = 0; i < items_.size(); ++i) out += (i == 0 ? "" : ",") + items_[i];
    return out;
  }

  // "<count>\n" then per item "<length>\n<bytes>".
  void write_snapshot(std::ostream& out) const override {
    out << items_.size() << '\n';
    for (const std::string& item : items_) out << item.size() << '\n' << item;
  }

  bool restore_snapshot(std::istream& in) override {
    constexpr std::uint64_t kItemsMax = 1u << 24;
    constexpr std::uint64_t kItemBytesMax = 1u << 20;
    std::uint64_t count = 0;
    if (!(in >> count) || in.get() != '\n' || count > kItemsMax) return false;
    std::vector<std::string> items;
    for (std::uint64_t i = 0; i < count; ++i) {
      std::uint64_t length = 0;
      if (!(in >> length) || in.get() != '\n' || length > kItemBytesMax) return false;
      std::string item(length, '\0');
      if (!in.read(item.data(), static_cast<std::streamsize>(length))) return false;
      items.push_back(std::move(item));
    }
    items_ = std::move(items);
    return true;
  }

 private:
  std::vector<std::string> items_;
};

}  // namespace synod::testing
