// The kv codec: round trips, the pinned layout, the limits, and that decoding
// trusts nothing (truncation, trailing bytes, lying lengths, random garbage).

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kv/kv_ops.h"
#include "kv_test_util.h"
#include "net/client_protocol.h"
#include "net/codec.h"

// Allocation probe: while armed, remembers the largest single allocation, so
// that a test can tell a refusal before allocating from a failed huge malloc.
// It replaces operator new for the whole unit_kv binary.
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

namespace synod::kv {

std::size_t largest_allocation_bytes(const std::function<void()>& f) {
  g_probe_largest_bytes = 0;
  g_probe_armed = true;
  f();
  g_probe_armed = false;
  return g_probe_largest_bytes;
}

namespace {

// Builds bytes in the wire layout by hand, independently of the encoder.
struct Wire {
  Bytes bytes;
  Wire& u8(std::uint8_t v) {
    bytes.push_back(static_cast<char>(v));
    return *this;
  }
  Wire& u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return *this;
  }
  Wire& str(BytesView s) {
    u64(s.size());
    bytes.append(s);
    return *this;
  }
};

std::vector<KvRequest> sample_requests() {
  return {
      Put{"key", "value", std::nullopt},
      Put{"k", "", 0},
      Put{Bytes("\0\xff", 2), Bytes("\0", 1), ~std::uint64_t{0}},
      Get{"key"},
      Delete{"key", std::nullopt},
      Delete{"key", 7},
      List{"", 0},
      List{"pre", 25},
      Cas{"key", "old", "new"},
      Cas{"key", "", ""},
  };
}

std::vector<KvReply> sample_replies() {
  KvReply ok_entry{KvStatus::kOk, "", 9, KvEntry{"k", "v", 2, 3, 9}, {}, false};
  KvReply not_found{KvStatus::kNotFound, "", 4, std::nullopt, {}, false};
  KvReply failed{KvStatus::kConditionFailed, "", 5, KvEntry{"k", "", 1, 5, 5}, {}, false};
  KvReply invalid{KvStatus::kInvalid, "put: key is empty", 0, std::nullopt, {}, false};
  KvReply listed{KvStatus::kOk, "", 12, std::nullopt, {KvEntry{"a", "1", 1, 1, 1}, KvEntry{"b", "", 3, 2, 12}}, true};
  KvReply empty_list{KvStatus::kOk, "", 0, std::nullopt, {}, false};
  return {ok_entry, not_found, failed, invalid, listed, empty_list};
}

TEST(KvCodec, RoundTripsEveryRequestKind) {
  for (const KvRequest& r : sample_requests()) {
    const Result<KvRequest> d = decode_request(encode(r));
    ASSERT_TRUE(d.ok()) << op_name(r) << ": " << d.error().message;
    EXPECT_EQ(*d, r) << op_name(r);
  }
}

TEST(KvCodec, RoundTripsReplies) {
  for (const KvReply& r : sample_replies()) {
    const Result<KvReply> d = decode_reply(encode(r));
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(*d, r);
  }
}

TEST(KvCodec, WritesTheDocumentedLayout) {
  EXPECT_EQ(encode(Get{"k"}), Wire{}.u8(1).u8(1).str("k").bytes);
  EXPECT_EQ(encode(Put{"k", "vv", 3}), Wire{}.u8(1).u8(0).str("k").str("vv").u8(1).u64(3).bytes);
  EXPECT_EQ(encode(Delete{"k", std::nullopt}), Wire{}.u8(1).u8(2).str("k").u8(0).bytes);
  EXPECT_EQ(encode(List{"p", 5}), Wire{}.u8(1).u8(3).str("p").u64(5).bytes);
  EXPECT_EQ(encode(Cas{"k", "a", "b"}), Wire{}.u8(1).u8(4).str("k").str("a").str("b").bytes);
  const KvReply reply{KvStatus::kConditionFailed, "m", 7, KvEntry{"k", "v", 1, 2, 3}, {}, true};
  EXPECT_EQ(encode(reply), Wire{}
                               .u8(1)
                               .u8(2)
                               .str("m")
                               .u64(7)
                               .u8(1)
                               .str("k")
                               .str("v")
                               .u64(1)
                               .u64(2)
                               .u64(3)
                               .u64(0)
                               .u8(1)
                               .bytes);
}

TEST(KvCodec, IsReadOnlyForGetAndListOnly) {
  EXPECT_FALSE(is_read_only(Put{}));
  EXPECT_TRUE(is_read_only(Get{}));
  EXPECT_FALSE(is_read_only(Delete{}));
  EXPECT_TRUE(is_read_only(List{}));
  EXPECT_FALSE(is_read_only(Cas{}));
}

TEST(KvCodec, TheLargestOpsFitOneLogEntry) {
  const Put put{Bytes(kKeyBytesMax, 'k'), Bytes(kValueBytesMax, 'v'), ~std::uint64_t{0}};
  const Cas cas{Bytes(kKeyBytesMax, 'k'), Bytes(kValueBytesMax / 2, 'a'), Bytes(kValueBytesMax - kValueBytesMax / 2, 'b')};
  for (const KvRequest& r : std::vector<KvRequest>{put, cas}) {
    ASSERT_TRUE(validate(r).ok()) << validate(r).error().message;
    const Bytes bytes = encode(r);
    EXPECT_LE(bytes.size(), net::kOpBytesMax) << op_name(r);
    EXPECT_LE(bytes.size(), net::kClientOpBytesMax) << op_name(r);
    const Result<KvRequest> d = decode_request(bytes);
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(*d, r);
  }
}

TEST(KvCodec, TheLargestRepliesFitOneClientReply) {
  KvReply by_count{KvStatus::kOk, "", ~std::uint64_t{0}, std::nullopt, {}, true};
  for (std::uint64_t i = 0; i < kListLimitMax; ++i) {
    by_count.entries.push_back(KvEntry{Bytes(kListReplyBytesMax / kListLimitMax - 1, 'k'), "v", 1, 1, 1});
  }
  KvReply by_bytes{KvStatus::kOk, "", 1, std::nullopt, {}, true};
  for (int i = 0; i < 2; ++i) {
    by_bytes.entries.push_back(KvEntry{Bytes(kKeyBytesMax, 'k'), Bytes(kValueBytesMax, 'v'), 1, 1, 1});
  }
  const KvReply one{KvStatus::kOk, Bytes(kMessageBytesMax, 'm'), 1,
                    KvEntry{Bytes(kKeyBytesMax, 'k'), Bytes(kValueBytesMax, 'v'), 1, 1, 1}, {}, false};
  for (const KvReply& r : {by_count, by_bytes, one}) {
    const Bytes bytes = encode(r);
    EXPECT_LE(bytes.size(), net::kClientPayloadBytesMax);
    const Result<KvReply> d = decode_reply(bytes);
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(*d, r);
  }
}

// --- Refusals

TEST(KvCodec, RefusesAnotherFormat) {
  for (std::uint8_t format : {0, 2, 255}) {
    Bytes op = encode(Get{"k"});
    op[0] = static_cast<char>(format);
    const Result<KvRequest> d = decode_request(op);
    ASSERT_FALSE(d.ok());
    EXPECT_TRUE(contains(d.error().message, "format " + std::to_string(format) + " is not one this node knows (1)"))
        << d.error().message;
    Bytes reply = encode(sample_replies()[0]);
    reply[0] = static_cast<char>(format);
    EXPECT_FALSE(decode_reply(reply).ok());
  }
}

TEST(KvCodec, RefusesUnknownKindAndStatus) {
  const Result<KvRequest> d = decode_request(Wire{}.u8(1).u8(5).str("k").bytes);
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "unknown op kind 5 (this node knows 0 to 4)")) << d.error().message;
  Bytes reply = encode(sample_replies()[1]);
  reply[1] = 4;
  const Result<KvReply> r = decode_reply(reply);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error().message, "status 4 is not one this node knows")) << r.error().message;
}

