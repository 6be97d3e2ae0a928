#pragma once
// Bytes <-> Paxos messages and durable records. The transport puts the type
// and the payload in a frame; storage keeps records as values. Decoding takes
// input from the network or the disk, so it trusts nothing: any malformed
// input comes back as an Error saying what is wrong, never a crash, an abort
// or an allocation out of proportion to the input.

#include <cstdint>

#include "common/bytes.h"
#include "common/result.h"
#include "paxos/messages.h"
#include "paxos/records.h"

namespace synod::net {

// On the wire: never renumber, only append. The order follows paxos::Body, so
// a type is the body's variant index plus one.
enum class MessageType : std::uint16_t {
  kPaxosPrepare = 1,
  kPaxosPromise,
  kPaxosAccept,
  kPaxosAccepted,
  kPaxosReject,
  kPaxosDecided,
  kPaxosLearn,
};

struct EncodedMessage {
  MessageType type;
  Bytes payload;  // from, to, then the body's fields
};

EncodedMessage encode_message(const paxos::Message& m);

// Fails on an unknown type, a payload that is short, long (bytes left over)
// or self-contradictory, and on a decoded node id or view that does not
// validate.
Result<paxos::Message> decode_message(std::uint16_t type, BytesView payload);

// One byte of variant index, then the record.
Bytes encode_record(const paxos::Write& w);
Result<paxos::Write> decode_record(BytesView bytes);

}  // namespace synod::net
