#include "net/codec.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

// Allocation probe: while armed, remembers the largest single allocation. It
// is how the tests below prove that a lying length field is refused before
// anything is sized by it (a failed 1 TiB malloc would look the same as a
// refusal from the outside).
namespace {
std::atomic<bool> g_probe_armed{false};
std::atomic<std::size_t> g_probe_largest_bytes{0};
}  // namespace

// noinline: inlined into a caller, the free() below trips g++'s
// -Wmismatched-new-delete although the pair matches.
[[gnu::noinline]] void* operator new(std::size_t bytes) {
  if (g_probe_armed.load(std::memory_order_relaxed)) {
    std::size_t seen = g_probe_largest_bytes.load(std::memory_order_relaxed);
    while (bytes > seen && !g_probe_largest_bytes.compare_exchange_weak(seen, bytes)) {
    }
  }
  if (void* p = std::malloc(bytes == 0 ? 1 : bytes)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace synod::net {
namespace {

using paxos::Message;

// Largest allocation made by `f`.
template <class F>
std::size_t largest_allocation_bytes(F&& f) {
  g_probe_largest_bytes = 0;
  g_probe_armed = true;
  f();
  g_probe_armed = false;
  return g_probe_largest_bytes;
}

View view(ViewId vid, NodeId primary, std::vector<NodeId> backups) {
  return View::make(vid, std::move(primary), std::move(backups)).value();
}

// One message of every body type; Promise both with and without a value.
std::vector<Message> sample_messages() {
  const ProposalNumber n{7, "n2"};
  const View v = view(4, "n1", {"n2", "n3"});
  return {
      {"n2", "n1", paxos::Prepare{4, n}},
      {"n1", "n2", paxos::Promise{4, n, {}, std::nullopt}},
      {"n1", "n2", paxos::Promise{4, n, {5, "n3"}, v}},
      {"n1", "n2", paxos::Promise{4, n, {}, std::nullopt, Viewstamp{3, 17}}},
      {"n2", "n3", paxos::Accept{4, n, v}},
      {"n3", "n2", paxos::Accepted{4, n}},
      {"n3", "n2", paxos::Reject{4, n, {9, "n1"}}},
      {"n2", "n1", paxos::Decided{4, view(4, "n1", {})}},
      {"n1", "n3", paxos::Learn{12345678901234ull}},
  };
}

// Every byte value, NUL included: ops are binary, not text.
Bytes all_byte_values() {
  Bytes b;
  for (int i = 0; i < 256; ++i) b.push_back(static_cast<char>(i));
  return b;
}

// One message of every RSM body type, with and without entries.
std::vector<rsm::Message> sample_rsm_messages() {
  using rsm::LogEntry;
  return {
      {"n1", "n2", rsm::Append{3, {3, 7}, {}, {3, 5}}},  // a heartbeat
      {"n1", "n2", rsm::Append{3, {}, {LogEntry{{3, 1}, 0, 0, ""}}, {}}},  // a view's no-op
      {"n1",
       "n3",
       rsm::Append{3,
                   {2, 9},
                   {LogEntry{{3, 1}, 42, 1, "set x 1"}, LogEntry{{3, 2}, 42, 2, all_byte_values()},
                    LogEntry{{3, 3}, ~0ull, ~0ull, Bytes("\0\0\xff\0", 4)}},
                   {3, 2}}},
      {"n2", "n1", rsm::AppendAck{3, {3, 2}, {2, 7}}},
      {"n2", "n1", rsm::AppendAck{1, {}, {}}},
      {"n3", "n1", rsm::AppendGap{3, {2, 9}}},
      {"n3", "n1", rsm::AppendGap{~0ull, {~0ull, ~0ull}}},
      {"n1", "n3", rsm::ReadConfirm{3, 17}},
      {"n3", "n1", rsm::ReadConfirmAck{~0ull, ~0ull}},
      {"n1", "n3", rsm::SnapshotChunk{3, {2, 9}, 6, 0xdeadbeef, 0, Bytes("ab\0\xff", 4), 0x1234}},
      {"n3", "n1", rsm::SnapshotAck{3, {2, 9}, 6, true}},
      {"n3", "n1", rsm::RebuildRequest{3, ~0ull}},
      {"n1", "n3", rsm::RebuildDone{7, 5, 42}},
      {"n1", "n2", rsm::SnapshotServe{7, "n4"}},
  };
}

// An Append of `n` entries, each with a short op of its own.
rsm::Message append_of(std::size_t n) {
  rsm::Append a{5, {4, 2}, {}, {5, 0}};
  for (std::uint64_t i = 1; i <= n; ++i) {
    a.entries.push_back({{5, i}, 1000 + i % 7, i, Bytes(i % 5, static_cast<char>(i))});
  }
  return {"n1", "n2", std::move(a)};
}

// Not rsm::type_name: that lives in synod_rsm, which the codec does not link.
const char* rsm_name(const rsm::Body& body) {
  static constexpr std::array<const char*, 10> kNames = {
      "Append",        "AppendAck",   "AppendGap",      "ReadConfirm", "ReadConfirmAck",
      "SnapshotChunk", "SnapshotAck", "RebuildRequest", "RebuildDone", "SnapshotServe"};
  return kNames.at(body.index());
}

std::vector<paxos::Write> sample_records() {
  const View v = view(2, "a", {"b", "c"});
  return {
      paxos::AcceptorRecord{2, {}},
      paxos::AcceptorRecord{2, {{3, "a"}, {}, std::nullopt}},
      paxos::AcceptorRecord{2, {{3, "a"}, {2, "b"}, v}},
      paxos::DecidedRecord{2, v},
      paxos::RoundRecord{0},
      paxos::RoundRecord{~0ull},
  };
}

// Hand-built payloads, in the wire layout: little-endian u64 integers and
// lengths, a string as length then bytes.
struct Wire {
  Bytes bytes;
  Wire& u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return *this;
  }
  Wire& byte(std::uint8_t b) {
    bytes.push_back(static_cast<char>(b));
    return *this;
  }
  Wire& str(const std::string& s) {
    u64(s.size());
    bytes += s;
    return *this;
  }
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(Codec, RoundTripsEveryMessageType) {
  for (const Message& m : sample_messages()) {
    SCOPED_TRACE(paxos::type_name(m.body));
    EncodedMessage e = encode_message(m);
    EXPECT_EQ(static_cast<std::size_t>(e.type), m.body.index() + 1);
    Result<Message> d = decode_message(static_cast<std::uint16_t>(e.type), e.payload);
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(*d, m);
  }
}

TEST(Codec, RoundTripsEveryRecordType) {
  for (const paxos::Write& w : sample_records()) {
    SCOPED_TRACE(w.index());
    Result<paxos::Write> d = decode_record(encode_record(w));
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(*d, w);
  }
}

TEST(Codec, WritesNoArchiveHeaderOrClassInfo) {
  // Learn is from, to, instance: anything more would be Boost bookkeeping.
  EncodedMessage e = encode_message({"a", "bc", paxos::Learn{1}});
  EXPECT_EQ(e.payload, Wire{}.str("a").str("bc").u64(1).bytes);
  EXPECT_EQ(encode_record(paxos::RoundRecord{5}), Wire{}.byte(2).u64(5).bytes);
}

TEST(Codec, RejectsUnknownMessageType) {
  const Bytes payload = encode_message(sample_messages().front()).payload;
  const Bytes rsm_payload = encode_message(sample_rsm_messages().front()).payload;
  for (std::uint16_t type : {0, 18, 19, 0x100, 0xffff}) {
    Result<Message> d = decode_message(type, payload);
    ASSERT_FALSE(d.ok());
    EXPECT_TRUE(contains(d.error().message, "unknown message type " + std::to_string(type)))
        << d.error().message;
    EXPECT_TRUE(contains(d.error().message, "knows types 1 to 17")) << d.error().message;
    Result<rsm::Message> r = decode_rsm_message(type, rsm_payload);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(contains(r.error().message, "unknown message type " + std::to_string(type)))
        << r.error().message;
  }
}

// The type numbers are the wire format: renumbering one breaks every peer
// running the previous build, so it must break this test first.
TEST(Codec, MessageTypeNumbersArePinned) {
  const auto number = [](MessageType t) { return static_cast<unsigned>(t); };
  EXPECT_EQ(number(MessageType::kPaxosPrepare), 1u);
  EXPECT_EQ(number(MessageType::kPaxosPromise), 2u);
  EXPECT_EQ(number(MessageType::kPaxosAccept), 3u);
  EXPECT_EQ(number(MessageType::kPaxosAccepted), 4u);
  EXPECT_EQ(number(MessageType::kPaxosReject), 5u);
  EXPECT_EQ(number(MessageType::kPaxosDecided), 6u);
  EXPECT_EQ(number(MessageType::kPaxosLearn), 7u);
  EXPECT_EQ(number(MessageType::kRsmAppend), 8u);
  EXPECT_EQ(number(MessageType::kRsmAppendAck), 9u);
  EXPECT_EQ(number(MessageType::kRsmAppendGap), 10u);
  EXPECT_EQ(number(MessageType::kRsmReadConfirm), 11u);
  EXPECT_EQ(number(MessageType::kRsmReadConfirmAck), 12u);
  EXPECT_EQ(number(MessageType::kRsmSnapshotChunk), 13u);
  EXPECT_EQ(number(MessageType::kRsmSnapshotAck), 14u);
  EXPECT_EQ(number(MessageType::kRsmRebuildRequest), 15u);
  EXPECT_EQ(number(MessageType::kRsmRebuildDone), 16u);
  EXPECT_EQ(number(MessageType::kRsmSnapshotServe), 17u);

  // And encode_message puts each body under its number.
  const std::vector<unsigned> rsm_types = {8, 8, 8, 9, 9, 10, 10, 11, 12, 13, 14, 15, 16, 17};
  const std::vector<rsm::Message> samples = sample_rsm_messages();
  ASSERT_EQ(samples.size(), rsm_types.size());
  for (std::size_t i = 0; i < samples.size(); ++i) {
    EXPECT_EQ(number(encode_message(samples[i]).type), rsm_types[i]) << rsm_name(samples[i].body);
  }
}

TEST(Codec, TellsPaxosTypesFromRsmTypes) {
  for (unsigned type = 0; type <= 0xffff; ++type) {
    const auto t = static_cast<std::uint16_t>(type);
    EXPECT_EQ(is_paxos_type(t), type >= 1 && type <= 7) << type;
    EXPECT_EQ(is_rsm_type(t), type >= 8 && type <= 17) << type;
  }
}

TEST(Codec, EachDecoderRefusesTheOtherProtocolsTypes) {
  for (const rsm::Message& m : sample_rsm_messages()) {
    EncodedMessage e = encode_message(m);
    Result<Message> d = decode_message(static_cast<std::uint16_t>(e.type), e.payload);
    ASSERT_FALSE(d.ok());
    EXPECT_TRUE(contains(d.error().message, "is an RSM message, not a Paxos one"))
        << d.error().message;
  }
  for (const Message& m : sample_messages()) {
    EncodedMessage e = encode_message(m);
    Result<rsm::Message> d = decode_rsm_message(static_cast<std::uint16_t>(e.type), e.payload);
    ASSERT_FALSE(d.ok());
    EXPECT_TRUE(contains(d.error().message, "is a Paxos message, not an RSM one"))
        << d.error().message;
  }
}

TEST(Codec, RejectsUnknownRecordKind) {
  Result<paxos::Write> d = decode_record(Wire{}.byte(3).u64(5).bytes);
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "unknown record kind 3")) << d.error().message;
}

TEST(Codec, RejectsEveryTruncation) {
  for (const Message& m : sample_messages()) {
    EncodedMessage e = encode_message(m);
    for (std::size_t len = 0; len < e.payload.size(); ++len) {
      Result<Message> d =
          decode_message(static_cast<std::uint16_t>(e.type), BytesView(e.payload).substr(0, len));
      EXPECT_FALSE(d.ok()) << paxos::type_name(m.body) << " cut to " << len << " bytes decoded";
    }
  }
  for (const paxos::Write& w : sample_records()) {
    const Bytes bytes = encode_record(w);
    for (std::size_t len = 0; len < bytes.size(); ++len) {
      EXPECT_FALSE(decode_record(BytesView(bytes).substr(0, len)).ok())
          << "record " << w.index() << " cut to " << len << " bytes decoded";
    }
  }
}

TEST(Codec, RejectsTrailingBytes) {
  EncodedMessage e = encode_message(sample_messages().front());
  Result<Message> d = decode_message(static_cast<std::uint16_t>(e.type), e.payload + "x");
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "1 bytes left over")) << d.error().message;

  Result<paxos::Write> r = decode_record(encode_record(paxos::RoundRecord{1}) + "xy");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error().message, "2 bytes left over")) << r.error().message;
}

