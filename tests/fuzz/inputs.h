#pragma once
// How the bytes of a fuzz input are laid out, for both fuzz targets and the
// corpus generator. The first bytes steer the run; the rest is what the code
// under test sees. Every byte string is a valid input: a short one just means
// an empty stream or an empty payload.

#include <cstddef>
#include <cstdint>

#include "common/ids.h"
#include "net/frame.h"

namespace synod::fuzz {

// --- fuzz_frame: [limit selector] [chunking seed] [flags] then the stream.
inline constexpr std::size_t kFrameInputPrefixBytes = 3;

// The cluster the decoder belongs to; corpus frames carry it.
inline constexpr ClusterId kFuzzCluster = 0x53594e4f44465a5aULL;

// The limit selector picks the decoder's frame_bytes_max: 0xff is the
// production default, any other s allows frames of header + 16 * s bytes, so
// small inputs reach the oversized_length check too.
inline constexpr std::uint8_t kFrameLimitSelectorDefault = 0xff;
inline constexpr std::size_t kFrameLimitStepBytes = 16;

inline std::size_t frame_bytes_max_for(std::uint8_t selector) {
  if (selector == kFrameLimitSelectorDefault) return net::kFrameBytesMaxDefault;
  return net::kFrameHeaderBytes + kFrameLimitStepBytes * selector;
}

// Flag bit: before decoding, rewrite the checksum of every complete frame in
// the stream so it matches. Without it almost every mutation of a payload or a
// type stops at bad_checksum; with it the mutation reaches the decoded frame.
inline constexpr std::uint8_t kFrameFlagFixChecksums = 0x01;

// --- fuzz_codec: [kind] then, for a record, its bytes; for a message, the
// frame type as u16 little-endian, then the payload.
inline constexpr std::uint8_t kCodecKindRecord = 0;
inline constexpr std::uint8_t kCodecKindMessage = 1;  // any odd kind byte means a message

}  // namespace synod::fuzz
