#pragma once
// The Boost.Serialization side of the codec: how synod's values are written,
// and BoundedIArchive, the input archive that refuses to trust the wire.
//
// Only .cpp files include this header: it drags in Boost.Serialization, which
// every other header keeps out (fast builds, stable API).
//
// Wire layout is the Boost binary archive with no header and no class info:
// fixed-width native integers, bool as one byte, a string as a size_t length
// then its bytes, a collection as a size_t count then its elements. That is
// native-endian, so codec.cpp pins the platform to little-endian 64-bit.

#include <cstddef>
#include <new>
#include <optional>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <utility>

#include <boost/archive/archive_exception.hpp>
#include <boost/archive/binary_iarchive_impl.hpp>
#include <boost/mpl/int.hpp>
#include <boost/mpl/integral_c_tag.hpp>
#include <boost/serialization/collection_size_type.hpp>
#include <boost/serialization/level.hpp>
#include <boost/serialization/split_free.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/tracking.hpp>

#include "common/bytes.h"
#include "common/ids.h"
#include "common/proposal_number.h"
#include "common/result.h"
#include "common/view.h"
#include "net/codec.h"
#include "paxos/messages.h"
#include "paxos/records.h"
#include "rsm/messages.h"

namespace synod::net {

// Thrown by BoundedIArchive when the input contradicts itself. Boost's archive
// API reports failure only by throwing; codec.cpp turns every throw into an
// Error value at its boundary, so this never leaves the net layer.
class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A read-only get area over bytes the caller owns (no copy), which can say how
// many bytes are left: the one number a length from the wire is checked against.
class PayloadBuffer : public std::streambuf {
 public:
  explicit PayloadBuffer(BytesView bytes) {
    // std::streambuf wants char*, but nothing in the get area is ever written:
    // reads only advance gptr(), and putback is not supported (pbackfail fails).
    char* begin = const_cast<char*>(bytes.data());
    setg(begin, begin, begin + bytes.size());
  }
  std::size_t remaining() const { return static_cast<std::size_t>(egptr() - gptr()); }
};

// Boost's binary input archive trusts what it reads: a string load resizes to
// the length field before reading, and a collection load sizes itself by the
// count field, so a 100-byte payload could demand gigabytes. This archive
// checks every length and count against the bytes still unread BEFORE anything
// is sized by it (so what a decode allocates stays proportional to the
// payload), and refuses a bool byte other than 0 or 1 (a bool holding any
// other value is undefined behaviour).
//
// Derived from binary_iarchive_impl, as Boost asks of extensions; the template
// members Boost keeps out of line are instantiated in bounded_iarchive.cpp.
class BoundedIArchive
    : public boost::archive::binary_iarchive_impl<BoundedIArchive, char, std::char_traits<char>> {
  using Base = boost::archive::binary_iarchive_impl<BoundedIArchive, char, std::char_traits<char>>;

 public:
  // Always headerless and without a locale: the frame carries the version.
  static constexpr unsigned kFlags = boost::archive::no_header | boost::archive::no_codecvt;

  explicit BoundedIArchive(PayloadBuffer& buffer);

  std::size_t remaining() const { return buffer_.remaining(); }

 private:
  // Boost reaches the load functions below through these classes.
  friend class boost::archive::detail::interface_iarchive<BoundedIArchive>;
  friend class boost::archive::basic_binary_iarchive<BoundedIArchive>;
  friend class boost::archive::basic_binary_iprimitive<BoundedIArchive, char,
                                                       std::char_traits<char>>;
  friend class boost::archive::load_access;

  // The checked overloads hide the base's trusting ones of the same signature.
  using Base::load;
  void load(bool& b);
  void load(std::string& s);

  template <class T>
  void load_override(T& t) {
    Base::load_override(t);
  }
  void load_override(boost::serialization::collection_size_type& count);

  // Throws unless `needed` bytes are still unread; `what` names the field.
  void require(std::uint64_t needed, const char* what) const;

  PayloadBuffer& buffer_;
};

// Appends whatever an output archive writes to `out`.
class BytesSink : public std::streambuf {
 public:
  explicit BytesSink(Bytes& out) : out_(out) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_.append(s, static_cast<std::size_t>(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof())) out_.push_back(traits_type::to_char_type(c));
    return traits_type::not_eof(c);
  }