TEST(Codec, SurvivesEverySingleBitFlip) {
  std::size_t decoded = 0;
  std::size_t refused = 0;
  for (const Message& m : sample_messages()) {
    EncodedMessage e = encode_message(m);
    for (std::size_t bit = 0; bit < e.payload.size() * 8; ++bit) {
      Bytes flipped = e.payload;
      flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
      Result<Message> d = decode_message(static_cast<std::uint16_t>(e.type), flipped);
      if (!d.ok()) {
        ++refused;
        continue;
      }
      ++decoded;
      // Whatever decodes is a valid message that encodes back to the same bytes.
      EXPECT_EQ(encode_message(*d).payload, flipped) << paxos::type_name(m.body) << " bit " << bit;
    }
  }
  // Both outcomes occur: flipping a digit of an id decodes, flipping a length does not.
  EXPECT_GT(decoded, 0u);
  EXPECT_GT(refused, 0u);
}

TEST(Codec, RefusesRandomGarbage) {
  const std::uint64_t seed = 20240601;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  constexpr int kPayloads = 10'000;
  constexpr std::size_t kPayloadBytesMax = 256;
  for (int i = 0; i < kPayloads; ++i) {
    Bytes garbage(rng() % (kPayloadBytesMax + 1), '\0');
    for (char& c : garbage) c = static_cast<char>(rng());
    const auto type = static_cast<std::uint16_t>(1 + i % 7);
    EXPECT_FALSE(decode_message(type, garbage).ok())
        << "payload " << i << " decoded as type " << type;
    // Nine random bytes starting with 2 are a genuine RoundRecord, so garbage
    // may decode as a record; if it does, it must be exactly what it encodes to.
    if (Result<paxos::Write> r = decode_record(garbage); r.ok()) {
      EXPECT_EQ(encode_record(*r), garbage) << "payload " << i;
    }
  }
}

