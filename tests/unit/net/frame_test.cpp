#include "net/frame.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace synod::net {
namespace {

using namespace std::string_literals;

constexpr ClusterId kCluster = 0x1122334455667788ULL;

// What a decoder produced for one input, fed in full and drained.
struct Decoded {
  std::vector<Frame> frames;
  std::optional<FrameError> error;
  bool needs_more = false;
};

Decoded drain(FrameDecoder& decoder) {
  Decoded out;
  // Bounded: a frame is at least a header, so no input here holds 10k frames.
  for (int i = 0; i < 10'000; ++i) {
    DecodeStep step = decoder.next();
    if (auto* frame = std::get_if<Frame>(&step)) {
      out.frames.push_back(std::move(*frame));
    } else if (auto* error = std::get_if<FrameError>(&step)) {
      out.error = *error;
      return out;
    } else {
      out.needs_more = true;
      return out;
    }
  }
  ADD_FAILURE() << "decoder kept returning frames";
  return out;
}

Decoded decode(BytesView bytes, ClusterId cluster = kCluster,
               std::size_t frame_bytes_max = kFrameBytesMaxDefault) {
  FrameDecoder decoder(cluster, frame_bytes_max);
  decoder.feed(bytes);
  return drain(decoder);
}

std::string reason_of(const Decoded& d) {
  return d.error ? std::string(to_string(d.error->reason)) : std::string("(no error)");
}

void put_u32_le(Bytes& bytes, std::size_t offset, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[offset + i] = static_cast<char>((value >> (8 * i)) & 0xFF);
}

TEST(Frame, RoundTripsTypeAndPayload) {
  Bytes payload = "hello\0world"s;
  Decoded d = decode(encode_frame(kCluster, 7, payload));
  ASSERT_FALSE(d.error) << d.error->message;
  ASSERT_EQ(d.frames.size(), 1u);
  EXPECT_EQ(d.frames[0], (Frame{7, payload}));
  EXPECT_TRUE(d.needs_more);
}

TEST(Frame, RoundTripsEmptyPayload) {
  Bytes wire = encode_frame(kCluster, 65535, "");
  EXPECT_EQ(wire.size(), kFrameHeaderBytes);
  Decoded d = decode(wire);
  ASSERT_EQ(d.frames.size(), 1u) << reason_of(d);
  EXPECT_EQ(d.frames[0], (Frame{65535, ""}));
}

TEST(Frame, HeaderIsLittleEndianAfterSyndMagic) {
  Bytes wire = encode_frame(0x0807060504030201ULL, 0x0A09, "xyz");
  ASSERT_EQ(wire.size(), kFrameHeaderBytes + 3);
  EXPECT_EQ(wire.substr(0, 4), "SYND");
  EXPECT_EQ(wire.substr(4, 2), "\x01\x00"s);                              // version
  EXPECT_EQ(wire.substr(6, 2), "\x09\x0A");                               // type
  EXPECT_EQ(wire.substr(8, 8), "\x01\x02\x03\x04\x05\x06\x07\x08");       // cluster
  EXPECT_EQ(wire.substr(16, 4), "\x03\x00\x00\x00"s);                     // length
  EXPECT_EQ(wire.substr(24), "xyz");
}

TEST(FrameDecoder, AssemblesAFrameFedOneByteAtATime) {
  Bytes payload(1000, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 31);
  Bytes wire = encode_frame(kCluster, 3, payload);
  FrameDecoder decoder(kCluster);
  for (std::size_t i = 0; i + 1 < wire.size(); ++i) {
    decoder.feed(wire.substr(i, 1));
    ASSERT_TRUE(std::holds_alternative<NeedMoreBytes>(decoder.next())) << "after byte " << i;
  }
  decoder.feed(wire.substr(wire.size() - 1));
  Decoded d = drain(decoder);
  ASSERT_EQ(d.frames.size(), 1u) << reason_of(d);
  EXPECT_EQ(d.frames[0], (Frame{3, payload}));
}

TEST(FrameDecoder, ReturnsEveryFrameOfOneFeedInOrder) {
  Bytes wire;
  for (std::uint16_t i = 0; i < 50; ++i) wire += encode_frame(kCluster, i, Bytes(i, 'a' + i % 26));
  Decoded d = decode(wire);
  ASSERT_FALSE(d.error) << d.error->message;
  ASSERT_EQ(d.frames.size(), 50u);
  for (std::uint16_t i = 0; i < 50; ++i) EXPECT_EQ(d.frames[i], (Frame{i, Bytes(i, 'a' + i % 26)}));
}

TEST(FrameDecoder, SplitsFramesAcrossArbitraryFeedBoundaries) {
  Bytes wire;
  for (std::uint16_t i = 0; i < 20; ++i) wire += encode_frame(kCluster, i, Bytes(i * 7, 'x'));
  for (std::size_t chunk = 1; chunk < 64; ++chunk) {
    FrameDecoder decoder(kCluster);
    std::vector<Frame> frames;
    for (std::size_t at = 0; at < wire.size(); at += chunk) {
      decoder.feed(BytesView(wire).substr(at, chunk));
      Decoded d = drain(decoder);
      ASSERT_FALSE(d.error) << "chunk " << chunk << ": " << d.error->message;
      for (Frame& f : d.frames) frames.push_back(std::move(f));
    }
    ASSERT_EQ(frames.size(), 20u) << "chunk " << chunk;
    for (std::uint16_t i = 0; i < 20; ++i) EXPECT_EQ(frames[i].type, i);
  }
}

TEST(FrameDecoder, NeedsMoreForEveryTruncationAndNeverYieldsAFrame) {
  Bytes wire = encode_frame(kCluster, 9, "a payload of some length");
  for (std::size_t n = 0; n < wire.size(); ++n) {
    Decoded d = decode(BytesView(wire).substr(0, n));
    EXPECT_TRUE(d.frames.empty()) << "prefix of " << n << " bytes";
    EXPECT_FALSE(d.error) << "prefix of " << n << " bytes: " << reason_of(d);
    EXPECT_TRUE(d.needs_more) << "prefix of " << n << " bytes";
  }
}

// The CRC covers the header and the payload, so no single corrupted bit may
// produce a frame, let alone a different one.
TEST(FrameDecoder, NeverAcceptsAFrameWithASingleBitFlipped) {
  const Bytes wire = encode_frame(kCluster, 4, "paxos accept 17 for view 3");
  for (std::size_t bit = 0; bit < wire.size() * 8; ++bit) {
    Bytes flipped = wire;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    Decoded d = decode(flipped);
    EXPECT_TRUE(d.frames.empty()) << "bit " << bit << " flipped gave a frame";
    EXPECT_TRUE(d.error || d.needs_more) << "bit " << bit;
  }
}

TEST(FrameDecoder, RejectsBadMagic) {
  Bytes wire = encode_frame(kCluster, 1, "x");
  wire[0] = 'X';
  Decoded d = decode(wire);
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->reason, FrameErrorReason::bad_magic);
  EXPECT_TRUE(d.frames.empty());
}

