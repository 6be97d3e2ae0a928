#pragma once
// What clients and operators say to a synod node, and what it answers: plain
// values here, the hardened codec in client_protocol.cpp. They travel in the
// same frames as peer messages, on the same port, with frame types from
// kClientTypeFirst upward (peer types stay below it; see net/codec.h).
//
// A client does not know the cluster id at first: a node accepts these
// request types with cluster id 0 as well as its own, and answers with its
// own (Transport: TransportOptions::client_types).
//
// Every reply carries the node's current view id and primary (with the
// primary's address when the node knows it), so that a client follows a
// failover from any answer, successful or not.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/bytes.h"
#include "common/ids.h"
#include "common/result.h"

namespace synod::net {

// On the wire: never renumber, only append. A type is kClientTypeFirst plus
// the ClientMessage variant index.
enum class ClientMessageType : std::uint16_t {
  kOpRequest = 64,
  kReadRequest,
  kReply,
  kAdminRequest,
  kAdminReply,
};
inline constexpr std::uint16_t kClientTypeFirst = static_cast<std::uint16_t>(ClientMessageType::kOpRequest);
inline constexpr std::uint16_t kClientTypeLast = static_cast<std::uint16_t>(ClientMessageType::kAdminReply);

constexpr bool is_client_type(std::uint16_t type) { return type >= kClientTypeFirst && type <= kClientTypeLast; }
// The types a node serves (a node never accepts a reply).
constexpr bool is_client_request_type(std::uint16_t type) {
  return type == static_cast<std::uint16_t>(ClientMessageType::kOpRequest) ||
         type == static_cast<std::uint16_t>(ClientMessageType::kReadRequest) ||
         type == static_cast<std::uint16_t>(ClientMessageType::kAdminRequest);
}

// Bounds the decoder enforces (the encoder asserts them in debug builds).
// An op becomes a log entry's op, whose bound is net::kOpBytesMax (1 MiB).
inline constexpr std::size_t kClientOpBytesMax = std::size_t{1} << 20;
// A reply's payload (a query's answer may be larger than an op) must leave
// room in a 4 MiB frame for the rest of the reply.
inline constexpr std::size_t kClientPayloadBytesMax = std::size_t{3} << 20;
inline constexpr std::size_t kClientMessageBytesMax = 4096;  // human-readable text
inline constexpr std::size_t kAddressBytesMax = 300;         // "host:port"
inline constexpr std::size_t kAdminMembersMax = 256;

// A write (an operation the state machine applies). (client_id, request_no)
// names it across retries: a client numbers its requests 1, 2, 3..., has one
// outstanding at a time, and retries with the SAME numbers after a timeout or
// a redirect, so that it is applied at most once. client_id 0 is synod's own.
struct ClientOpRequest {
  std::uint64_t client_id = 0;
  std::uint64_t request_no = 0;
  Bytes op;
  auto operator<=>(const ClientOpRequest&) const = default;
};

// A read: never ordered. With allow_stale any node answers at once from what
// it has applied; otherwise only the primary, linearizably.
struct ClientReadRequest {
  std::uint64_t client_id = 0;
  std::uint64_t read_no = 0;
  Bytes op;
  bool allow_stale = false;
  auto operator<=>(const ClientReadRequest&) const = default;
};

enum class ClientStatus : std::uint8_t {
  kOk = 0,
  kNotPrimary,      // send it to `primary` (at primary_address) instead
  kBusy,            // retry a little later (a view change, a full queue)
  kSessionExpired,  // the client's session ended: the outcome of its earlier requests is unknown
  kError,           // `message` says what is wrong; retrying the same request will not help
};
inline constexpr std::uint8_t kClientStatusLast = static_cast<std::uint8_t>(ClientStatus::kError);
const char* to_string(ClientStatus status);

struct ClientReply {
  std::uint64_t client_id = 0;
  std::uint64_t request_no = 0;     // the request's request_no, or the read's read_no
  bool read = false;                // answers a ClientReadRequest
  ClientStatus status = ClientStatus::kOk;
  std::string message;              // for a person; empty on kOk
  ViewId view = 0;                  // the answering node's current view
  NodeId primary;                   // its primary (empty when unknown)
  std::string primary_address;      // "host:port", empty when the node does not know it
  // Writes: the op's place in the order. Reads: the state answered reflects
  // every op up to here.
  Viewstamp as_of;
  Bytes payload;                    // the state machine's reply
  auto operator<=>(const ClientReply&) const = default;
};

enum class AdminKind : std::uint8_t {
  kStatus = 0,
  kListMembers,
  kAddMember,        // node, address
  kCancelAdd,        // node
  kRemoveMember,     // node
  kTransferPrimary,  // node: hand it the primary role
  kSnapshotNow,      // the answering node snapshots and compacts now
};
inline constexpr std::uint8_t kAdminKindLast = static_cast<std::uint8_t>(AdminKind::kSnapshotNow);

struct AdminRequest {
  std::uint64_t request_id = 0;     // echoed in the reply
  AdminKind kind = AdminKind::kStatus;
  NodeId node;                      // the member to add, cancel or remove; empty otherwise
  std::string address;              // kAddMember: where the new node listens ("host:port")
  auto operator<=>(const AdminRequest&) const = default;
};

enum class NodeRole : std::uint8_t {
  kPrimary = 0,
  kBackup,
  kLearner,      // follows the log but is not a member (being added, or removed)
  kFrozen,       // takes no part in its view: a view change is in progress
  kRebuilding,   // lost its state and is being re-added
};
inline constexpr std::uint8_t kNodeRoleLast = static_cast<std::uint8_t>(NodeRole::kRebuilding);
const char* to_string(NodeRole role);

struct MemberInfo {
  NodeId id;
  std::string address;              // empty when the answering node does not know it
  NodeRole role = NodeRole::kBackup;
  auto operator<=>(const MemberInfo&) const = default;
};

// The answering node's own state (kStatus).
struct NodeStatusInfo {
  NodeId id;
  NodeRole role = NodeRole::kBackup;
  ViewId view = 0;
  Viewstamp last;                   // the last entry of its log (or snapshot)
  Viewstamp commit;                 // its commit point
  auto operator<=>(const NodeStatusInfo&) const = default;
};

struct AdminReply {
  std::uint64_t request_id = 0;
  ClientStatus status = ClientStatus::kOk;
  std::string message;
  ViewId view = 0;
  NodeId primary;
  std::string primary_address;
  std::vector<MemberInfo> members;  // kStatus, kListMembers: the view's members and a learner being added
  std::optional<NodeStatusInfo> node;  // kStatus
  auto operator<=>(const AdminReply&) const = default;
};

using ClientMessage = std::variant<ClientOpRequest, ClientReadRequest, ClientReply, AdminRequest, AdminReply>;

struct EncodedClientMessage {
  ClientMessageType type;
  Bytes payload;
};

EncodedClientMessage encode_client_message(const ClientMessage& m);

// Trusts nothing: fails on a type that is not a client one, a payload that
// is short, long (bytes left over) or self-contradictory, a length beyond
// the bounds above, an enum value out of range, a bool byte other than 0 or
// 1, or a node id that does not validate.
Result<ClientMessage> decode_client_message(std::uint16_t type, BytesView payload);

}  // namespace synod::net