TEST(Codec, RefusesStringLengthBeyondPayloadWithoutAllocating) {
  const Bytes payload = Wire{}.u64(std::uint64_t{1} << 40).str("n2").u64(1).bytes;
  Result<Message> d = Error{};
  const std::size_t largest = largest_allocation_bytes(
      [&] { d = decode_message(static_cast<std::uint16_t>(MessageType::kPaxosLearn), payload); });
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "string length 1099511627776 exceeds"))
      << d.error().message;
  EXPECT_LT(largest, 4096u);
}

TEST(Codec, RefusesCollectionCountBeyondPayloadWithoutAllocating) {
  // Decided: from, to, instance, then the view: vid, primary, backup count.
  const Bytes payload = Wire{}
                            .str("n1")
                            .str("n2")
                            .u64(3)
                            .u64(3)
                            .str("n1")
                            .u64(std::uint64_t{1} << 40)
                            .str("n3")
                            .bytes;
  Result<Message> d = Error{};
  const std::size_t largest = largest_allocation_bytes(
      [&] { d = decode_message(static_cast<std::uint16_t>(MessageType::kPaxosDecided), payload); });
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "collection count 1099511627776 exceeds"))
      << d.error().message;
  EXPECT_LT(largest, 4096u);
}

TEST(Codec, RefusesBoolThatIsNeitherZeroNorOne) {
  // Promise: from, to, instance, n, accepted_n, the presence bool of the
  // value, then the log position (two u64).
  Wire w;
  w.str("n1").str("n2").u64(4).u64(7).str("n2").u64(0).str("");
  const Bytes prefix = w.bytes;
  const Bytes log_position(16, '\0');
  ASSERT_TRUE(decode_message(static_cast<std::uint16_t>(MessageType::kPaxosPromise),
                             prefix + '\0' + log_position)
                  .ok());
  Result<Message> d = decode_message(static_cast<std::uint16_t>(MessageType::kPaxosPromise),
                                     prefix + '\7' + log_position);
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "bool byte 7")) << d.error().message;
}

