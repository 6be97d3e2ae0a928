#pragma once
// An owned buffer of raw bytes. std::string because RocksDB, Asio and the
// Boost archives all speak it without a copy; it holds binary data, not text.

#include <string>
#include <string_view>

namespace synod {

using Bytes = std::string;
using BytesView = std::string_view;

}  // namespace synod
