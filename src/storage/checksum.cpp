#include "storage/checksum.h"

#include <cstdint>
#include <string>

#include <boost/crc.hpp>

#include "storage/big_endian.h"

namespace synod::storage {
namespace {

std::uint32_t crc32(BytesView bytes) {
  boost::crc_32_type crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

}  // namespace

Bytes seal(BytesView record) {
  Bytes value;
  value.reserve(kChecksumBytes + record.size());
  append_big_endian(value, crc32(record));
  value += record;
  return value;
}

Result<BytesView> unseal(BytesView value) {
  if (value.size() < kChecksumBytes) {
    return Error{std::to_string(value.size()) + " bytes, too short for a checksum"};
  }
  const BytesView record = value.substr(kChecksumBytes);
  const std::uint32_t stored = *read_big_endian<std::uint32_t>(value.substr(0, kChecksumBytes));
  if (const std::uint32_t computed = crc32(record); computed != stored) {
    return Error{"checksum " + std::to_string(computed) + ", stored " + std::to_string(stored)};
  }
  return record;
}

}  // namespace synod::storage