TEST(Codec, RefusesInvalidNodeIdAndInvalidView) {
  const auto learn = static_cast<std::uint16_t>(MessageType::kPaxosLearn);
  Result<Message> bad_sender = decode_message(learn, Wire{}.str("a b").str("n2").u64(1).bytes);
  ASSERT_FALSE(bad_sender.ok());
  EXPECT_TRUE(contains(bad_sender.error().message, "sender")) << bad_sender.error().message;

  const auto decided = static_cast<std::uint16_t>(MessageType::kPaxosDecided);
  const Bytes unsorted =
      Wire{}.str("n1").str("n2").u64(3).u64(3).str("n1").u64(2).str("n3").str("n2").bytes;
  Result<Message> d = decode_message(decided, unsorted);
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "not sorted")) << d.error().message;

  const Bytes view_zero = Wire{}.str("n1").str("n2").u64(3).u64(0).str("n1").u64(0).bytes;
  EXPECT_FALSE(decode_message(decided, view_zero).ok());

  // A real proposal number must name its proposer.
  const auto prepare = static_cast<std::uint16_t>(MessageType::kPaxosPrepare);
  EXPECT_FALSE(
      decode_message(prepare, Wire{}.str("n1").str("n2").u64(3).u64(1).str("").bytes).ok());
}

