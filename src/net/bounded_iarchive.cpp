// BoundedIArchive's checks, and the Boost templates it needs instantiated.

#include <cstdint>
#include <string>

#include <boost/archive/impl/basic_binary_iarchive.ipp>
#include <boost/archive/impl/basic_binary_iprimitive.ipp>

#include "net/serialize.h"

// Boost compiles these members for its own archives only; an archive derived
// from binary_iarchive_impl must instantiate them itself.
namespace boost::archive {
template class basic_binary_iprimitive<synod::net::BoundedIArchive, char, std::char_traits<char>>;
template class basic_binary_iarchive<synod::net::BoundedIArchive>;
template class binary_iarchive_impl<synod::net::BoundedIArchive, char, std::char_traits<char>>;
}  // namespace boost::archive

namespace synod::net {

// The writer is Boost's binary_oarchive: lengths and counts go out as size_t.
static_assert(sizeof(std::size_t) == sizeof(std::uint64_t));

BoundedIArchive::BoundedIArchive(PayloadBuffer& buffer) : Base(buffer, kFlags), buffer_(buffer) {
  init(kFlags);  // reads nothing: kFlags has no_header
}

void BoundedIArchive::require(std::uint64_t needed, const char* what) const {
  if (needed > remaining()) {
    throw DecodeError(std::string(what) + " " + std::to_string(needed) + " exceeds the " +
                      std::to_string(remaining()) + " bytes left in the payload");
  }
}

void BoundedIArchive::load(bool& b) {
  unsigned char byte = 0;
  load_binary(&byte, 1);
  if (byte > 1) {
    throw DecodeError("bool byte " + std::to_string(byte) + " is neither 0 nor 1");
  }
  b = byte == 1;
}

void BoundedIArchive::load(std::string& s) {
  std::uint64_t length = 0;
  load_binary(&length, sizeof length);
  require(length, "string length");
  s.resize(static_cast<std::size_t>(length));
  if (length > 0) load_binary(s.data(), static_cast<std::size_t>(length));
}

void BoundedIArchive::load_override(boost::serialization::collection_size_type& count) {
  Base::load_override(count);
  // Every element takes at least one byte, so a count above the bytes left is
  // a lie; this bounds whatever the caller sizes by it.
  require(static_cast<std::size_t>(count), "collection count");
}

}  // namespace synod::net
