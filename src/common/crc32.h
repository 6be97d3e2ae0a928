#pragma once
// CRC-32 (IEEE 802.3, the zlib/PNG one) for checksums computed inside the
// I/O-free cores, which stay free of third-party headers. Same values as
// boost::crc_32_type, which the storage and frame layers use.

#include <cstdint>

#include "common/bytes.h"

namespace synod {

// Continues `crc` (the value of an earlier call, or 0 to start) over `data`.
std::uint32_t crc32(BytesView data, std::uint32_t crc = 0);

}  // namespace synod