TEST(Codec, RefusesInvalidRecord) {
  // DecidedRecord whose view lists its primary as a backup.
  const Bytes record = Wire{}.byte(1).u64(2).u64(2).str("a").u64(1).str("a").bytes;
  Result<paxos::Write> d = decode_record(record);
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "both primary and backup")) << d.error().message;
}

// --- RSM peer messages.

TEST(RsmCodec, RoundTripsEveryMessageType) {
  for (const rsm::Message& m : sample_rsm_messages()) {
    SCOPED_TRACE(rsm_name(m.body));
    EncodedMessage e = encode_message(m);
    EXPECT_EQ(static_cast<std::size_t>(e.type), 8 + m.body.index());
    Result<rsm::Message> d = decode_rsm_message(static_cast<std::uint16_t>(e.type), e.payload);
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(*d, m);
  }
}

TEST(RsmCodec, RoundTripsAsManyEntriesAsTheBoundAllows) {
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{1024}, kAppendEntriesMax}) {
    const rsm::Message m = append_of(n);
    EncodedMessage e = encode_message(m);
    Result<rsm::Message> d = decode_rsm_message(static_cast<std::uint16_t>(e.type), e.payload);
    ASSERT_TRUE(d.ok()) << n << " entries: " << d.error().message;
    EXPECT_EQ(std::get<rsm::Append>(d->body).entries.size(), n);
    EXPECT_EQ(*d, m);
  }
}

TEST(RsmCodec, RoundTripsTheLongestOp) {
  Bytes op(kOpBytesMax, '\0');
  for (std::size_t i = 0; i < op.size(); ++i) op[i] = static_cast<char>(i * 131);
  const rsm::Message m{"n1", "n2", rsm::Append{2, {}, {{{2, 1}, 9, 1, op}}, {}}};
  EncodedMessage e = encode_message(m);
  Result<rsm::Message> d = decode_rsm_message(static_cast<std::uint16_t>(e.type), e.payload);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(*d, m);
}

// Append: from, to, vid, prev (vid, seq), entry count, the entries (vs, client
// id, request number, op), commit (vid, seq).
Wire append_head(std::uint64_t count) {
  return Wire{}.str("n1").str("n2").u64(3).u64(2).u64(9).u64(count);
}

TEST(RsmCodec, WritesTheDocumentedLayout) {
  const rsm::Message ack{"a", "bc", rsm::AppendAck{3, {3, 4}, {2, 7}}};
  EXPECT_EQ(encode_message(ack).payload, Wire{}.str("a").str("bc").u64(3).u64(3).u64(4).u64(2).u64(7).bytes);
  const rsm::Message serve{"a", "bc", rsm::SnapshotServe{3, "n4"}};
  EXPECT_EQ(encode_message(serve).payload, Wire{}.str("a").str("bc").u64(3).str("n4").bytes);
  const rsm::Message gap{"a", "bc", rsm::AppendGap{3, {2, 9}}};
  EXPECT_EQ(encode_message(gap).payload, Wire{}.str("a").str("bc").u64(3).u64(2).u64(9).bytes);
  const rsm::Message append{
      "n1", "n2", rsm::Append{3, {2, 9}, {{{3, 1}, 42, 7, Bytes("o\0p", 3)}}, {3, 1}}};
  EXPECT_EQ(encode_message(append).payload,
            append_head(1).u64(3).u64(1).u64(42).u64(7).str(Bytes("o\0p", 3)).u64(3).u64(1).bytes);
}