TEST(KvCodec, RefusesEveryTruncation) {
  for (const KvRequest& r : sample_requests()) {
    const Bytes bytes = encode(r);
    for (std::size_t len = 0; len < bytes.size(); ++len) {
      EXPECT_FALSE(decode_request(bytes.substr(0, len)).ok()) << op_name(r) << " cut to " << len;
    }
  }
  for (const KvReply& r : sample_replies()) {
    const Bytes bytes = encode(r);
    for (std::size_t len = 0; len < bytes.size(); ++len) {
      EXPECT_FALSE(decode_reply(bytes.substr(0, len)).ok()) << "reply cut to " << len;
    }
  }
  const Result<KvRequest> d = decode_request(encode(Put{"key", "value", 1}).substr(0, 12));
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "kv op of 12 bytes")) << d.error().message;
}

TEST(KvCodec, RefusesTrailingBytes) {
  for (const KvRequest& r : sample_requests()) {
    const Result<KvRequest> d = decode_request(encode(r) + "x");
    ASSERT_FALSE(d.ok()) << op_name(r);
    EXPECT_TRUE(contains(d.error().message, "1 bytes left over")) << d.error().message;
  }
  for (const KvReply& r : sample_replies()) EXPECT_FALSE(decode_reply(encode(r) + "xy").ok());
}

