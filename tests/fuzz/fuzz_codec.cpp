// Fuzz target for the message and record codec, which decodes payloads from
// peers (Paxos and RSM messages) and records from disk.
//
// Input (inputs.h): [kind] then a record's bytes, or a message's frame type
// (u16 little-endian) and payload. A message goes to the decoder its type
// belongs to (is_rsm_type); the other decoder must refuse it. Every input is
// checked for:
//  1. Determinism: decoding twice gives the same value or the same error.
//  2. Only valid values come out: node ids, views and proposal numbers in a
//     decoded value pass their own validation, an Append stays within the
//     entry and op bounds, and a message's body is the one its type names.
//  3. Exact round trip: the encoding has no slack (fixed-width integers,
//     exact lengths, bools as 0 or 1, nothing left over), so a decoded value
//     re-encodes to exactly its input and decodes again to an equal value;
//     one byte less or one byte more is refused.
//  4. Bounds: a refusal is a short sentence, and no single allocation exceeds
//     a constant plus 8 times the input (vector growth over 32-byte strings
//     read from at least 8 bytes each, or over 64-byte log entries read from
//     at least 40), whatever a length or count field says.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "alloc_probe.h"
#include "check.h"
#include "common/ids.h"
#include "common/proposal_number.h"
#include "common/result.h"
#include "common/view.h"
#include "inputs.h"
#include "net/codec.h"
#include "paxos/messages.h"
#include "paxos/records.h"
#include "rsm/messages.h"

