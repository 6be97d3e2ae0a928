#pragma once
// The wire frame every message travels in, and an incremental decoder for a
// byte stream of them. Pure bytes: no sockets here, so every rule about what a
// node accepts off the wire is testable without a network.
//
// Layout (little-endian, 24-byte header, then the payload):
//   offset  0  magic          u32  the bytes "SYND"
//   offset  4  version        u16  kFrameVersion
//   offset  6  message type   u16
//   offset  8  cluster id     u64
//   offset 16  payload length u32
//   offset 20  CRC-32         u32  over header bytes [0, 20) then the payload
//
// The cluster id is in every frame so that a node never acts on a message
// meant for another cluster that happens to reuse its address.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/bytes.h"
#include "common/ids.h"

namespace synod::net {

inline constexpr std::size_t kFrameHeaderBytes = 24;
inline constexpr std::uint16_t kFrameVersion = 1;
// Big enough for any protocol message short of a snapshot; snapshots are sent
// in chunks below it.
inline constexpr std::size_t kFrameBytesMaxDefault = std::size_t{4} << 20;

struct Frame {
  std::uint16_t type = 0;
  Bytes payload;

  bool operator==(const Frame&) const = default;
};

// Frames one message. Throws std::length_error if the payload does not fit the
// 32-bit length field: callers bound their messages far below that.
Bytes encode_frame(ClusterId cluster, std::uint16_t type, BytesView payload);

enum class FrameErrorReason : std::uint8_t {
  bad_magic,
  unsupported_version,
  wrong_cluster_id,
  oversized_length,
  bad_checksum,
  // The frame was intact but its receiver could not decode the payload
  // (reported through Transport::OnFrame, never by FrameDecoder).
  undecodable_payload,
};
inline constexpr std::size_t kFrameErrorReasonCount = 6;

// snake_case names, stable so they can serve as metric labels.
std::string_view to_string(FrameErrorReason reason);

struct FrameError {
  FrameErrorReason reason;
  std::string message;  // a sentence for the log: what was seen and what was expected
};

struct NeedMoreBytes {};

using DecodeStep = std::variant<NeedMoreBytes, Frame, FrameError>;

// Reassembles frames from a byte stream fed in arbitrary pieces.
//
// Invariant, as long as next() is drained after every feed(): the buffer holds
// at most one partial frame plus the bytes of the last feed(), and a partial
// frame is only kept once its header has passed every check, so a hostile
// length field costs no memory.
// After the first error the decoder stays failed: a stream that lost framing
// cannot be resynchronised, and the connection carrying it must be closed.
class FrameDecoder {
 public:
  // Accepts frames of types for which it returns true with cluster id 0 as
  // well as `cluster`: a client does not know the cluster id at first.
  using AcceptsClusterZero = bool (*)(std::uint16_t type);

  // frame_bytes_max bounds the whole frame, header included.
  explicit FrameDecoder(ClusterId cluster, std::size_t frame_bytes_max = kFrameBytesMaxDefault,
                        AcceptsClusterZero accepts_cluster_zero = nullptr);

  void feed(BytesView bytes);

  // Call until it returns NeedMoreBytes or a FrameError; one feed can hold
  // several frames.
  DecodeStep next();

  bool failed() const { return failure_.has_value(); }

 private:
  // Checks what the buffered prefix of the header already shows, so garbage
  // is rejected from its first bytes rather than after 24 of them.
  std::optional<FrameError> check_header_prefix() const;
  DecodeStep fail(FrameError error);

  ClusterId cluster_;
  std::size_t frame_bytes_max_;
  AcceptsClusterZero accepts_cluster_zero_;
  Bytes buffer_;
  // Bytes of buffer_ already returned as frames; dropped on the next feed() so
  // that several frames in one feed cost one compaction, not one each.
  std::size_t consumed_ = 0;
  std::optional<FrameError> failure_;
};

}  // namespace synod::net