TEST(FrameDecoder, RejectsBadMagicFromTheFirstWrongByte) {
  Decoded d = decode("GET / HTTP/1.1\r\n"s.substr(0, 1));
  ASSERT_TRUE(d.error) << "one wrong byte should be enough";
  EXPECT_EQ(d.error->reason, FrameErrorReason::bad_magic);
}

TEST(FrameDecoder, RejectsUnsupportedVersion) {
  Bytes wire = encode_frame(kCluster, 1, "x");
  wire[4] = 2;
  Decoded d = decode(wire);
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->reason, FrameErrorReason::unsupported_version);
  EXPECT_NE(d.error->message.find("version 2"), std::string::npos) << d.error->message;
}

TEST(FrameDecoder, RejectsAFrameOfAnotherCluster) {
  Decoded d = decode(encode_frame(kCluster + 1, 1, "x"));
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->reason, FrameErrorReason::wrong_cluster_id);
  EXPECT_NE(d.error->message.find(std::to_string(kCluster + 1)), std::string::npos)
      << d.error->message;
}

TEST(FrameDecoder, RejectsOversizedLengthRightAfterTheHeader) {
  Bytes wire = encode_frame(kCluster, 1, "");
  put_u32_le(wire, 16, 0xFFFFFFFF);
  FrameDecoder decoder(kCluster);
  decoder.feed(wire);  // only the 24 header bytes: no payload has been sent
  DecodeStep step = decoder.next();
  auto* error = std::get_if<FrameError>(&step);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->reason, FrameErrorReason::oversized_length);
}