TEST(RsmCodec, RejectsEveryTruncation) {
  for (const rsm::Message& m : sample_rsm_messages()) {
    EncodedMessage e = encode_message(m);
    for (std::size_t len = 0; len < e.payload.size(); ++len) {
      Result<rsm::Message> d = decode_rsm_message(static_cast<std::uint16_t>(e.type),
                                                  BytesView(e.payload).substr(0, len));
      EXPECT_FALSE(d.ok()) << rsm_name(m.body) << " cut to " << len << " bytes decoded";
    }
  }
}

TEST(RsmCodec, RejectsTrailingBytes) {
  for (const rsm::Message& m : sample_rsm_messages()) {
    EncodedMessage e = encode_message(m);
    Result<rsm::Message> d =
        decode_rsm_message(static_cast<std::uint16_t>(e.type), e.payload + "xyz");
    ASSERT_FALSE(d.ok()) << rsm_name(m.body);
    EXPECT_TRUE(contains(d.error().message, "3 bytes left over")) << d.error().message;
    EXPECT_TRUE(contains(d.error().message, rsm_name(m.body))) << d.error().message;
  }
}

TEST(RsmCodec, RejectsAnAppendOfMoreEntriesThanTheBound) {
  constexpr auto kAppend = static_cast<std::uint16_t>(MessageType::kRsmAppend);
  // A genuine one, every entry present.
  Wire w = append_head(kAppendEntriesMax + 1);
  for (std::uint64_t i = 1; i <= kAppendEntriesMax + 1; ++i) w.u64(3).u64(i).u64(1).u64(i).str("");
  w.u64(3).u64(1);
  Result<rsm::Message> d = Error{};
  std::size_t largest = largest_allocation_bytes([&] { d = decode_rsm_message(kAppend, w.bytes); });
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "entry count 4097 exceeds the 4096 entries"))
      << d.error().message;
  // Refused at the count, before the entries were read into a vector.
  EXPECT_LT(largest, 4096u);

  // A claim with merely enough bytes behind it to pass the bytes-left check.
  const Bytes claim = append_head(1u << 20).bytes + Bytes(std::size_t{1} << 20, '\0');
  largest = largest_allocation_bytes([&] { d = decode_rsm_message(kAppend, claim); });
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "entry count 1048576 exceeds the 4096 entries"))
      << d.error().message;
  EXPECT_LT(largest, 4096u);
}

TEST(RsmCodec, RefusesEntryCountBeyondPayloadWithoutAllocating) {
  const Bytes payload = append_head(std::uint64_t{1} << 40).u64(3).u64(1).bytes;
  Result<rsm::Message> d = Error{};
  const std::size_t largest = largest_allocation_bytes([&] {
    d = decode_rsm_message(static_cast<std::uint16_t>(MessageType::kRsmAppend), payload);
  });
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "collection count 1099511627776 exceeds"))
      << d.error().message;
  EXPECT_LT(largest, 4096u);
}

TEST(RsmCodec, RefusesAnEntryCountThatDisagreesWithTheEntries) {
  constexpr auto kAppend = static_cast<std::uint16_t>(MessageType::kRsmAppend);
  const auto entry = [](Wire& w, std::uint64_t seq) {
    w.u64(3).u64(seq).u64(1).u64(seq).str("op");
  };
  Wire two = append_head(3);  // says three, holds two, then the commit
  entry(two, 1);
  entry(two, 2);
  two.u64(3).u64(2);
  EXPECT_FALSE(decode_rsm_message(kAppend, two.bytes).ok());

  Wire three = append_head(2);  // says two, holds three
  for (std::uint64_t seq = 1; seq <= 3; ++seq) entry(three, seq);
  three.u64(3).u64(3);
  Result<rsm::Message> d = decode_rsm_message(kAppend, three.bytes);
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "left over")) << d.error().message;
}

