#pragma once
// Fixed-width unsigned integers as big-endian bytes: byte order equals numeric
// order, so keys built from them sort (and scan) in numeric order.

#include <concepts>
#include <cstddef>
#include <optional>

#include "common/bytes.h"

namespace synod::storage {

template <std::unsigned_integral T>
void append_big_endian(Bytes& out, T value) {
  for (std::size_t i = sizeof(T); i > 0; --i) {
    out.push_back(static_cast<char>((value >> (8 * (i - 1))) & 0xff));
  }
}

// Empty unless `in` is exactly sizeof(T) bytes.
template <std::unsigned_integral T>
std::optional<T> read_big_endian(BytesView in) {
  if (in.size() != sizeof(T)) return std::nullopt;
  T value = 0;
  for (char c : in) value = static_cast<T>((value << 8) | static_cast<unsigned char>(c));
  return value;
}

}  // namespace synod::storage
