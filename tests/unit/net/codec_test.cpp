#include "net/codec.h"

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
  for (std::uint16_t type : {0, 8, 0xffff}) {
    Result<Message> d = decode_message(type, payload);
    ASSERT_FALSE(d.ok());
    EXPECT_TRUE(contains(d.error().message, "unknown message type " + std::to_string(type)))
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

}  // namespace
}  // namespace synod::net
