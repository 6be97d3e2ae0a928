#include "kv/kv_snapshot.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstddef>
#include <exception>
#include <new>
#include <streambuf>
#include <string>
#include <string_view>
#include <utility>

#include <boost/archive/archive_exception.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/collection_size_type.hpp>

#include "common/crc32.h"
#include "net/serialize.h"

namespace synod::kv {
namespace {

using boost::serialization::collection_size_type;
using net::BoundedIArchive;
using net::guarded_decode;
using net::DecodeError;
using net::PayloadBuffer;

static_assert(std::endian::native == std::endian::little, "the snapshot body is little-endian");
static_assert(sizeof(std::size_t) == 8, "the snapshot body has 64-bit lengths");

constexpr std::string_view kMagic = "synod-kv";
// Reading the body grows the buffer by at most this much beyond what arrived.
constexpr std::size_t kReadChunkBytes = std::size_t{1} << 20;
// Per key in the body: two lengths and three u64.
constexpr std::uint64_t kKeyOverheadBytes = 2 * 8 + 3 * 8;

void put_le(std::ostream& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.put(static_cast<char>((v >> (8 * i)) & 0xff));
}

bool get_le(std::istream& in, int bytes, std::uint64_t& v) {
  v = 0;
  for (int i = 0; i < bytes; ++i) {
    const int c = in.get();
    if (c == std::char_traits<char>::eof()) return false;
    v |= static_cast<std::uint64_t>(static_cast<unsigned char>(c)) << (8 * i);
  }
  return true;
}

// Exactly what the archive writes for the body: the header's length field.
std::uint64_t body_bytes(const KvState& state) {
  std::uint64_t bytes = 8 + 8;
  for (const auto& [key, record] : state.keys) bytes += kKeyOverheadBytes + key.size() + record.value.size();
  return bytes;
}

// Forwards to a stream, keeping the CRC and the count of what passed.
class CrcSink : public std::streambuf {
 public:
  explicit CrcSink(std::ostream& out) : out_(out) {}
  std::uint32_t crc() const { return crc_; }
  std::uint64_t bytes() const { return bytes_; }

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    if (!out_.write(s, n)) return 0;  // the archive throws on a short write
    crc_ = crc32(BytesView(s, static_cast<std::size_t>(n)), crc_);
    bytes_ += static_cast<std::uint64_t>(n);
    return n;
  }
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    const char ch = traits_type::to_char_type(c);
    return xsputn(&ch, 1) == 1 ? c : traits_type::eof();
  }

 private:
  std::ostream& out_;
  std::uint32_t crc_ = 0;
  std::uint64_t bytes_ = 0;
};

// Reads `length` bytes in chunks, so that what is allocated follows what arrives.
Result<Bytes> read_body(std::istream& in, std::uint64_t length) {
  Bytes body;
  while (body.size() < length) {
    const auto chunk = static_cast<std::size_t>(std::min<std::uint64_t>(kReadChunkBytes, length - body.size()));
    const std::size_t before = body.size();
    body.resize(before + chunk);
    in.read(body.data() + before, static_cast<std::streamsize>(chunk));
    const auto got = static_cast<std::size_t>(in.gcount());
    if (got != chunk) {
      return Error{"kv snapshot is truncated: its body of " + std::to_string(length) + " bytes ends after " +
                   std::to_string(before + got)};
    }
  }
  return body;
}

KvState decode_body(BytesView body) {
  PayloadBuffer buffer(body);
  BoundedIArchive ia(buffer);
  KvState state;
  ia >> state.revision;
  collection_size_type count;
  ia >> count;  // BoundedIArchive: at most the bytes left
  for (std::size_t i = 0; i < count; ++i) {
    Bytes key;
    KvRecord record;
    ia >> key >> record.value >> record.version >> record.create_revision >> record.mod_revision;
    if (!state.keys.empty() && !(state.keys.rbegin()->first < key)) {
      throw DecodeError("key " + std::to_string(i) + " does not follow the key before it (keys must be in " +
                        "strictly increasing order)");
    }
    state.keys.emplace_hint(state.keys.end(), std::move(key), std::move(record));
  }
  if (ia.remaining() != 0) throw DecodeError(std::to_string(ia.remaining()) + " bytes left over after the last key");
  return state;
}

Result<KvState> decode_body_guarded(BytesView body) {
  return guarded_decode<KvState>("kv snapshot body of " + std::to_string(body.size()) + " bytes",
                                 [&] { return decode_body(body); });
}

}  // namespace

void write_snapshot(std::ostream& out, const KvState& state) {
  const std::uint64_t length = body_bytes(state);
  out.write(kMagic.data(), static_cast<std::streamsize>(kMagic.size()));
  put_le(out, kSnapshotFormatVersion, 4);
  put_le(out, length, 8);
  CrcSink sink(out);
  try {
    boost::archive::binary_oarchive oa(sink, BoundedIArchive::kFlags);
    oa << state.revision;
    const collection_size_type count(state.keys.size());
    oa << count;
    for (const auto& [key, record] : state.keys) {
      oa << key << record.value << record.version << record.create_revision << record.mod_revision;
    }
  } catch (const boost::archive::archive_exception&) {
    // A short write: the stream already says so.
    out.setstate(std::ios::failbit);
    return;
  }
  // body_bytes() must describe the archive's layout exactly, or the snapshot
  // could not be read back.
  assert(!out || sink.bytes() == length);
  put_le(out, sink.crc(), 4);
}

Result<KvState> read_snapshot(std::istream& in) {
  char magic[kMagic.size()] = {};
  if (!in.read(magic, sizeof magic)) return Error{"kv snapshot is truncated in its header"};
  if (std::string_view(magic, sizeof magic) != kMagic) {
    return Error{"not a kv snapshot (it does not start with \"synod-kv\")"};
  }
  std::uint64_t format = 0;
  std::uint64_t length = 0;
  if (!get_le(in, 4, format) || !get_le(in, 8, length)) return Error{"kv snapshot is truncated in its header"};
  if (format != kSnapshotFormatVersion) {
    return Error{"kv snapshot format " + std::to_string(format) + " is not one this node knows (" +
                 std::to_string(kSnapshotFormatVersion) + "); was it written by a newer synod?"};
  }
  Result<Bytes> body = read_body(in, length);
  if (!body) return body.error();
  std::uint64_t crc = 0;
  if (!get_le(in, 4, crc)) return Error{"kv snapshot is truncated in its checksum"};
  if (crc != crc32(*body)) return Error{"kv snapshot is damaged: its body does not match its checksum"};
  Result<KvState> state = decode_body_guarded(*body);
  if (!state) return state;
  if (Status s = check_invariants(*state); !s) return Error{"kv snapshot holds an impossible state: " + s.error().message};
  return state;
}

}  // namespace synod::kv