namespace synod::fuzz {
namespace {

// Boost's archive allocates a few small tables per decode; error sentences
// are short.
constexpr std::size_t kAllocationSlackBytes = 4096;
constexpr std::size_t kAllocationBytesPerInputByte = 8;
constexpr std::size_t kErrorSentenceBytesMax = 512;

// --- The positive space: what any decoded value must satisfy, checked with
// the common types' own validation rather than the codec's.

bool valid(const NodeId& id) { return validate_node_id(id).ok(); }
bool valid(const View& v) { return v.validate().ok(); }
bool valid(const std::optional<View>& v) { return !v || valid(*v); }
// The zero number ("nothing yet") is the only one without a node.
bool valid(const ProposalNumber& n) { return n.node.empty() ? n.round == 0 : valid(n.node); }

bool valid(const paxos::Prepare& b) { return valid(b.n); }
bool valid(const paxos::Promise& b) {
  return valid(b.n) && valid(b.accepted_n) && valid(b.accepted_value);
}
bool valid(const paxos::Accept& b) { return valid(b.n) && valid(b.value); }
bool valid(const paxos::Accepted& b) { return valid(b.n); }
bool valid(const paxos::Reject& b) { return valid(b.n) && valid(b.promised); }
bool valid(const paxos::Decided& b) { return valid(b.value); }
bool valid(const paxos::Learn&) { return true; }

bool valid(const rsm::Append& b) {
  return b.entries.size() <= net::kAppendEntriesMax &&
         std::all_of(b.entries.begin(), b.entries.end(),
                     [](const rsm::LogEntry& e) { return e.op.size() <= net::kOpBytesMax; });
}
bool valid(const rsm::AppendAck&) { return true; }
bool valid(const rsm::AppendGap&) { return true; }
bool valid(const rsm::ReadConfirm&) { return true; }
bool valid(const rsm::ReadConfirmAck&) { return true; }
bool valid(const rsm::SnapshotChunk& b) {
  return b.data.size() <= net::kSnapshotChunkBytesMax && b.offset <= b.total_bytes &&
         b.data.size() <= b.total_bytes - b.offset;
}
bool valid(const rsm::SnapshotAck&) { return true; }
bool valid(const rsm::RebuildRequest&) { return true; }
bool valid(const rsm::RebuildDone&) { return true; }
bool valid(const rsm::SnapshotServe& b) { return valid(b.to); }

template <class Message>
bool valid_message(const Message& m) {
  return valid(m.from) && valid(m.to) &&
         std::visit([](const auto& body) { return valid(body); }, m.body);
}
bool valid(const paxos::Message& m) { return valid_message(m); }
bool valid(const rsm::Message& m) { return valid_message(m); }

bool valid(const paxos::AcceptorRecord& r) {
  return valid(r.state.promised) && valid(r.state.accepted_n) && valid(r.state.accepted_value);
}
bool valid(const paxos::DecidedRecord& r) { return valid(r.value); }
bool valid(const paxos::RoundRecord&) { return true; }

bool valid(const paxos::Write& w) {
  return std::visit([](const auto& r) { return valid(r); }, w);
}

// --- Checks shared by messages and records.

template <class T>
bool same_outcome(const Result<T>& a, const Result<T>& b) {
  if (a.ok() != b.ok()) return false;
  return a.ok() ? *a == *b : a.error().message == b.error().message;
}

template <class T>
void check_refusal(const Result<T>& decoded) {
  const std::string& sentence = decoded.error().message;
  SYNOD_FUZZ_CHECK(!sentence.empty() && sentence.size() <= kErrorSentenceBytesMax,
                   "refusal of " + std::to_string(sentence.size()) +
                       " bytes: " + sentence.substr(0, 2 * kErrorSentenceBytesMax));
}

void check_allocation(std::size_t largest_bytes, std::size_t input_bytes) {
  SYNOD_FUZZ_CHECK(
      largest_bytes <= kAllocationSlackBytes + kAllocationBytesPerInputByte * input_bytes,
      "decoding " + std::to_string(input_bytes) + " bytes allocated " +
          std::to_string(largest_bytes) + " bytes at once");
}

// Decodes `bytes` with decode(bytes) and checks everything above; encode(value)
// must give back the bytes.
template <class T, class Decode, class Encode>
void check_input(BytesView bytes, Decode&& decode, Encode&& encode) {
  std::size_t largest_bytes = 0;
  const Result<T> decoded = measure_allocations(largest_bytes, [&] { return decode(bytes); });
  check_allocation(largest_bytes, bytes.size());
  SYNOD_FUZZ_CHECK(same_outcome(decoded, decode(bytes)),
                   "a second decode of the same bytes differs");
  if (!decoded) {
    check_refusal(decoded);
    return;
  }

  const T& value = *decoded;
  SYNOD_FUZZ_CHECK(valid(value), "decoded a value that does not validate");
  const Bytes encoded = encode(value);
  SYNOD_FUZZ_CHECK(encoded == bytes, "decoded value re-encodes to " +
                                         std::to_string(encoded.size()) + " bytes, not to the " +
                                         std::to_string(bytes.size()) + " it came from");
  const Result<T> again = decode(encoded);
  SYNOD_FUZZ_CHECK(again.ok() && *again == value, "re-encoded value does not decode to itself");

  // No slack at the end: every decodable input has at least one byte.
  SYNOD_FUZZ_CHECK(!bytes.empty(), "decoded a value from no bytes");
  SYNOD_FUZZ_CHECK(!decode(bytes.substr(0, bytes.size() - 1)).ok(),
                   "decoded with its last byte cut off");
  SYNOD_FUZZ_CHECK(!decode(Bytes(bytes) + '\0').ok(), "decoded with a byte appended");
}

void check_record(BytesView bytes) {
  check_input<paxos::Write>(
      bytes, [](BytesView b) { return net::decode_record(b); },
      [](const paxos::Write& w) { return net::encode_record(w); });
}

// Message is paxos::Message or rsm::Message; its types start at first_type.
template <class Message, class Decode>
void check_message_of(std::uint16_t type, BytesView payload, std::size_t first_type,
                      Decode&& decode) {
  check_input<Message>(
      payload, [type, &decode](BytesView b) { return decode(type, b); },
      [type, first_type](const Message& m) {
        net::EncodedMessage e = net::encode_message(m);
        // The type names the body: a payload that decodes under one type
        // re-encodes under that same type.
        SYNOD_FUZZ_CHECK(
            static_cast<std::uint16_t>(e.type) == type && first_type + m.body.index() == type,
            "payload decoded under type " + std::to_string(type) + " re-encodes as type " +
                std::to_string(static_cast<unsigned>(e.type)));
        return e.payload;
      });
}

void check_message(std::uint16_t type, BytesView payload) {
  constexpr auto kPaxosFirst = static_cast<std::size_t>(net::MessageType::kPaxosPrepare);
  constexpr auto kRsmFirst = static_cast<std::size_t>(net::MessageType::kRsmAppend);
  const auto decode_paxos = [](std::uint16_t t, BytesView b) { return net::decode_message(t, b); };
  const auto decode_rsm = [](std::uint16_t t, BytesView b) {
    return net::decode_rsm_message(t, b);
  };
  if (net::is_rsm_type(type)) {
    check_message_of<rsm::Message>(type, payload, kRsmFirst, decode_rsm);
    SYNOD_FUZZ_CHECK(!decode_paxos(type, payload).ok(),
                     "the Paxos decoder took RSM type " + std::to_string(type));
  } else {
    check_message_of<paxos::Message>(type, payload, kPaxosFirst, decode_paxos);
    SYNOD_FUZZ_CHECK(!decode_rsm(type, payload).ok(),
                     "the RSM decoder took non-RSM type " + std::to_string(type));
  }
}

void check_codec_input(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  const BytesView rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & kCodecKindMessage) == 0) {
    check_record(rest);
    return;
  }
  std::uint16_t type = 0;
  for (std::size_t i = 0; i < std::min<std::size_t>(rest.size(), 2); ++i) {
    type = static_cast<std::uint16_t>(type | (static_cast<unsigned char>(rest[i]) << (8 * i)));
  }
  check_message(type, rest.substr(std::min<std::size_t>(rest.size(), 2)));
}

}  // namespace
}  // namespace synod::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  synod::fuzz::check_codec_input(data, size);
  return 0;
}
