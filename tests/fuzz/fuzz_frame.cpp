// Fuzz target for FrameDecoder, the first code to touch bytes from a peer.
//
// Input (inputs.h): [limit selector] [chunking seed] [flags] then a byte stream.
// Every input is checked for:
//  1. Agreement with a model: an independent reading of the layout documented
//     in frame.h (fields checked in order as soon as they are present, then
//     the standard CRC-32) finds the same frames and the same verdict.
//  2. Chunking does not matter: the stream fed whole, one byte at a time and
//     in pseudo-random pieces (empty ones included) gives the same frames, the
//     same verdict and the same error sentence.
//  3. Exact re-encoding: every frame returned is encode_frame() of exactly the
//     bytes it came from, in stream order; nothing is skipped or invented.
//  4. Bounds: no frame exceeds the limit, error sentences stay short, and no
//     single allocation inside the decoder exceeds twice the bytes fed plus a
//     constant, so a hostile length field costs no memory.
//  5. Failure is sticky: after an error, next() repeats it, feed() is ignored
//     and failed() says so; before one, failed() is false.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "alloc_probe.h"
#include "check.h"
#include "inputs.h"
#include "net/frame.h"

namespace synod::fuzz {
namespace {

using net::DecodeStep;
using net::Frame;
using net::FrameDecoder;
using net::FrameError;
using net::FrameErrorReason;
using net::kFrameHeaderBytes;
using net::NeedMoreBytes;

// The decoder's own allocations are its buffer (at most every byte fed,
// grown by doubling), one payload copy and an error sentence.
constexpr std::size_t kAllocationSlackBytes = 1024;
constexpr std::size_t kErrorSentenceBytesMax = 256;

std::uint64_t get_le(BytesView bytes, std::size_t offset, std::size_t width) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    value |= std::uint64_t{static_cast<unsigned char>(bytes[offset + i])} << (8 * i);
  }
  return value;
}

// CRC-32 (IEEE 802.3, reflected, as zlib computes it), bit by bit: slow and
// plainly right, so it can judge the decoder's table-driven one.
std::uint32_t reference_crc32(BytesView first, BytesView second) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (BytesView part : {first, second}) {
    for (char c : part) {
      crc ^= static_cast<unsigned char>(c);
      for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
  }
  return ~crc;
}

// What one reading of a stream produced. No error means it ended cleanly: the
// bytes left over, if any, are the start of a frame that passed its checks.
struct Verdict {
  std::vector<Frame> frames;
  std::optional<FrameError> error;
};

std::string describe(const Verdict& v) {
  std::string out = std::to_string(v.frames.size()) + " frames, then ";
  out += v.error ? std::string(to_string(v.error->reason)) + " (" + v.error->message + ")"
                 : std::string("no error");
  return out;
}

// The model: frame.h's layout read from scratch over the whole stream.
Verdict model_decode(BytesView stream, std::size_t frame_bytes_max) {
  constexpr BytesView kMagic = "SYND";
  Verdict v;
  auto fail = [&](FrameErrorReason reason) {
    v.error = FrameError{reason, ""};
    return v;
  };
  std::size_t offset = 0;
  while (offset < stream.size()) {
    const BytesView rest = stream.substr(offset);
    const std::size_t magic_have = std::min(rest.size(), kMagic.size());
    if (rest.substr(0, magic_have) != kMagic.substr(0, magic_have)) {
      return fail(FrameErrorReason::bad_magic);
    }
    if (rest.size() >= 6 && get_le(rest, 4, 2) != net::kFrameVersion) {
      return fail(FrameErrorReason::unsupported_version);
    }
    if (rest.size() >= 16 && get_le(rest, 8, 8) != kFuzzCluster) {
      return fail(FrameErrorReason::wrong_cluster_id);
    }
    if (rest.size() < 20) break;
    const std::uint64_t payload_bytes = get_le(rest, 16, 4);
    if (kFrameHeaderBytes + payload_bytes > frame_bytes_max) {
      return fail(FrameErrorReason::oversized_length);
    }
    if (rest.size() < kFrameHeaderBytes + payload_bytes) break;
    const BytesView payload = rest.substr(kFrameHeaderBytes, payload_bytes);
    if (reference_crc32(rest.substr(0, 20), payload) != get_le(rest, 20, 4)) {
      return fail(FrameErrorReason::bad_checksum);
    }
    v.frames.push_back(Frame{static_cast<std::uint16_t>(get_le(rest, 6, 2)), Bytes(payload)});
    offset += kFrameHeaderBytes + payload_bytes;
  }
  return v;
}