TEST(KvCodec, RefusesOversizeKeyAndValueNamingTheLimit) {
  struct Case {
    KvRequest request;
    std::string wanted;
  };
  const std::vector<Case> cases = {
      {Put{Bytes(kKeyBytesMax + 1, 'k'), "v", std::nullopt}, "key of 4097 bytes exceeds the limit of 4096 bytes"},
      {Get{Bytes(kKeyBytesMax + 1, 'k')}, "key of 4097 bytes exceeds the limit of 4096 bytes"},
      {List{Bytes(kKeyBytesMax + 1, 'k'), 0}, "prefix of 4097 bytes exceeds the limit of 4096 bytes"},
      {Put{"k", Bytes(kValueBytesMax + 1, 'v'), std::nullopt},
       "value of 1040385 bytes exceeds the limit of 1040384 bytes"},
      {Cas{"k", Bytes(kValueBytesMax, 'a'), "b"}, "together exceed the limit of 1040384 bytes"},
      {Put{"", "v", std::nullopt}, "put: key is empty"},
      {Cas{"", "", ""}, "cas: key is empty"},
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(validate(c.request).ok()) << op_name(c.request);
    const Result<KvRequest> d = decode_request(encode(c.request));
    ASSERT_FALSE(d.ok()) << op_name(c.request);
    EXPECT_TRUE(contains(d.error().message, c.wanted)) << d.error().message;
  }
}

TEST(KvCodec, RefusesLyingLengthWithoutAllocating) {
  const Bytes op = Wire{}.u8(1).u8(1).u64(std::uint64_t{1} << 40).bytes + "k";
  Result<KvRequest> d = Error{};
  const std::size_t largest = largest_allocation_bytes([&] { d = decode_request(op); });
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "string length 1099511627776 exceeds")) << d.error().message;
  EXPECT_LT(largest, 4096u);
}

TEST(KvCodec, RefusesLyingEntryCountWithoutAllocating) {
  const Bytes reply = Wire{}.u8(1).u8(0).str("").u64(1).u8(0).u64(std::uint64_t{1} << 40).u8(0).bytes;
  Result<KvReply> d = Error{};
  const std::size_t largest = largest_allocation_bytes([&] { d = decode_reply(reply); });
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "collection count 1099511627776 exceeds")) << d.error().message;
  EXPECT_LT(largest, 4096u);
}

TEST(KvCodec, RefusesMoreEntriesThanAListMayHold) {
  Wire w;
  w.u8(1).u8(0).str("").u64(1).u8(0).u64(kListLimitMax + 1);
  for (std::uint64_t i = 0; i <= kListLimitMax; ++i) w.str("k").str("").u64(1).u64(1).u64(1);
  w.u8(0);
  const Result<KvReply> d = decode_reply(w.bytes);
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "entry count 10001 exceeds the limit of 10000")) << d.error().message;
}

TEST(KvCodec, RefusesAReplyWithBothAnEntryAndEntries) {
  KvReply both = sample_replies()[4];
  both.entry = KvEntry{"k", "v", 1, 1, 1};
  const Result<KvReply> d = decode_reply(encode(both));
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "one entry or a list of entries, not both")) << d.error().message;
}

TEST(KvCodec, RefusesBoolThatIsNeitherZeroNorOne) {
  Bytes op = encode(Delete{"k", std::nullopt});
  op.back() = 2;
  const Result<KvRequest> d = decode_request(op);
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(contains(d.error().message, "bool byte 2")) << d.error().message;
}

TEST(KvCodec, RefusesRandomGarbage) {
  const std::uint64_t seed = 20240918;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  constexpr int kInputs = 20'000;
  constexpr std::size_t kInputBytesMax = 64;
  int decoded = 0;
  for (int i = 0; i < kInputs; ++i) {
    Bytes garbage(rng() % (kInputBytesMax + 1), '\0');
    for (char& c : garbage) c = static_cast<char>(rng());
    // Half of them start like a real op, to reach past the first two bytes.
    if (i % 2 == 0 && garbage.size() >= 2) {
      garbage[0] = static_cast<char>(kKvFormatVersion);
      garbage[1] = static_cast<char>(rng() % 5);
    }
    // Whatever decodes must be exactly what it encodes to, and valid.
    if (Result<KvRequest> r = decode_request(garbage); r.ok()) {
      ++decoded;
      EXPECT_EQ(encode(*r), garbage) << "input " << i;
      EXPECT_TRUE(validate(*r).ok()) << "input " << i;
    } else {
      EXPECT_FALSE(r.error().message.empty());
      EXPECT_LT(r.error().message.size(), 400u) << r.error().message;
    }
    if (Result<KvReply> r = decode_reply(garbage); r.ok()) {
      EXPECT_EQ(encode(*r), garbage) << "input " << i;
    }
  }
  EXPECT_LT(decoded, kInputs / 100) << "random bytes should rarely be an op";
}

TEST(KvCodec, SurvivesEverySingleBitFlip) {
  for (const KvRequest& r : sample_requests()) {
    const Bytes bytes = encode(r);
    for (std::size_t bit = 0; bit < bytes.size() * 8; ++bit) {
      Bytes flipped = bytes;
      flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
      // Often still an op (a flipped value byte); then it must re-encode exactly.
      if (Result<KvRequest> d = decode_request(flipped); d.ok()) {
        EXPECT_EQ(encode(*d), flipped) << op_name(r) << " bit " << bit;
      }
    }
  }
}

}  // namespace
}  // namespace synod::kv
