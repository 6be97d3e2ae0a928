#pragma once
// Bytes <-> Paxos messages, RSM peer messages and durable Paxos records. The
// transport puts the type and the payload in a frame; storage keeps records
// as values. Decoding takes input from the network or the disk, so it trusts
// nothing: any malformed input comes back as an Error saying what is wrong,
// never a crash, an abort or an allocation out of proportion to the input.

#include <cstddef>
#include <cstdint>

#include "common/bytes.h"
#include "common/result.h"
#include "paxos/messages.h"
#include "paxos/records.h"
#include "rsm/messages.h"

namespace synod::net {

// On the wire: never renumber, only append. Each protocol's types follow its
// Body variant: a Paxos type is the paxos::Body index plus one, an RSM type is
// kRsmAppend plus the rsm::Body index.
enum class MessageType : std::uint16_t {
  kPaxosPrepare = 1,
  kPaxosPromise,
  kPaxosAccept,
  kPaxosAccepted,
  kPaxosReject,
  kPaxosDecided,
  kPaxosLearn,
  kRsmAppend = 8,
  kRsmAppendAck,
  kRsmAppendGap,
  kRsmReadConfirm,
  kRsmReadConfirmAck,
  kRsmSnapshotChunk,
  kRsmSnapshotAck,
  kRsmRebuildRequest,
  kRsmRebuildDone,
  kRsmSnapshotServe,
};

// Which decoder a frame's type belongs to (false for unknown types).
constexpr bool is_paxos_type(std::uint16_t type) {
  return type >= static_cast<std::uint16_t>(MessageType::kPaxosPrepare) &&
         type <= static_cast<std::uint16_t>(MessageType::kPaxosLearn);
}
constexpr bool is_rsm_type(std::uint16_t type) {
  return type >= static_cast<std::uint16_t>(MessageType::kRsmAppend) &&
         type <= static_cast<std::uint16_t>(MessageType::kRsmSnapshotServe);
}

// What one rsm::Append may carry. The decoder refuses more (the entry count
// before any entry is read); encode_message asserts it in debug builds, so the
// sender keeps its batches (ReplicaConfig::append_entries_max, default 1024)
// and the ops it admits within them. Whatever the bounds, a whole Append must
// still fit in one frame (kFrameBytesMaxDefault, 4 MiB).
inline constexpr std::size_t kAppendEntriesMax = 4096;
inline constexpr std::size_t kOpBytesMax = std::size_t{1} << 20;  // one LogEntry::op
inline constexpr std::size_t kSnapshotChunkBytesMax = std::size_t{1} << 20;  // one SnapshotChunk::data

struct EncodedMessage {
  MessageType type;
  Bytes payload;  // from, to, then the body's fields
};

EncodedMessage encode_message(const paxos::Message& m);
EncodedMessage encode_message(const rsm::Message& m);

// Fails on a type that is not a Paxos one (unknown, or an RSM type), a
// payload that is short, long (bytes left over) or self-contradictory, and on
// a decoded node id or view that does not validate.
Result<paxos::Message> decode_message(std::uint16_t type, BytesView payload);

// The same for the RSM types; also fails on an Append of more than
// kAppendEntriesMax entries or with an op longer than kOpBytesMax.
Result<rsm::Message> decode_rsm_message(std::uint16_t type, BytesView payload);

// One byte of variant index, then the record.
Bytes encode_record(const paxos::Write& w);
Result<paxos::Write> decode_record(BytesView bytes);

}  // namespace synod::net
