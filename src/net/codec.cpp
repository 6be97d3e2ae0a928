#include "net/codec.h"

#include <bit>
#include <cassert>
#include <cstddef>
#include <exception>
#include <initializer_list>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include <boost/archive/archive_exception.hpp>
#include <boost/archive/binary_oarchive.hpp>

#include "net/serialize.h"

namespace synod::net {
namespace {

// The binary archive writes integers in native byte order and size_t-wide
// lengths; pinning the platform makes that one fixed format on every node.
static_assert(std::endian::native == std::endian::little, "the wire format is little-endian");
static_assert(sizeof(std::size_t) == 8, "the wire format has 64-bit lengths");

// A protocol's types are its first type plus the body's variant index.
constexpr auto kPaxosTypeFirst = static_cast<std::size_t>(MessageType::kPaxosPrepare);
constexpr auto kRsmTypeFirst = static_cast<std::size_t>(MessageType::kRsmAppend);
constexpr auto kTypeLast = static_cast<std::size_t>(MessageType::kRsmSnapshotServe);

template <MessageType type, class Body>
constexpr bool kTypeIs = std::is_same_v<
    std::variant_alternative_t<static_cast<std::size_t>(type) - kPaxosTypeFirst, paxos::Body>,
    Body>;
static_assert(kTypeIs<MessageType::kPaxosPrepare, paxos::Prepare>);
static_assert(kTypeIs<MessageType::kPaxosPromise, paxos::Promise>);
static_assert(kTypeIs<MessageType::kPaxosAccept, paxos::Accept>);
static_assert(kTypeIs<MessageType::kPaxosAccepted, paxos::Accepted>);
static_assert(kTypeIs<MessageType::kPaxosReject, paxos::Reject>);
static_assert(kTypeIs<MessageType::kPaxosDecided, paxos::Decided>);
static_assert(kTypeIs<MessageType::kPaxosLearn, paxos::Learn>);
static_assert(std::variant_size_v<paxos::Body> == 7, "a new body needs a MessageType");

template <MessageType type, class Body>
constexpr bool kRsmTypeIs = std::is_same_v<
    std::variant_alternative_t<static_cast<std::size_t>(type) - kRsmTypeFirst, rsm::Body>, Body>;
static_assert(kRsmTypeIs<MessageType::kRsmAppend, rsm::Append>);
static_assert(kRsmTypeIs<MessageType::kRsmAppendAck, rsm::AppendAck>);
static_assert(kRsmTypeIs<MessageType::kRsmAppendGap, rsm::AppendGap>);
static_assert(kRsmTypeIs<MessageType::kRsmReadConfirm, rsm::ReadConfirm>);
static_assert(kRsmTypeIs<MessageType::kRsmReadConfirmAck, rsm::ReadConfirmAck>);
static_assert(kRsmTypeIs<MessageType::kRsmSnapshotChunk, rsm::SnapshotChunk>);
static_assert(kRsmTypeIs<MessageType::kRsmSnapshotAck, rsm::SnapshotAck>);
static_assert(kRsmTypeIs<MessageType::kRsmRebuildRequest, rsm::RebuildRequest>);
static_assert(kRsmTypeIs<MessageType::kRsmRebuildDone, rsm::RebuildDone>);
static_assert(kRsmTypeIs<MessageType::kRsmSnapshotServe, rsm::SnapshotServe>);
static_assert(std::variant_size_v<rsm::Body> == 10,
              "a new RSM body needs a MessageType (appended after the last one)");
// The Paxos types end where the RSM ones begin, and is_*_type agree with both.
static_assert(kPaxosTypeFirst + std::variant_size_v<paxos::Body> == kRsmTypeFirst);
static_assert(kRsmTypeFirst + std::variant_size_v<rsm::Body> - 1 == kTypeLast);
static_assert(is_paxos_type(kPaxosTypeFirst) && is_paxos_type(kRsmTypeFirst - 1) &&
              !is_paxos_type(kPaxosTypeFirst - 1) && !is_paxos_type(kRsmTypeFirst));
static_assert(is_rsm_type(kRsmTypeFirst) && is_rsm_type(kTypeLast) &&
              !is_rsm_type(kRsmTypeFirst - 1) && !is_rsm_type(kTypeLast + 1));

// A record's kind byte is its index in paxos::Write; decode_record's switch
// follows this order.
static_assert(std::is_same_v<std::variant_alternative_t<0, paxos::Write>, paxos::AcceptorRecord>);
static_assert(std::is_same_v<std::variant_alternative_t<1, paxos::Write>, paxos::DecidedRecord>);
static_assert(std::is_same_v<std::variant_alternative_t<2, paxos::Write>, paxos::RoundRecord>);
static_assert(std::variant_size_v<paxos::Write> == 3, "a new record needs a case in decode_record");


template <class WriteFields>
Bytes write_bytes(WriteFields&& write_fields) {
  Bytes out;
  {
    BytesSink sink(out);
    boost::archive::binary_oarchive oa(sink, BoundedIArchive::kFlags);
    write_fields(oa);
  }  // the archive is done with the sink before `out` is returned
  return out;
}

// --- What a decoded value must satisfy (and an encoded one, in debug builds).

Status first_error(std::initializer_list<Status> checks) {
  for (const Status& s : checks) {
    if (!s) return s;
  }
  return Status::Ok();
}

Status check_node(const NodeId& id, const char* field) {
  if (Status s = validate_node_id(id); !s)
    return Error{std::string(field) + ": " + s.error().message};
  return Status::Ok();
}

// The zero number ("nothing promised or accepted yet") names no node.
Status check_number(const ProposalNumber& n, const char* field) {
  if (n.is_zero() && n.node.empty()) return Status::Ok();
  return check_node(n.node, field);
}

Status check_view(const View& v, const char* field) {
  if (Status s = v.validate(); !s) return Error{std::string(field) + ": " + s.error().message};
  return Status::Ok();
}

Status check_view(const std::optional<View>& v, const char* field) {
  return v ? check_view(*v, field) : Status::Ok();
}

Status check_body(const paxos::Prepare& m) { return check_number(m.n, "proposal number"); }
Status check_body(const paxos::Promise& m) {
  return first_error({check_number(m.n, "proposal number"),
                      check_number(m.accepted_n, "accepted number"),
                      check_view(m.accepted_value, "accepted value")});
}
Status check_body(const paxos::Accept& m) {
  return first_error({check_number(m.n, "proposal number"), check_view(m.value, "value")});
}
Status check_body(const paxos::Accepted& m) { return check_number(m.n, "proposal number"); }
Status check_body(const paxos::Reject& m) {
  return first_error(
      {check_number(m.n, "proposal number"), check_number(m.promised, "promised number")});
}
Status check_body(const paxos::Decided& m) { return check_view(m.value, "value"); }
Status check_body(const paxos::Learn&) { return Status::Ok(); }

Status check_body(const rsm::Append& m) {
  if (m.entries.size() > kAppendEntriesMax) {
    return Error{"Append carries " + std::to_string(m.entries.size()) + " entries, more than the " +
                 std::to_string(kAppendEntriesMax) + " one Append may carry"};
  }
  for (std::size_t i = 0; i < m.entries.size(); ++i) {
    const std::size_t op_bytes = m.entries[i].op.size();
    if (op_bytes > kOpBytesMax) {
      return Error{"entry " + std::to_string(i) + " (" + synod::to_string(m.entries[i].vs) +
                   "): op of " + std::to_string(op_bytes) + " bytes exceeds the limit of " +
                   std::to_string(kOpBytesMax)};
    }
  }
  return Status::Ok();
}
Status check_body(const rsm::AppendAck&) { return Status::Ok(); }
Status check_body(const rsm::AppendGap&) { return Status::Ok(); }
Status check_body(const rsm::ReadConfirm&) { return Status::Ok(); }
Status check_body(const rsm::ReadConfirmAck&) { return Status::Ok(); }
Status check_body(const rsm::SnapshotChunk& m) {
  if (m.data.size() > kSnapshotChunkBytesMax) {
    return Error{"SnapshotChunk carries " + std::to_string(m.data.size()) + " bytes, more than the " +
                 std::to_string(kSnapshotChunkBytesMax) + " one chunk may carry"};
  }
  if (m.offset > m.total_bytes || m.data.size() > m.total_bytes - m.offset) {
    return Error{"SnapshotChunk bytes " + std::to_string(m.offset) + "+" + std::to_string(m.data.size()) +
                 " lie beyond its snapshot of " + std::to_string(m.total_bytes) + " bytes"};
  }
  return Status::Ok();
}
Status check_body(const rsm::SnapshotAck&) { return Status::Ok(); }
Status check_body(const rsm::RebuildRequest&) { return Status::Ok(); }
Status check_body(const rsm::RebuildDone&) { return Status::Ok(); }
Status check_body(const rsm::SnapshotServe& m) { return check_node(m.to, "SnapshotServe's follower"); }

template <class Message>
Status check_message(const Message& m) {
  return first_error({check_node(m.from, "sender"), check_node(m.to, "receiver"),
                      std::visit([](const auto& body) { return check_body(body); }, m.body)});
}

Status check_record(const paxos::AcceptorRecord& r) {
  return first_error({check_number(r.state.promised, "promised number"),
                      check_number(r.state.accepted_n, "accepted number"),
                      check_view(r.state.accepted_value, "accepted value")});
}
Status check_record(const paxos::DecidedRecord& r) { return check_view(r.value, "decided value"); }
Status check_record(const paxos::RoundRecord&) { return Status::Ok(); }

Status check_record(const paxos::Write& w) {
  return std::visit([](const auto& r) { return check_record(r); }, w);
}

// --- Decoding.


void require_consumed(const BoundedIArchive& ia) {
  if (ia.remaining() != 0) {
    throw DecodeError(std::to_string(ia.remaining()) + " bytes left over after the end");
  }
}

// Message is paxos::Message or rsm::Message, Body one of its bodies.
template <class Message, class Body>
Result<Message> decode_as(BytesView payload, const char* name) {
  const std::string what =
      std::string(name) + " payload of " + std::to_string(payload.size()) + " bytes";
  Result<Message> decoded = guarded_decode<Message>(what, [&]() -> Message {
    PayloadBuffer buffer(payload);
    BoundedIArchive ia(buffer);
    Message m;
    Body body;
    ia >> m.from >> m.to >> body;
    require_consumed(ia);
    m.body = std::move(body);
    return m;
  });
  if (!decoded) return decoded;
  if (Status s = check_message(*decoded); !s) return Error{what + ": " + s.error().message};
  return decoded;
}

std::string known_types() {
  return "this node knows types " + std::to_string(kPaxosTypeFirst) + " to " +
         std::to_string(kTypeLast);
}

Error unknown_type(std::uint16_t type) {
  return Error{"unknown message type " + std::to_string(type) + " (" + known_types() +
               "); is the peer running a newer synod?"};
}

// A known type handed to the other protocol's decoder: a bug in the caller's
// dispatch, not a bad peer.
Error wrong_protocol(std::uint16_t type, const char* is, const char* wanted) {
  return Error{"message type " + std::to_string(type) + " is " + is + " message, not " + wanted +
               " one (dispatch with is_paxos_type / is_rsm_type)"};
}

template <class Record>
paxos::Write load_record(BoundedIArchive& ia) {
  Record r;
  ia >> r;
  return r;
}

}  // namespace

EncodedMessage encode_message(const paxos::Message& m) {
  assert(check_message(m).ok());
  Bytes payload = write_bytes([&](boost::archive::binary_oarchive& oa) {
    oa << m.from << m.to;
    std::visit([&](const auto& body) { oa << body; }, m.body);
  });
  return EncodedMessage{static_cast<MessageType>(kPaxosTypeFirst + m.body.index()),
                        std::move(payload)};
}

EncodedMessage encode_message(const rsm::Message& m) {
  assert(check_message(m).ok());
  Bytes payload = write_bytes([&](boost::archive::binary_oarchive& oa) {
    oa << m.from << m.to;
    std::visit([&](const auto& body) { oa << body; }, m.body);
  });
  return EncodedMessage{static_cast<MessageType>(kRsmTypeFirst + m.body.index()),
                        std::move(payload)};
}

Result<paxos::Message> decode_message(std::uint16_t type, BytesView payload) {
  switch (static_cast<MessageType>(type)) {
    case MessageType::kPaxosPrepare:
      return decode_as<paxos::Message, paxos::Prepare>(payload, "Prepare");
    case MessageType::kPaxosPromise:
      return decode_as<paxos::Message, paxos::Promise>(payload, "Promise");
    case MessageType::kPaxosAccept:
      return decode_as<paxos::Message, paxos::Accept>(payload, "Accept");
    case MessageType::kPaxosAccepted:
      return decode_as<paxos::Message, paxos::Accepted>(payload, "Accepted");
    case MessageType::kPaxosReject:
      return decode_as<paxos::Message, paxos::Reject>(payload, "Reject");
    case MessageType::kPaxosDecided:
      return decode_as<paxos::Message, paxos::Decided>(payload, "Decided");
    case MessageType::kPaxosLearn:
      return decode_as<paxos::Message, paxos::Learn>(payload, "Learn");
    case MessageType::kRsmAppend:
    case MessageType::kRsmAppendAck:
    case MessageType::kRsmAppendGap:
    case MessageType::kRsmReadConfirm:
    case MessageType::kRsmReadConfirmAck:
    case MessageType::kRsmSnapshotChunk:
    case MessageType::kRsmSnapshotAck:
    case MessageType::kRsmRebuildRequest:
    case MessageType::kRsmRebuildDone:
    case MessageType::kRsmSnapshotServe:
      return wrong_protocol(type, "an RSM", "a Paxos");
  }
  return unknown_type(type);
}

Result<rsm::Message> decode_rsm_message(std::uint16_t type, BytesView payload) {
  switch (static_cast<MessageType>(type)) {
    case MessageType::kRsmAppend:
      return decode_as<rsm::Message, rsm::Append>(payload, "Append");
    case MessageType::kRsmAppendAck:
      return decode_as<rsm::Message, rsm::AppendAck>(payload, "AppendAck");
    case MessageType::kRsmAppendGap:
      return decode_as<rsm::Message, rsm::AppendGap>(payload, "AppendGap");
    case MessageType::kRsmReadConfirm:
      return decode_as<rsm::Message, rsm::ReadConfirm>(payload, "ReadConfirm");
    case MessageType::kRsmReadConfirmAck:
      return decode_as<rsm::Message, rsm::ReadConfirmAck>(payload, "ReadConfirmAck");
    case MessageType::kRsmSnapshotChunk:
      return decode_as<rsm::Message, rsm::SnapshotChunk>(payload, "SnapshotChunk");
    case MessageType::kRsmSnapshotAck:
      return decode_as<rsm::Message, rsm::SnapshotAck>(payload, "SnapshotAck");
    case MessageType::kRsmRebuildRequest:
      return decode_as<rsm::Message, rsm::RebuildRequest>(payload, "RebuildRequest");
    case MessageType::kRsmRebuildDone:
      return decode_as<rsm::Message, rsm::RebuildDone>(payload, "RebuildDone");
    case MessageType::kRsmSnapshotServe:
      return decode_as<rsm::Message, rsm::SnapshotServe>(payload, "SnapshotServe");
    case MessageType::kPaxosPrepare:
    case MessageType::kPaxosPromise:
    case MessageType::kPaxosAccept:
    case MessageType::kPaxosAccepted:
    case MessageType::kPaxosReject:
    case MessageType::kPaxosDecided:
    case MessageType::kPaxosLearn:
      return wrong_protocol(type, "a Paxos", "an RSM");
  }
  return unknown_type(type);
}

Bytes encode_record(const paxos::Write& w) {
  assert(check_record(w).ok());
  return write_bytes([&](boost::archive::binary_oarchive& oa) {
    const auto index = static_cast<std::uint8_t>(w.index());
    oa << index;
    std::visit([&](const auto& record) { oa << record; }, w);
  });
}

Result<paxos::Write> decode_record(BytesView bytes) {
  const std::string what = "record of " + std::to_string(bytes.size()) + " bytes";
  Result<paxos::Write> decoded = guarded_decode<paxos::Write>(what, [&]() -> paxos::Write {
    PayloadBuffer buffer(bytes);
    BoundedIArchive ia(buffer);
    std::uint8_t index = 0;
    ia >> index;
    paxos::Write w;
    switch (index) {
      case 0:
        w = load_record<paxos::AcceptorRecord>(ia);
        break;
      case 1:
        w = load_record<paxos::DecidedRecord>(ia);
        break;
      case 2:
        w = load_record<paxos::RoundRecord>(ia);
        break;
      default:
        throw DecodeError("unknown record kind " + std::to_string(index) +
                          " (this node knows 0 to " +
                          std::to_string(std::variant_size_v<paxos::Write> - 1) + ")");
    }
    require_consumed(ia);
    return w;
  });
  if (!decoded) return decoded;
  if (Status s = check_record(*decoded); !s) return Error{what + ": " + s.error().message};
  return decoded;
}

}  // namespace synod::net