TEST(FrameDecoder, RejectsAFrameOneByteOverTheLimit) {
  const std::size_t limit = 1024;
  Decoded at_limit = decode(encode_frame(kCluster, 1, Bytes(limit - kFrameHeaderBytes, 'a')),
                            kCluster, limit);
  EXPECT_EQ(at_limit.frames.size(), 1u) << reason_of(at_limit);
  Decoded over = decode(encode_frame(kCluster, 1, Bytes(limit - kFrameHeaderBytes + 1, 'a')),
                        kCluster, limit);
  ASSERT_TRUE(over.error);
  EXPECT_EQ(over.error->reason, FrameErrorReason::oversized_length);
}

TEST(FrameDecoder, RejectsACorruptedPayloadAsBadChecksum) {
  Bytes wire = encode_frame(kCluster, 1, "payload");
  wire.back() = static_cast<char>(wire.back() ^ 0x40);
  Decoded d = decode(wire);
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->reason, FrameErrorReason::bad_checksum);
}

TEST(FrameDecoder, StaysFailedAfterAnError) {
  FrameDecoder decoder(kCluster);
  decoder.feed("garbage");
  ASSERT_TRUE(std::holds_alternative<FrameError>(decoder.next()));
  EXPECT_TRUE(decoder.failed());
  decoder.feed(encode_frame(kCluster, 1, "valid"));
  DecodeStep step = decoder.next();
  auto* error = std::get_if<FrameError>(&step);
  ASSERT_NE(error, nullptr) << "a valid frame after garbage must not be trusted";
  EXPECT_EQ(error->reason, FrameErrorReason::bad_magic);
}

TEST(FrameDecoder, RejectsRandomGarbageWithoutCrashing) {
  // Replay a failure with SYNOD_SEED=<seed> unit_net --gtest_filter='*RandomGarbage*'.
  const char* fixed = std::getenv("SYNOD_SEED");
  const auto seed = fixed ? static_cast<std::uint32_t>(std::strtoul(fixed, nullptr, 10))
                          : static_cast<std::uint32_t>(std::random_device{}());
  SCOPED_TRACE("SYNOD_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> length(1, 512);
  const Bytes valid_prefix = encode_frame(kCluster, 0, "").substr(0, 16);
  for (int round = 0; round < 10'000; ++round) {
    Bytes garbage(length(rng), '\0');
    for (char& c : garbage) c = static_cast<char>(byte(rng));
    // Every other input passes the header checks up to the length field, so
    // only the length limit and the CRC stand between it and a frame.
    if (round % 2 == 1) garbage = valid_prefix + garbage;
    Decoded d = decode(garbage);
    ASSERT_TRUE(d.frames.empty()) << "round " << round << " decoded garbage as a frame";
    if (round % 2 == 0) {
      // Only a prefix of the magic may still be waiting for more bytes.
      ASSERT_TRUE(d.error || "SYND"s.starts_with(garbage)) << "round " << round;
    } else {
      ASSERT_TRUE(d.error || d.needs_more) << "round " << round;
    }
  }
}

TEST(FrameErrorReason, NamesAreDistinctSnakeCaseLabels) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kFrameErrorReasonCount; ++i) {
    std::string_view name = to_string(static_cast<FrameErrorReason>(i));
    EXPECT_NE(name, "unknown");
    for (char c : name) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << name;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), kFrameErrorReasonCount);
}

}  // namespace
}  // namespace synod::net