 private:
  Bytes& out_;
};

// Runs a decode and turns every way it can throw into an Error: the one
// boundary where Boost's exceptions become values. `what` says what was
// being decoded, for the message.
template <class T, class Decode>
Result<T> guarded_decode(const std::string& what, Decode&& decode) {
  try {
    return decode();
  } catch (const DecodeError& e) {
    return Error{what + ": " + e.what()};
  } catch (const boost::archive::archive_exception& e) {
    if (e.code == boost::archive::archive_exception::input_stream_error) {
      return Error{what + ": the bytes end in the middle of a field (truncated)"};
    }
    return Error{what + ": " + e.what()};
  } catch (const std::bad_alloc&) {
    // Unreachable while BoundedIArchive bounds every size by the input.
    return Error{what + ": out of memory while decoding"};
  } catch (const std::exception& e) {
    return Error{what + ": " + e.what()};
  }
}

}  // namespace synod::net

namespace boost::serialization {

// std::optional (Boost 1.74 has no adapter): a presence bool, then the value.
template <class T>
struct implementation_level_impl<const std::optional<T>> {
  typedef mpl::integral_c_tag tag;
  typedef mpl::int_<object_serializable> type;
  BOOST_STATIC_CONSTANT(int, value = type::value);
};

template <class T>
struct tracking_level<std::optional<T>> {
  typedef mpl::integral_c_tag tag;
  typedef mpl::int_<track_never> type;
  BOOST_STATIC_CONSTANT(int, value = type::value);
};

template <class Archive, class T>
void save(Archive& ar, const std::optional<T>& o, unsigned /*version*/) {
  const bool present = o.has_value();
  ar << present;
  if (present) ar << *o;
}

template <class Archive, class T>
void load(Archive& ar, std::optional<T>& o, unsigned /*version*/) {
  bool present = false;
  ar >> present;
  if (!present) {
    o.reset();
    return;
  }
  T value;
  ar >> value;
  o = std::move(value);
}

template <class Archive, class T>
void serialize(Archive& ar, std::optional<T>& o, unsigned version) {
  split_free(ar, o, version);
}

// Common value types.

template <class Archive>
void serialize(Archive& ar, synod::Viewstamp& vs, unsigned /*version*/) {
  ar& vs.vid& vs.seq;
}

template <class Archive>
void serialize(Archive& ar, synod::ProposalNumber& n, unsigned /*version*/) {
  ar& n.round& n.node;
}

// The backups go as a counted sequence written by hand rather than through
// boost/serialization/vector.hpp, which would add class info for std::vector;
// the count still passes through BoundedIArchive's check.
template <class Archive>
void save(Archive& ar, const synod::View& v, unsigned /*version*/) {
  ar << v.vid << v.primary;
  const collection_size_type count(v.backups.size());
  ar << count;
  for (const synod::NodeId& b : v.backups) ar << b;
}

template <class Archive>
void load(Archive& ar, synod::View& v, unsigned /*version*/) {
  ar >> v.vid >> v.primary;
  collection_size_type count;
  ar >> count;
  // No reserve(count): the vector grows only with elements actually read.
  v.backups.clear();
  for (std::size_t i = 0; i < count; ++i) {
    synod::NodeId b;
    ar >> b;
    v.backups.push_back(std::move(b));
  }
}

template <class Archive>
void serialize(Archive& ar, synod::View& v, unsigned version) {
  split_free(ar, v, version);
}

// Paxos messages. The sender and receiver ids are written by the codec around
// these bodies; the body type travels in the frame, not in the payload.

template <class Archive>
void serialize(Archive& ar, synod::paxos::Prepare& m, unsigned /*version*/) {
  ar& m.instance& m.n;
}

template <class Archive>
void serialize(Archive& ar, synod::paxos::Promise& m, unsigned /*version*/) {
  ar& m.instance& m.n& m.accepted_n& m.accepted_value& m.log_position;
}

template <class Archive>
void serialize(Archive& ar, synod::paxos::Accept& m, unsigned /*version*/) {
  ar& m.instance& m.n& m.value;
}

template <class Archive>
void serialize(Archive& ar, synod::paxos::Accepted& m, unsigned /*version*/) {
  ar& m.instance& m.n;
}

template <class Archive>
void serialize(Archive& ar, synod::paxos::Reject& m, unsigned /*version*/) {
  ar& m.instance& m.n& m.promised;
}

template <class Archive>
void serialize(Archive& ar, synod::paxos::Decided& m, unsigned /*version*/) {
  ar& m.instance& m.value;
}

template <class Archive>
void serialize(Archive& ar, synod::paxos::Learn& m, unsigned /*version*/) {
  ar& m.instance;
}

// RSM peer messages. Like the Paxos bodies, the sender and receiver ids are
// written around them by the codec.

template <class Archive>
void serialize(Archive& ar, synod::rsm::LogEntry& e, unsigned /*version*/) {
  ar& e.vs& e.client_id& e.request_no& e.op;
}

// The entries go as a counted sequence written by hand, as a View's backups.
template <class Archive>
void save(Archive& ar, const synod::rsm::Append& m, unsigned /*version*/) {
  ar << m.vid << m.prev;
  const collection_size_type count(m.entries.size());
  ar << count;
  for (const synod::rsm::LogEntry& e : m.entries) ar << e;
  ar << m.commit;
}

template <class Archive>
void load(Archive& ar, synod::rsm::Append& m, unsigned /*version*/) {
  ar >> m.vid >> m.prev;
  collection_size_type count;
  ar >> count;  // BoundedIArchive: at most the bytes left
  // Refused before a single entry is read, however many bytes follow.
  if (count > synod::net::kAppendEntriesMax) {
    throw synod::net::DecodeError("entry count " + std::to_string(count) + " exceeds the " +
                                  std::to_string(synod::net::kAppendEntriesMax) +
                                  " entries one Append may carry");
  }
  // No reserve(count): the vector grows only with entries actually read.
  m.entries.clear();
  for (std::size_t i = 0; i < count; ++i) {
    synod::rsm::LogEntry e;
    ar >> e;
    m.entries.push_back(std::move(e));
  }
  ar >> m.commit;
}

template <class Archive>
void serialize(Archive& ar, synod::rsm::Append& m, unsigned version) {
  split_free(ar, m, version);
}

template <class Archive>
void serialize(Archive& ar, synod::rsm::AppendAck& m, unsigned /*version*/) {
  ar& m.vid& m.durable& m.snapshot;
}

template <class Archive>
void serialize(Archive& ar, synod::rsm::AppendGap& m, unsigned /*version*/) {
  ar& m.vid& m.last;
}

template <class Archive>
void serialize(Archive& ar, synod::rsm::ReadConfirm& m, unsigned /*version*/) {
  ar& m.vid& m.round;
}

template <class Archive>
void serialize(Archive& ar, synod::rsm::ReadConfirmAck& m, unsigned /*version*/) {
  ar& m.vid& m.round;
}

template <class Archive>
void serialize(Archive& ar, synod::rsm::SnapshotChunk& m, unsigned /*version*/) {
  ar& m.vid& m.through& m.total_bytes& m.snapshot_crc& m.offset& m.data& m.data_crc;
}

template <class Archive>
void serialize(Archive& ar, synod::rsm::SnapshotAck& m, unsigned /*version*/) {
  ar& m.vid& m.through& m.received& m.installed;
}

template <class Archive>
void serialize(Archive& ar, synod::rsm::RebuildRequest& m, unsigned /*version*/) {
  ar& m.vid& m.rebuild_id;
}

template <class Archive>
void serialize(Archive& ar, synod::rsm::RebuildDone& m, unsigned /*version*/) {
  ar& m.vid& m.readmitted_in& m.rebuild_id;
}

template <class Archive>
void serialize(Archive& ar, synod::rsm::SnapshotServe& m, unsigned /*version*/) {
  ar& m.vid& m.to;
}

// Durable Paxos records.

template <class Archive>
void serialize(Archive& ar, synod::paxos::AcceptorState& s, unsigned /*version*/) {
  ar& s.promised& s.accepted_n& s.accepted_value;
}

template <class Archive>
void serialize(Archive& ar, synod::paxos::AcceptorRecord& r, unsigned /*version*/) {
  ar& r.instance& r.state;
}

template <class Archive>
void serialize(Archive& ar, synod::paxos::DecidedRecord& r, unsigned /*version*/) {
  ar& r.instance& r.value;
}

template <class Archive>
void serialize(Archive& ar, synod::paxos::RoundRecord& r, unsigned /*version*/) {
  ar& r.round;
}

}  // namespace boost::serialization

