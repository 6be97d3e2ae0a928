// The client wire protocol's codec: every message round-trips, and bytes
// from a client are trusted for nothing: anything malformed is an Error.

#include "net/client_protocol.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "net/codec.h"

namespace synod::net {
namespace {

std::vector<ClientMessage> samples() {
  ClientReply reply;
  reply.client_id = 7;
  reply.request_no = 42;
  reply.read = true;
  reply.status = ClientStatus::kNotPrimary;
  reply.message = "not the primary of view 3; send it to n2";
  reply.view = 3;
  reply.primary = "n2";
  reply.primary_address = "127.0.0.1:7002";
  reply.as_of = Viewstamp{3, 17};
  reply.payload = std::string("\0\x01\xff", 3);

  AdminReply admin;
  admin.request_id = 9;
  admin.status = ClientStatus::kOk;
  admin.view = 4;
  admin.primary = "n1";
  admin.primary_address = "10.0.0.1:7001";
  admin.members = {{"n1", "10.0.0.1:7001", NodeRole::kPrimary},
                   {"n2", "", NodeRole::kBackup},
                   {"n4", "10.0.0.4:7004", NodeRole::kLearner}};
  admin.node = NodeStatusInfo{"n2", NodeRole::kFrozen, 4, Viewstamp{4, 9}, Viewstamp{4, 8}};

  AdminReply admin_without_node;
  admin_without_node.request_id = 10;
  admin_without_node.status = ClientStatus::kBusy;
  admin_without_node.message = "busy: a view change is in progress; retry";

  return {ClientOpRequest{1, 2, "append x"},
          ClientOpRequest{~std::uint64_t{0}, 1, ""},
          ClientReadRequest{3, 4, "all", true},
          ClientReadRequest{3, 5, "count", false},
          reply,
          ClientReply{},
          AdminRequest{11, AdminKind::kAddMember, "n4", "127.0.0.1:7004"},
          AdminRequest{12, AdminKind::kStatus, "", ""},
          admin,
          admin_without_node};
}

TEST(ClientProtocol, EveryMessageRoundTripsWithItsType) {
  for (const ClientMessage& m : samples()) {
    EncodedClientMessage e = encode_client_message(m);
    EXPECT_EQ(static_cast<std::size_t>(e.type), kClientTypeFirst + m.index());
    EXPECT_TRUE(is_client_type(static_cast<std::uint16_t>(e.type)));
    Result<ClientMessage> back = decode_client_message(static_cast<std::uint16_t>(e.type), e.payload);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, m);
  }
}

TEST(ClientProtocol, ClientTypesLieAbovePeerTypesAndOnlyRequestsAreServed) {
  EXPECT_FALSE(is_client_type(static_cast<std::uint16_t>(MessageType::kPaxosPrepare)));
  EXPECT_FALSE(is_client_type(static_cast<std::uint16_t>(MessageType::kRsmSnapshotServe)));
  EXPECT_FALSE(is_client_type(kClientTypeFirst - 1));
  EXPECT_FALSE(is_client_type(kClientTypeLast + 1));
  EXPECT_TRUE(is_client_request_type(static_cast<std::uint16_t>(ClientMessageType::kOpRequest)));
  EXPECT_TRUE(is_client_request_type(static_cast<std::uint16_t>(ClientMessageType::kReadRequest)));
  EXPECT_TRUE(is_client_request_type(static_cast<std::uint16_t>(ClientMessageType::kAdminRequest)));
  EXPECT_FALSE(is_client_request_type(static_cast<std::uint16_t>(ClientMessageType::kReply)));
  EXPECT_FALSE(is_client_request_type(static_cast<std::uint16_t>(ClientMessageType::kAdminReply)));
}

TEST(ClientProtocol, RejectsAPeerOrUnknownType) {
  const Bytes payload = encode_client_message(ClientOpRequest{1, 1, "x"}).payload;
  for (std::uint16_t type : {std::uint16_t{0}, std::uint16_t{1}, std::uint16_t{8}, std::uint16_t{63},
                             std::uint16_t{69}, std::uint16_t{0xFFFF}}) {
    Result<ClientMessage> m = decode_client_message(type, payload);
    ASSERT_FALSE(m) << "type " << type;
    EXPECT_NE(m.error().message.find("not a client type"), std::string::npos) << m.error().message;
  }
}

TEST(ClientProtocol, RejectsEveryTruncationAndTrailingBytes) {
  for (const ClientMessage& m : samples()) {
    EncodedClientMessage e = encode_client_message(m);
    const auto type = static_cast<std::uint16_t>(e.type);
    for (std::size_t n = 0; n < e.payload.size(); ++n) {
      EXPECT_FALSE(decode_client_message(type, e.payload.substr(0, n))) << "type " << type << " cut at " << n;
    }
    Result<ClientMessage> longer = decode_client_message(type, e.payload + "x");
    ASSERT_FALSE(longer);
    EXPECT_NE(longer.error().message.find("left over"), std::string::npos) << longer.error().message;
  }
}

// Offsets into an encoded ClientReply: client_id(8) request_no(8) read(1) status(1) ...
constexpr std::size_t kReplyReadOffset = 16;
constexpr std::size_t kReplyStatusOffset = 17;

TEST(ClientProtocol, RejectsAnEnumOutOfRangeAndABoolOtherThanZeroOrOne) {
  const Bytes good = encode_client_message(ClientReply{}).payload;
  const auto type = static_cast<std::uint16_t>(ClientMessageType::kReply);
  Bytes bad_status = good;
  bad_status[kReplyStatusOffset] = static_cast<char>(kClientStatusLast + 1);
  Result<ClientMessage> m = decode_client_message(type, bad_status);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("status"), std::string::npos) << m.error().message;
  Bytes bad_bool = good;
  bad_bool[kReplyReadOffset] = 2;
  m = decode_client_message(type, bad_bool);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("bool"), std::string::npos) << m.error().message;

  // AdminRequest: request_id(8) kind(1)
  Bytes admin = encode_client_message(AdminRequest{}).payload;
  admin[8] = static_cast<char>(kAdminKindLast + 1);
  m = decode_client_message(static_cast<std::uint16_t>(ClientMessageType::kAdminRequest), admin);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("kind"), std::string::npos) << m.error().message;
}

