#include "net/frame.h"

#include <boost/crc.hpp>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace synod::net {
namespace {

constexpr char kMagic[4] = {'S', 'Y', 'N', 'D'};
constexpr std::size_t kVersionOffset = 4;
constexpr std::size_t kTypeOffset = 6;
constexpr std::size_t kClusterOffset = 8;
constexpr std::size_t kLengthOffset = 16;
constexpr std::size_t kChecksumOffset = 20;
static_assert(kChecksumOffset + 4 == kFrameHeaderBytes);

// Byte by byte, so the wire format does not depend on the host's byte order.
void put_le(char* out, std::uint64_t value, std::size_t width) {
  for (std::size_t i = 0; i < width; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xFF);
}

std::uint64_t get_le(const char* in, std::size_t width) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    value |= std::uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  }
  return value;
}

std::uint32_t frame_checksum(const char* header, BytesView payload) {
  boost::crc_32_type crc;
  crc.process_bytes(header, kChecksumOffset);
  crc.process_bytes(payload.data(), payload.size());
  return crc.checksum();
}

std::string hex32(std::uint32_t value) {
  constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) out += kDigits[(value >> shift) & 0xF];
  return out;
}

}  // namespace

Bytes encode_frame(ClusterId cluster, std::uint16_t type, BytesView payload) {
  if (payload.size() > std::numeric_limits<std::uint32_t>::max()) {
    throw std::length_error("frame payload of " + std::to_string(payload.size()) +
                            " bytes does not fit the 32-bit length field");
  }
  Bytes out(kFrameHeaderBytes + payload.size(), '\0');
  char* header = out.data();
  std::memcpy(header, kMagic, sizeof kMagic);
  put_le(header + kVersionOffset, kFrameVersion, 2);
  put_le(header + kTypeOffset, type, 2);
  put_le(header + kClusterOffset, cluster, 8);
  put_le(header + kLengthOffset, payload.size(), 4);
  if (!payload.empty()) std::memcpy(header + kFrameHeaderBytes, payload.data(), payload.size());
  put_le(header + kChecksumOffset, frame_checksum(header, payload), 4);
  return out;
}

std::string_view to_string(FrameErrorReason reason) {
  switch (reason) {
    case FrameErrorReason::bad_magic: return "bad_magic";
    case FrameErrorReason::unsupported_version: return "unsupported_version";
    case FrameErrorReason::wrong_cluster_id: return "wrong_cluster_id";
    case FrameErrorReason::oversized_length: return "oversized_length";
    case FrameErrorReason::bad_checksum: return "bad_checksum";
    case FrameErrorReason::undecodable_payload: return "undecodable_payload";
  }
  return "unknown";
}

FrameDecoder::FrameDecoder(ClusterId cluster, std::size_t frame_bytes_max, AcceptsClusterZero accepts_cluster_zero)
    : cluster_(cluster), frame_bytes_max_(frame_bytes_max), accepts_cluster_zero_(accepts_cluster_zero) {
  assert(frame_bytes_max_ >= kFrameHeaderBytes);
}

void FrameDecoder::feed(BytesView bytes) {
  if (failed()) return;  // nothing after a framing error can be trusted
  if (consumed_ > 0) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  buffer_.append(bytes);
}

std::optional<FrameError> FrameDecoder::check_header_prefix() const {
  const char* p = buffer_.data() + consumed_;
  std::size_t have = buffer_.size() - consumed_;

  std::size_t magic_have = std::min(have, sizeof kMagic);
  if (std::memcmp(p, kMagic, magic_have) != 0) {
    return FrameError{FrameErrorReason::bad_magic,
                      "stream does not start a synod frame (bad magic); "
                      "the sender is not a synod node or lost framing"};
  }
  if (have >= kVersionOffset + 2) {
    auto version = static_cast<std::uint16_t>(get_le(p + kVersionOffset, 2));
    if (version != kFrameVersion) {
      return FrameError{FrameErrorReason::unsupported_version,
                        "frame format version " + std::to_string(version) +
                            " is not supported; this node speaks version " +
                            std::to_string(kFrameVersion)};
    }
  }
  if (have >= kClusterOffset + 8) {
    ClusterId cluster = get_le(p + kClusterOffset, 8);
    // The type (offset 6) is known by now: the cluster id comes after it.
    const bool open_type = cluster == 0 && accepts_cluster_zero_ != nullptr &&
                           accepts_cluster_zero_(static_cast<std::uint16_t>(get_le(p + kTypeOffset, 2)));
    if (cluster != cluster_ && !open_type) {
      return FrameError{FrameErrorReason::wrong_cluster_id,
                        "frame is for cluster " + std::to_string(cluster) +
                            " but this node belongs to cluster " + std::to_string(cluster_)};
    }
  }
  if (have >= kLengthOffset + 4) {
    std::uint64_t frame_bytes = kFrameHeaderBytes + get_le(p + kLengthOffset, 4);
    if (frame_bytes > frame_bytes_max_) {
      return FrameError{FrameErrorReason::oversized_length,
                        "frame of " + std::to_string(frame_bytes) + " bytes exceeds the limit of " +
                            std::to_string(frame_bytes_max_) + " bytes"};
    }
  }
  return std::nullopt;
}

DecodeStep FrameDecoder::fail(FrameError error) {
  failure_ = error;
  buffer_.clear();
  buffer_.shrink_to_fit();
  consumed_ = 0;
  return error;
}

DecodeStep FrameDecoder::next() {
  if (failure_) return *failure_;
  std::size_t have = buffer_.size() - consumed_;
  if (have == 0) return NeedMoreBytes{};
  if (std::optional<FrameError> error = check_header_prefix()) return fail(std::move(*error));
  if (have < kFrameHeaderBytes) return NeedMoreBytes{};

  const char* header = buffer_.data() + consumed_;
  auto payload_bytes = static_cast<std::size_t>(get_le(header + kLengthOffset, 4));
  if (have < kFrameHeaderBytes + payload_bytes) return NeedMoreBytes{};

  BytesView payload(header + kFrameHeaderBytes, payload_bytes);
  auto expected = static_cast<std::uint32_t>(get_le(header + kChecksumOffset, 4));
  std::uint32_t actual = frame_checksum(header, payload);
  if (actual != expected) {
    return fail(FrameError{FrameErrorReason::bad_checksum,
                           "frame checksum " + hex32(actual) + " does not match the " +
                               hex32(expected) + " it was sent with; the bytes were corrupted"});
  }
  Frame frame{static_cast<std::uint16_t>(get_le(header + kTypeOffset, 2)), Bytes(payload)};
  consumed_ += kFrameHeaderBytes + payload_bytes;
  return frame;
}

}  // namespace synod::net
