// KvRequest and KvReply <-> bytes. The layout is the Boost binary archive
// with no header (net/serialize.h): fixed-width little-endian integers, a
// string as a u64 length then its bytes, a bool as one byte 0 or 1.
//
//   request: u8 format (kKvFormatVersion), u8 kind (KvRequest index), then
//     put     key, value, expected_version
//     get     key
//     delete  key, expected_version
//     list    prefix, u64 limit
//     cas     key, expected_value, new_value
//   reply: u8 format, u8 status, message, u64 revision, entry (optional),
//          u64 entry count, the entries, bool more
//   optional: bool present, then the value when present
//   entry: key, value, u64 version, u64 create_revision, u64 mod_revision
//
// Decoding reads through net::BoundedIArchive, which checks every length and
// count against the bytes left before anything is sized by it; the limits of
// kv_ops.h are checked right after each field is read.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <streambuf>
#include <string>
#include <utility>

#include <boost/archive/archive_exception.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/collection_size_type.hpp>

#include "kv/kv_ops.h"
#include "net/client_protocol.h"
#include "net/codec.h"
#include "net/serialize.h"

namespace synod::kv {
namespace {

using boost::serialization::collection_size_type;
using net::BoundedIArchive;
using net::BytesSink;
using net::guarded_decode;
using net::DecodeError;
using net::PayloadBuffer;
using OArchive = boost::archive::binary_oarchive;

// The same fixed layout as the peer codec.
static_assert(std::endian::native == std::endian::little, "the kv format is little-endian");
static_assert(sizeof(std::size_t) == 8, "the kv format has 64-bit lengths");

// The largest request: the format and kind bytes, three lengths, the key, the
// values (a cas's two share one value's bound) and an optional version.
inline constexpr std::size_t kRequestBytesMax = 2 + 3 * 8 + kKeyBytesMax + kValueBytesMax + 1 + 8;
static_assert(kRequestBytesMax <= net::kOpBytesMax, "one kv op must fit in one log entry");
static_assert(kRequestBytesMax <= net::kClientOpBytesMax, "one kv op must fit in one client request");

// The largest reply: one with an entry of the longest key and value, or a list
// of kListLimitMax entries holding kListReplyBytesMax bytes of keys and values
// (never both: the decoder refuses a reply with an entry and entries).
inline constexpr std::size_t kEntryOverheadBytes = 2 * 8 + 3 * 8;
inline constexpr std::size_t kReplyHeadBytes = 2 + 8 + kMessageBytesMax + 8 + 1 + 8 + 1;
inline constexpr std::size_t kReplyBytesMax =
    kReplyHeadBytes + std::max(kEntryOverheadBytes + kKeyBytesMax + kValueBytesMax,
                               kListLimitMax * kEntryOverheadBytes + kListReplyBytesMax);
static_assert(kReplyBytesMax <= net::kClientPayloadBytesMax, "one kv reply must fit in one client reply");


template <class WriteFields>
Bytes write_bytes(WriteFields&& write_fields) {
  Bytes out;
  {
    BytesSink sink(out);
    OArchive oa(sink, BoundedIArchive::kFlags);
    write_fields(oa);
  }  // the archive is done with the sink before `out` is returned
  return out;
}

// --- Encoding.

void put_u8(OArchive& oa, std::uint8_t byte) { oa << byte; }

void put_version(OArchive& oa, const std::optional<std::uint64_t>& v) {
  const bool present = v.has_value();
  oa << present;
  if (present) oa << *v;
}

void put_entry(OArchive& oa, const KvEntry& e) {
  oa << e.key << e.value << e.version << e.create_revision << e.mod_revision;
}

void put_body(OArchive& oa, const Put& r) {
  oa << r.key << r.value;
  put_version(oa, r.expected_version);
}
void put_body(OArchive& oa, const Get& r) { oa << r.key; }
void put_body(OArchive& oa, const Delete& r) {
  oa << r.key;
  put_version(oa, r.expected_version);
}
void put_body(OArchive& oa, const List& r) { oa << r.prefix << r.limit; }
void put_body(OArchive& oa, const Cas& r) { oa << r.key << r.expected_value << r.new_value; }

// --- Decoding.

std::uint8_t get_u8(BoundedIArchive& ia) {
  std::uint8_t byte = 0;
  ia >> byte;
  return byte;
}

void get_format(BoundedIArchive& ia) {
  const std::uint8_t format = get_u8(ia);
  if (format != kKvFormatVersion) {
    throw DecodeError("format " + std::to_string(format) + " is not one this node knows (" +
                      std::to_string(kKvFormatVersion) + "); is the sender running a newer synod?");
  }
}

// A string field, refused when longer than `max` (the archive has already
// bounded its allocation by the bytes left).
Bytes get_bytes(BoundedIArchive& ia, std::size_t max, const char* field) {
  Bytes s;
  ia >> s;
  if (s.size() > max) {
    throw DecodeError(std::string(field) + " of " + std::to_string(s.size()) + " bytes exceeds the limit of " +
                      std::to_string(max) + " bytes");
  }
  return s;
}

std::optional<std::uint64_t> get_version(BoundedIArchive& ia) {
  bool present = false;
  ia >> present;  // BoundedIArchive: 0 or 1, nothing else
  if (!present) return std::nullopt;
  std::uint64_t v = 0;
  ia >> v;
  return v;
}

KvEntry get_entry(BoundedIArchive& ia) {
  KvEntry e;
  e.key = get_bytes(ia, kKeyBytesMax, "entry key");
  e.value = get_bytes(ia, kValueBytesMax, "entry value");
  ia >> e.version >> e.create_revision >> e.mod_revision;
  return e;
}

KvRequest get_request(BoundedIArchive& ia) {
  const std::uint8_t kind = get_u8(ia);
  switch (kind) {
    case 0: {
      Put r;
      r.key = get_bytes(ia, kKeyBytesMax, "key");
      r.value = get_bytes(ia, kValueBytesMax, "value");
      r.expected_version = get_version(ia);
      return r;
    }
    case 1: {
      Get r;
      r.key = get_bytes(ia, kKeyBytesMax, "key");
      return r;
    }
    case 2: {
      Delete r;
      r.key = get_bytes(ia, kKeyBytesMax, "key");
      r.expected_version = get_version(ia);
      return r;
    }
    case 3: {
      List r;
      r.prefix = get_bytes(ia, kKeyBytesMax, "prefix");
      ia >> r.limit;
      return r;
    }
    case 4: {
      Cas r;
      r.key = get_bytes(ia, kKeyBytesMax, "key");
      r.expected_value = get_bytes(ia, kValueBytesMax, "expected value");
      r.new_value = get_bytes(ia, kValueBytesMax, "new value");
      return r;
    }
  }
  throw DecodeError("unknown op kind " + std::to_string(kind) + " (this node knows 0 to " +
                    std::to_string(std::variant_size_v<KvRequest> - 1) + ")");
}

KvReply get_reply(BoundedIArchive& ia) {
  KvReply r;
  const std::uint8_t status = get_u8(ia);
  if (status > kKvStatusLast) {
    throw DecodeError("status " + std::to_string(status) + " is not one this node knows (0 to " +
                      std::to_string(kKvStatusLast) + ")");
  }
  r.status = static_cast<KvStatus>(status);
  r.message = get_bytes(ia, kMessageBytesMax, "message");
  ia >> r.revision;
  bool has_entry = false;
  ia >> has_entry;
  if (has_entry) r.entry = get_entry(ia);
  collection_size_type count;
  ia >> count;  // BoundedIArchive: at most the bytes left
  if (count > kListLimitMax) {
    throw DecodeError("entry count " + std::to_string(count) + " exceeds the limit of " +
                      std::to_string(kListLimitMax));
  }
  if (r.entry && count > 0) {
    throw DecodeError("a reply carries one entry or a list of entries, not both");
  }
  std::size_t entries_bytes = 0;
  // No reserve(count): the vector grows only with entries actually read.
  for (std::size_t i = 0; i < count; ++i) {
    KvEntry e = get_entry(ia);
    entries_bytes += e.key.size() + e.value.size();
    if (entries_bytes > kListReplyBytesMax) {
      throw DecodeError("entries of more than " + std::to_string(kListReplyBytesMax) +
                        " bytes of keys and values exceed the limit of one list");
    }
    r.entries.push_back(std::move(e));
  }
  ia >> r.more;
  return r;
}


template <class T, class Get>
Result<T> decode_all(const char* name, BytesView bytes, Get&& get) {
  const std::string what = std::string(name) + " of " + std::to_string(bytes.size()) + " bytes";
  return guarded_decode<T>(what, [&]() -> T {
    PayloadBuffer buffer(bytes);
    BoundedIArchive ia(buffer);
    get_format(ia);
    T value = get(ia);
    if (ia.remaining() != 0) {
      throw DecodeError(std::to_string(ia.remaining()) + " bytes left over after the end");
    }
    return value;
  });
}

}  // namespace

Bytes encode(const KvRequest& request) {
  return write_bytes([&](OArchive& oa) {
    put_u8(oa, kKvFormatVersion);
    put_u8(oa, static_cast<std::uint8_t>(request.index()));
    std::visit([&](const auto& r) { put_body(oa, r); }, request);
  });
}

Result<KvRequest> decode_request(BytesView bytes) {
  Result<KvRequest> decoded = decode_all<KvRequest>("kv op", bytes, get_request);
  if (!decoded) return decoded;
  // The wire bounds hold; the rules of the store (a non-empty key, a cas's
  // values sharing one value's room) are validate()'s.
  if (Status s = validate(*decoded); !s) return s.error();
  return decoded;
}

Bytes encode(const KvReply& reply) {
  return write_bytes([&](OArchive& oa) {
    put_u8(oa, kKvFormatVersion);
    put_u8(oa, static_cast<std::uint8_t>(reply.status));
    oa << reply.message << reply.revision;
    const bool has_entry = reply.entry.has_value();
    oa << has_entry;
    if (has_entry) put_entry(oa, *reply.entry);
    const collection_size_type count(reply.entries.size());
    oa << count;
    for (const KvEntry& e : reply.entries) put_entry(oa, e);
    oa << reply.more;
  });
}

Result<KvReply> decode_reply(BytesView bytes) {
  return decode_all<KvReply>("kv reply", bytes, get_reply);
}

}  // namespace synod::kv