TEST(ClientProtocol, RejectsALengthThatLiesOrExceedsItsBound) {
  // ClientOpRequest: client_id(8) request_no(8) op length(8) op bytes.
  Bytes lying = encode_client_message(ClientOpRequest{1, 1, "abc"}).payload;
  lying[16] = 100;  // claims 100 bytes, 3 follow
  Result<ClientMessage> m = decode_client_message(static_cast<std::uint16_t>(ClientMessageType::kOpRequest), lying);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("exceeds"), std::string::npos) << m.error().message;

  // An op one byte over the bound, with every byte present.
  ClientOpRequest big{1, 1, Bytes(kClientOpBytesMax, 'o')};
  Bytes over = encode_client_message(big).payload + "o";
  const std::uint64_t length = kClientOpBytesMax + 1;
  std::memcpy(over.data() + 16, &length, sizeof length);
  m = decode_client_message(static_cast<std::uint16_t>(ClientMessageType::kOpRequest), over);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("op of"), std::string::npos) << m.error().message;
}

TEST(ClientProtocol, RejectsAnInvalidNodeIdAndTooManyMembers) {
  AdminReply bad_member;
  bad_member.members = {{"n 1", "", NodeRole::kBackup}};  // a space is not allowed in an id
  EncodedClientMessage e = encode_client_message(bad_member);
  Result<ClientMessage> m = decode_client_message(static_cast<std::uint16_t>(e.type), e.payload);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("member"), std::string::npos) << m.error().message;

  AdminRequest bad_node{1, AdminKind::kRemoveMember, "n/1", ""};
  e = encode_client_message(bad_node);
  EXPECT_FALSE(decode_client_message(static_cast<std::uint16_t>(e.type), e.payload));

  AdminReply many;
  for (std::size_t i = 0; i <= kAdminMembersMax; ++i) {
    many.members.push_back({"n" + std::to_string(i), "", NodeRole::kBackup});
  }
  // Encoded by hand past the bound: encode_client_message asserts it.
  AdminReply few;
  few.members = many.members;
  few.members.resize(kAdminMembersMax);
  Bytes payload = encode_client_message(few).payload;
  // request_id(8) status(1) message(8+0) view(8) primary(8+0) address(8+0) count(8)
  const std::size_t count_at = 8 + 1 + 8 + 8 + 8 + 8;
  const std::uint64_t count = kAdminMembersMax + 1;
  std::memcpy(payload.data() + count_at, &count, sizeof count);
  m = decode_client_message(static_cast<std::uint16_t>(ClientMessageType::kAdminReply), payload);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("member count"), std::string::npos) << m.error().message;
}

// Mutated encodings either decode to a message that re-encodes to the same
// bytes, or fail; never crash, never hang. Seeded, bounded.
TEST(ClientProtocol, MutatedPayloadsDecodeConsistentlyOrFail) {
  std::mt19937_64 random(7);
  const std::vector<ClientMessage> base = samples();
  for (int round = 0; round < 20000; ++round) {
    const ClientMessage& m = base[random() % base.size()];
    EncodedClientMessage e = encode_client_message(m);
    Bytes bytes = e.payload;
    const int edits = 1 + static_cast<int>(random() % 4);
    for (int i = 0; i < edits && !bytes.empty(); ++i) {
      switch (random() % 3) {
        case 0: bytes[random() % bytes.size()] = static_cast<char>(random()); break;
        case 1: bytes.erase(random() % bytes.size(), 1 + random() % 8); break;
        case 2: bytes.insert(random() % bytes.size(), 1, static_cast<char>(random())); break;
      }
    }
    const auto type = static_cast<std::uint16_t>(kClientTypeFirst + random() % 5);
    Result<ClientMessage> d = decode_client_message(type, bytes);
    if (d) {
      EXPECT_EQ(encode_client_message(*d).payload, bytes) << "round " << round;
    } else {
      EXPECT_LE(d.error().message.size(), 400u) << d.error().message;
    }
  }
}

}  // namespace
}  // namespace synod::net