// No class id, version or tracking bytes for any of them: the layout above is
// the whole payload, and the frame's version field covers format changes.
#define SYNOD_PLAIN_SERIALIZABLE(T)                                        \
  BOOST_CLASS_IMPLEMENTATION(T, boost::serialization::object_serializable) \
  BOOST_CLASS_TRACKING(T, boost::serialization::track_never)

SYNOD_PLAIN_SERIALIZABLE(synod::Viewstamp)
SYNOD_PLAIN_SERIALIZABLE(synod::ProposalNumber)
SYNOD_PLAIN_SERIALIZABLE(synod::View)
SYNOD_PLAIN_SERIALIZABLE(synod::paxos::Prepare)
SYNOD_PLAIN_SERIALIZABLE(synod::paxos::Promise)
SYNOD_PLAIN_SERIALIZABLE(synod::paxos::Accept)
SYNOD_PLAIN_SERIALIZABLE(synod::paxos::Accepted)
SYNOD_PLAIN_SERIALIZABLE(synod::paxos::Reject)
SYNOD_PLAIN_SERIALIZABLE(synod::paxos::Decided)
SYNOD_PLAIN_SERIALIZABLE(synod::paxos::Learn)
SYNOD_PLAIN_SERIALIZABLE(synod::rsm::LogEntry)
SYNOD_PLAIN_SERIALIZABLE(synod::rsm::Append)
SYNOD_PLAIN_SERIALIZABLE(synod::rsm::AppendAck)
SYNOD_PLAIN_SERIALIZABLE(synod::rsm::AppendGap)
SYNOD_PLAIN_SERIALIZABLE(synod::rsm::ReadConfirm)
SYNOD_PLAIN_SERIALIZABLE(synod::rsm::ReadConfirmAck)
SYNOD_PLAIN_SERIALIZABLE(synod::rsm::SnapshotChunk)
SYNOD_PLAIN_SERIALIZABLE(synod::rsm::SnapshotAck)
SYNOD_PLAIN_SERIALIZABLE(synod::rsm::RebuildRequest)
SYNOD_PLAIN_SERIALIZABLE(synod::rsm::RebuildDone)
SYNOD_PLAIN_SERIALIZABLE(synod::rsm::SnapshotServe)
SYNOD_PLAIN_SERIALIZABLE(synod::paxos::AcceptorState)
SYNOD_PLAIN_SERIALIZABLE(synod::paxos::AcceptorRecord)
SYNOD_PLAIN_SERIALIZABLE(synod::paxos::DecidedRecord)
SYNOD_PLAIN_SERIALIZABLE(synod::paxos::RoundRecord)

#undef SYNOD_PLAIN_SERIALIZABLE
