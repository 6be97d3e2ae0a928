#include "net/client_protocol.h"

#include <bit>
#include <cassert>
#include <exception>
#include <new>
#include <streambuf>
#include <string>
#include <type_traits>
#include <utility>

#include <boost/archive/archive_exception.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/collection_size_type.hpp>

#include "net/codec.h"
#include "net/serialize.h"

namespace synod::net {
namespace {

// The same fixed layout as codec.cpp: little-endian, 64-bit lengths.
static_assert(std::endian::native == std::endian::little, "the wire format is little-endian");
static_assert(sizeof(std::size_t) == 8, "the wire format has 64-bit lengths");
// An op becomes a log entry's op: the peer codec must accept every op we do.
static_assert(kClientOpBytesMax <= kOpBytesMax);
// Client types start where no peer type can reach for a long while.
static_assert(kClientTypeFirst > static_cast<std::uint16_t>(MessageType::kRsmSnapshotServe) + 16);

template <ClientMessageType type, class T>
constexpr bool kClientTypeIs =
    std::is_same_v<std::variant_alternative_t<static_cast<std::size_t>(type) - kClientTypeFirst, ClientMessage>, T>;
static_assert(kClientTypeIs<ClientMessageType::kOpRequest, ClientOpRequest>);
static_assert(kClientTypeIs<ClientMessageType::kReadRequest, ClientReadRequest>);
static_assert(kClientTypeIs<ClientMessageType::kReply, ClientReply>);
static_assert(kClientTypeIs<ClientMessageType::kAdminRequest, AdminRequest>);
static_assert(kClientTypeIs<ClientMessageType::kAdminReply, AdminReply>);
static_assert(std::variant_size_v<ClientMessage> == kClientTypeLast - kClientTypeFirst + 1,
              "a new client message needs a ClientMessageType (appended after the last one)");


using OArchive = boost::archive::binary_oarchive;
using boost::serialization::collection_size_type;

// --- Encoding: every field in declaration order; enums as one byte.

template <class Enum>
void put_enum(OArchive& oa, Enum e) {
  const auto byte = static_cast<std::uint8_t>(e);
  oa << byte;
}

void put(OArchive& oa, const ClientOpRequest& m) { oa << m.client_id << m.request_no << m.op; }

void put(OArchive& oa, const ClientReadRequest& m) { oa << m.client_id << m.read_no << m.op << m.allow_stale; }

void put(OArchive& oa, const ClientReply& m) {
  oa << m.client_id << m.request_no << m.read;
  put_enum(oa, m.status);
  oa << m.message << m.view << m.primary << m.primary_address << m.as_of << m.payload;
}

void put(OArchive& oa, const AdminRequest& m) {
  oa << m.request_id;
  put_enum(oa, m.kind);
  oa << m.node << m.address;
}

void put(OArchive& oa, const AdminReply& m) {
  oa << m.request_id;
  put_enum(oa, m.status);
  oa << m.message << m.view << m.primary << m.primary_address;
  const collection_size_type count(m.members.size());
  oa << count;
  for (const MemberInfo& member : m.members) {
    oa << member.id << member.address;
    put_enum(oa, member.role);
  }
  const bool has_node = m.node.has_value();
  oa << has_node;
  if (has_node) {
    oa << m.node->id;
    put_enum(oa, m.node->role);
    oa << m.node->view << m.node->last << m.node->commit;
  }
}

// --- Decoding.

template <class Enum>
Enum get_enum(BoundedIArchive& ia, std::uint8_t last, const char* field) {
  std::uint8_t byte = 0;
  ia >> byte;
  if (byte > last) {
    throw DecodeError(std::string(field) + " " + std::to_string(byte) + " is not one this node knows (0 to " +
                      std::to_string(last) + ")");
  }
  return static_cast<Enum>(byte);
}

// Checked right after the field is read: the archive already bounded its
// allocation by the bytes left, this bounds what the protocol allows.
void check_length(const std::string& s, std::size_t max, const char* field) {
  if (s.size() > max) {
    throw DecodeError(std::string(field) + " of " + std::to_string(s.size()) + " bytes exceeds the limit of " +
                      std::to_string(max));
  }
}

void check_node(const NodeId& id, const char* field, bool may_be_empty) {
  if (id.empty() && may_be_empty) return;
  if (Status s = validate_node_id(id); !s) throw DecodeError(std::string(field) + ": " + s.error().message);
}

// A string field: length-checked against `max`.
std::string get_text(BoundedIArchive& ia, std::size_t max, const char* field) {
  std::string s;
  ia >> s;
  check_length(s, max, field);
  return s;
}

NodeId get_node(BoundedIArchive& ia, const char* field, bool may_be_empty) {
  NodeId id = get_text(ia, kNodeIdLengthMax, field);
  check_node(id, field, may_be_empty);
  return id;
}

void get(BoundedIArchive& ia, ClientOpRequest& m) {
  ia >> m.client_id >> m.request_no;
  m.op = get_text(ia, kClientOpBytesMax, "op");
}

void get(BoundedIArchive& ia, ClientReadRequest& m) {
  ia >> m.client_id >> m.read_no;
  m.op = get_text(ia, kClientOpBytesMax, "op");
  ia >> m.allow_stale;
}

void get(BoundedIArchive& ia, ClientReply& m) {
  ia >> m.client_id >> m.request_no >> m.read;
  m.status = get_enum<ClientStatus>(ia, kClientStatusLast, "status");
  m.message = get_text(ia, kClientMessageBytesMax, "message");
  ia >> m.view;
  m.primary = get_node(ia, "primary", true);
  m.primary_address = get_text(ia, kAddressBytesMax, "primary address");
  ia >> m.as_of;
  m.payload = get_text(ia, kClientPayloadBytesMax, "payload");
}

void get(BoundedIArchive& ia, AdminRequest& m) {
  ia >> m.request_id;
  m.kind = get_enum<AdminKind>(ia, kAdminKindLast, "admin request kind");
  m.node = get_node(ia, "node", true);
  m.address = get_text(ia, kAddressBytesMax, "address");
}

void get(BoundedIArchive& ia, AdminReply& m) {
  ia >> m.request_id;
  m.status = get_enum<ClientStatus>(ia, kClientStatusLast, "status");
  m.message = get_text(ia, kClientMessageBytesMax, "message");
  ia >> m.view;
  m.primary = get_node(ia, "primary", true);
  m.primary_address = get_text(ia, kAddressBytesMax, "primary address");
  collection_size_type count;
  ia >> count;  // BoundedIArchive: at most the bytes left
  if (count > kAdminMembersMax) {
    throw DecodeError("member count " + std::to_string(count) + " exceeds the limit of " +
                      std::to_string(kAdminMembersMax));
  }
  m.members.clear();
  for (std::size_t i = 0; i < count; ++i) {
    MemberInfo member;
    member.id = get_node(ia, "member", false);
    member.address = get_text(ia, kAddressBytesMax, "member address");
    member.role = get_enum<NodeRole>(ia, kNodeRoleLast, "member role");
    m.members.push_back(std::move(member));
  }
  bool has_node = false;
  ia >> has_node;
  if (!has_node) {
    m.node.reset();
    return;
  }
  NodeStatusInfo node;
  node.id = get_node(ia, "node", false);
  node.role = get_enum<NodeRole>(ia, kNodeRoleLast, "node role");
  ia >> node.view >> node.last >> node.commit;
  m.node = std::move(node);
}

const char* type_name(std::uint16_t type) {
  switch (type) {
    case static_cast<std::uint16_t>(ClientMessageType::kOpRequest): return "ClientOpRequest";
    case static_cast<std::uint16_t>(ClientMessageType::kReadRequest): return "ClientReadRequest";
    case static_cast<std::uint16_t>(ClientMessageType::kReply): return "ClientReply";
    case static_cast<std::uint16_t>(ClientMessageType::kAdminRequest): return "AdminRequest";
    case static_cast<std::uint16_t>(ClientMessageType::kAdminReply): return "AdminReply";
    default: return "?";
  }
}

template <class T>
Result<ClientMessage> decode_as(std::uint16_t type, BytesView payload) {
  const std::string what = std::string(type_name(type)) + " payload of " + std::to_string(payload.size()) + " bytes";
  return guarded_decode<ClientMessage>(what, [&]() -> ClientMessage {
    PayloadBuffer buffer(payload);
    BoundedIArchive ia(buffer);
    T m;
    get(ia, m);
    if (ia.remaining() != 0) {
      throw DecodeError(std::to_string(ia.remaining()) + " bytes left over after the end");
    }
    return ClientMessage{std::move(m)};
  });
}

#ifndef NDEBUG
// What the decoder would refuse, so that a sender's bug shows at its end.
bool within_bounds(const ClientMessage& m) {
  struct Visitor {
    bool operator()(const ClientOpRequest& r) const { return r.op.size() <= kClientOpBytesMax; }
    bool operator()(const ClientReadRequest& r) const { return r.op.size() <= kClientOpBytesMax; }
    bool operator()(const ClientReply& r) const {
      return r.message.size() <= kClientMessageBytesMax && r.primary_address.size() <= kAddressBytesMax &&
             r.payload.size() <= kClientPayloadBytesMax && r.primary.size() <= kNodeIdLengthMax;
    }
    bool operator()(const AdminRequest& r) const {
      return r.address.size() <= kAddressBytesMax && r.node.size() <= kNodeIdLengthMax;
    }
    bool operator()(const AdminReply& r) const {
      return r.message.size() <= kClientMessageBytesMax && r.members.size() <= kAdminMembersMax &&
             r.primary_address.size() <= kAddressBytesMax;
    }
  };
  return std::visit(Visitor{}, m);
}
#endif

}  // namespace

const char* to_string(ClientStatus status) {
  switch (status) {
    case ClientStatus::kOk: return "ok";
    case ClientStatus::kNotPrimary: return "not_primary";
    case ClientStatus::kBusy: return "busy";
    case ClientStatus::kSessionExpired: return "session_expired";
    case ClientStatus::kError: return "error";
  }
  return "unknown";
}

const char* to_string(NodeRole role) {
  switch (role) {
    case NodeRole::kPrimary: return "primary";
    case NodeRole::kBackup: return "backup";
    case NodeRole::kLearner: return "learner";
    case NodeRole::kFrozen: return "frozen";
    case NodeRole::kRebuilding: return "rebuilding";
  }
  return "unknown";
}

EncodedClientMessage encode_client_message(const ClientMessage& m) {
  assert(within_bounds(m));
  Bytes payload;
  {
    BytesSink sink(payload);
    OArchive oa(sink, BoundedIArchive::kFlags);
    std::visit([&](const auto& body) { put(oa, body); }, m);
  }  // the archive is done with the sink before `payload` is returned
  return EncodedClientMessage{static_cast<ClientMessageType>(kClientTypeFirst + m.index()), std::move(payload)};
}

Result<ClientMessage> decode_client_message(std::uint16_t type, BytesView payload) {
  switch (type) {
    case static_cast<std::uint16_t>(ClientMessageType::kOpRequest): return decode_as<ClientOpRequest>(type, payload);
    case static_cast<std::uint16_t>(ClientMessageType::kReadRequest):
      return decode_as<ClientReadRequest>(type, payload);
    case static_cast<std::uint16_t>(ClientMessageType::kReply): return decode_as<ClientReply>(type, payload);
    case static_cast<std::uint16_t>(ClientMessageType::kAdminRequest): return decode_as<AdminRequest>(type, payload);
    case static_cast<std::uint16_t>(ClientMessageType::kAdminReply): return decode_as<AdminReply>(type, payload);
    default:
      return Error{"message type " + std::to_string(type) + " is not a client type (" +
                   std::to_string(kClientTypeFirst) + " to " + std::to_string(kClientTypeLast) + ")"};
  }
}

}  // namespace synod::net