TEST(RsmCodec, RefusesOpLengthBeyondPayloadWithoutAllocating) {
  const Bytes payload =
      append_head(1).u64(3).u64(1).u64(1).u64(1).u64(std::uint64_t{1} << 40).u64(3).u64(1).bytes;
  Result<rsm::Message> d = Error{};
  const std::size_t largest = largest_allocation_bytes([&] {
    d = decode_rsm_message(static_cast<std::uint16_t>(MessageType::kRsmAppend), payload);
  });
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "string length 1099511627776 exceeds"))
      << d.error().message;
  EXPECT_LT(largest, 4096u);
}

TEST(RsmCodec, RefusesAnOpLongerThanTheBound) {
  const Bytes payload = append_head(1)
                            .u64(3)
                            .u64(1)
                            .u64(1)
                            .u64(1)
                            .str(Bytes(kOpBytesMax + 1, 'x'))
                            .u64(3)
                            .u64(1)
                            .bytes;
  Result<rsm::Message> d =
      decode_rsm_message(static_cast<std::uint16_t>(MessageType::kRsmAppend), payload);
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "op of 1048577 bytes exceeds the limit of 1048576"))
      << d.error().message;
}

TEST(RsmCodec, RefusesInvalidNodeIds) {
  const auto ack = static_cast<std::uint16_t>(MessageType::kRsmAppendAck);
  Result<rsm::Message> bad_sender =
      decode_rsm_message(ack, Wire{}.str("a b").str("n2").u64(3).u64(3).u64(1).u64(0).u64(0).bytes);
  ASSERT_FALSE(bad_sender.ok());
  EXPECT_TRUE(contains(bad_sender.error().message, "sender")) << bad_sender.error().message;

  const auto serve = static_cast<std::uint16_t>(MessageType::kRsmSnapshotServe);
  Result<rsm::Message> bad_follower = decode_rsm_message(serve, Wire{}.str("n1").str("n2").u64(3).str("n 4").bytes);
  ASSERT_FALSE(bad_follower.ok());
  EXPECT_TRUE(contains(bad_follower.error().message, "SnapshotServe's follower")) << bad_follower.error().message;

  const auto gap = static_cast<std::uint16_t>(MessageType::kRsmAppendGap);
  Result<rsm::Message> no_receiver =
      decode_rsm_message(gap, Wire{}.str("n1").str("").u64(3).u64(3).u64(1).bytes);
  ASSERT_FALSE(no_receiver.ok());
  EXPECT_TRUE(contains(no_receiver.error().message, "receiver")) << no_receiver.error().message;

  const Bytes long_id(kNodeIdLengthMax + 1, 'n');
  EXPECT_FALSE(
      decode_rsm_message(ack, Wire{}.str("n1").str(long_id).u64(3).u64(3).u64(1).bytes).ok());
}

TEST(RsmCodec, SurvivesEverySingleBitFlip) {
  std::size_t decoded = 0;
  std::size_t refused = 0;
  for (const rsm::Message& m : sample_rsm_messages()) {
    EncodedMessage e = encode_message(m);
    for (std::size_t bit = 0; bit < e.payload.size() * 8; ++bit) {
      Bytes flipped = e.payload;
      flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
      Result<rsm::Message> d = decode_rsm_message(static_cast<std::uint16_t>(e.type), flipped);
      if (!d.ok()) {
        ++refused;
        continue;
      }
      ++decoded;
      EXPECT_EQ(encode_message(*d).payload, flipped) << rsm_name(m.body) << " bit " << bit;
    }
  }
  EXPECT_GT(decoded, 0u);
  EXPECT_GT(refused, 0u);
}

TEST(RsmCodec, RefusesRandomGarbage) {
  const std::uint64_t seed = 20240602;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 10'000; ++i) {
    Bytes garbage(rng() % 257, '\0');
    for (char& c : garbage) c = static_cast<char>(rng());
    const auto type = static_cast<std::uint16_t>(8 + i % 3);
    EXPECT_FALSE(decode_rsm_message(type, garbage).ok())
        << "payload " << i << " decoded as type " << type;
  }
}

}  // namespace
}  // namespace synod::net
