#pragma once
// Values guarded by a CRC-32, as the store keeps its records: the checksum of
// the record (4 bytes, big-endian), then the record. A record that fails its
// checksum is reported, never skipped.

#include <cstddef>

#include "common/bytes.h"
#include "common/result.h"

namespace synod::storage {

inline constexpr std::size_t kChecksumBytes = 4;

// The checksum, then `record`.
Bytes seal(BytesView record);

// The record inside a sealed value (a view into `value`). Fails, saying what
// is wrong ("checksum 123, stored 456", or too short to hold a checksum), when
// the value is not intact; the caller names the key.
Result<BytesView> unseal(BytesView value);

}  // namespace synod::storage