// Rewrites the checksum field of every complete frame, walking the stream by
// its length fields (see kFrameFlagFixChecksums).
void fix_checksums(Bytes& stream) {
  std::size_t offset = 0;
  while (stream.size() - offset >= kFrameHeaderBytes) {
    const std::uint64_t payload_bytes = get_le(stream, offset + 16, 4);
    if (stream.size() - offset - kFrameHeaderBytes < payload_bytes) break;
    const BytesView header = BytesView(stream).substr(offset, 20);
    const BytesView payload = BytesView(stream).substr(offset + kFrameHeaderBytes, payload_bytes);
    const std::uint32_t crc = reference_crc32(header, payload);
    for (std::size_t i = 0; i < 4; ++i) {
      stream[offset + 20 + i] = static_cast<char>((crc >> (8 * i)) & 0xFF);
    }
    offset += kFrameHeaderBytes + payload_bytes;
  }
}

// How a run cuts the stream into feed() calls.
enum class Feeding { whole, byte_by_byte, random_pieces };

// splitmix64: the piece sizes of a random_pieces run, from the input's seed byte.
struct PieceSizes {
  std::uint64_t state;
  std::size_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    // One piece in eight is empty; the others are 1 to 40 bytes, so pieces
    // split headers at every offset.
    return z % 8 == 0 ? 0 : 1 + static_cast<std::size_t>((z >> 3) % 40);
  }
};

Verdict run_decoder(BytesView stream, std::size_t frame_bytes_max, Feeding feeding,
                    std::uint8_t seed) {
  FrameDecoder decoder(kFuzzCluster, frame_bytes_max);
  PieceSizes pieces{seed};
  Verdict v;
  std::size_t fed = 0;
  std::size_t consumed = 0;  // stream bytes returned as frames so far
  std::size_t largest_allocation_bytes = 0;
  // Bounded: every feed but the empty ones (one in eight) advances.
  for (std::size_t feeds = 0; !v.error && fed < stream.size(); ++feeds) {
    std::size_t piece = stream.size() - fed;
    if (feeding == Feeding::byte_by_byte) piece = 1;
    if (feeding == Feeding::random_pieces && feeds < 4 * stream.size()) {
      piece = std::min(piece, pieces.next());
    }
    measure_allocations(largest_allocation_bytes, [&] { decoder.feed(stream.substr(fed, piece)); });
    fed += piece;

    // Drain. Bounded: each frame consumes at least a header's worth of bytes.
    for (std::size_t steps = 0;; ++steps) {
      SYNOD_FUZZ_CHECK(steps <= fed / kFrameHeaderBytes + 1,
                       "more frames than " + std::to_string(fed) + " bytes can hold");
      DecodeStep step =
          measure_allocations(largest_allocation_bytes, [&] { return decoder.next(); });
      if (std::holds_alternative<NeedMoreBytes>(step)) break;
      if (auto* error = std::get_if<FrameError>(&step)) {
        v.error = std::move(*error);
        break;
      }
      Frame& frame = std::get<Frame>(step);
      const std::size_t frame_bytes = kFrameHeaderBytes + frame.payload.size();
      SYNOD_FUZZ_CHECK(frame_bytes <= frame_bytes_max, std::to_string(frame_bytes) +
                                                           "-byte frame over the limit of " +
                                                           std::to_string(frame_bytes_max));
      SYNOD_FUZZ_CHECK(consumed + frame_bytes <= fed, "frame of " + std::to_string(frame_bytes) +
                                                          " bytes at offset " +
                                                          std::to_string(consumed) + " but only " +
                                                          std::to_string(fed) + " bytes were fed");
      SYNOD_FUZZ_CHECK(
          net::encode_frame(kFuzzCluster, frame.type, frame.payload) ==
              stream.substr(consumed, frame_bytes),
          "frame at offset " + std::to_string(consumed) + " does not re-encode to its bytes");
      SYNOD_FUZZ_CHECK(!decoder.failed(), "failed() after returning a frame");
      consumed += frame_bytes;
      v.frames.push_back(std::move(frame));
    }
  }

  SYNOD_FUZZ_CHECK(largest_allocation_bytes <= kAllocationSlackBytes + 2 * fed,
                   "decoder allocated " + std::to_string(largest_allocation_bytes) +
                       " bytes at once after being fed " + std::to_string(fed));
  if (!v.error) {
    SYNOD_FUZZ_CHECK(!decoder.failed(), "failed() without having returned an error");
    return v;
  }

  const FrameError& error = *v.error;
  SYNOD_FUZZ_CHECK(
      error.reason != FrameErrorReason::undecodable_payload && to_string(error.reason) != "unknown",
      "decoder returned reason " + std::string(to_string(error.reason)));
  SYNOD_FUZZ_CHECK(
      !error.message.empty() && error.message.size() <= kErrorSentenceBytesMax,
      "error sentence of " + std::to_string(error.message.size()) + " bytes: " + error.message);
  SYNOD_FUZZ_CHECK(decoder.failed(), "failed() is false after an error");
  decoder.feed(net::encode_frame(kFuzzCluster, 1, "valid frame after the error"));
  DecodeStep again = decoder.next();
  const auto* repeated = std::get_if<FrameError>(&again);
  SYNOD_FUZZ_CHECK(
      repeated && repeated->reason == error.reason && repeated->message == error.message,
      "after " + std::string(to_string(error.reason)) + " the decoder did not repeat the error");
  return v;
}

bool same_frames(const Verdict& a, const Verdict& b) { return a.frames == b.frames; }

bool same_reason(const Verdict& a, const Verdict& b) {
  if (a.error.has_value() != b.error.has_value()) return false;
  return !a.error || a.error->reason == b.error->reason;
}

bool same_verdict(const Verdict& a, const Verdict& b) {
  return same_frames(a, b) && same_reason(a, b) &&
         (!a.error || a.error->message == b.error->message);
}

void check_stream(const std::uint8_t* data, std::size_t size) {
  std::uint8_t prefix[kFrameInputPrefixBytes] = {kFrameLimitSelectorDefault, 0, 0};
  std::copy_n(data, std::min(size, kFrameInputPrefixBytes), prefix);
  const std::size_t frame_bytes_max = frame_bytes_max_for(prefix[0]);
  const std::uint8_t seed = prefix[1];
  const std::uint8_t flags = prefix[2];

  Bytes stream;
  if (size > kFrameInputPrefixBytes) {
    stream.assign(reinterpret_cast<const char*>(data) + kFrameInputPrefixBytes,
                  size - kFrameInputPrefixBytes);
  }
  if (flags & kFrameFlagFixChecksums) fix_checksums(stream);

  const Verdict model = model_decode(stream, frame_bytes_max);
  const Verdict whole = run_decoder(stream, frame_bytes_max, Feeding::whole, seed);
  SYNOD_FUZZ_CHECK(same_frames(whole, model) && same_reason(whole, model),
                   "decoder: " + describe(whole) + "; model: " + describe(model));

  const Verdict bytes = run_decoder(stream, frame_bytes_max, Feeding::byte_by_byte, seed);
  SYNOD_FUZZ_CHECK(same_verdict(bytes, whole),
                   "byte by byte: " + describe(bytes) + "; whole: " + describe(whole));

  const Verdict pieces = run_decoder(stream, frame_bytes_max, Feeding::random_pieces, seed);
  SYNOD_FUZZ_CHECK(same_verdict(pieces, whole),
                   "in pieces: " + describe(pieces) + "; whole: " + describe(whole));
}

}  // namespace
}  // namespace synod::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  synod::fuzz::check_stream(data, size);
  return 0;
}
