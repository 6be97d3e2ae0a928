// Writes the seed corpus of the fuzz targets: valid inputs of every kind, and
// hand-made broken ones that sit just past each check. Deterministic, so the
// checked-in corpus can be regenerated and reviewed as a diff:
//
//   build/tests/fuzz/fuzz_make_corpus tests/fuzz/corpus
//
// writes OUT/frame/*.bin and OUT/codec/*.bin (overwriting files of the same
// name, leaving others alone).

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/view.h"
#include "inputs.h"
#include "net/codec.h"
#include "net/frame.h"
#include "paxos/messages.h"
#include "paxos/records.h"
#include "rsm/messages.h"

namespace synod::fuzz {
namespace {

namespace fs = std::filesystem;

// Little-endian field writer, for the hand-made payloads.
struct Wire {
  Bytes bytes;
  Wire& u8(std::uint8_t v) {
    bytes.push_back(static_cast<char>(v));
    return *this;
  }
  Wire& u16(std::uint16_t v) { return le(v, 2); }
  Wire& u64(std::uint64_t v) { return le(v, 8); }
  Wire& str(const std::string& s) {
    u64(s.size());
    bytes += s;
    return *this;
  }
  Wire& raw(BytesView b) {
    bytes += b;
    return *this;
  }
  Wire& le(std::uint64_t v, int width) {
    for (int i = 0; i < width; ++i) bytes.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
    return *this;
  }
};

void write(const fs::path& dir, const std::string& name, BytesView bytes) {
  std::ofstream out(dir / (name + ".bin"), std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
    std::exit(1);
  }
}

View view(ViewId vid, NodeId primary, std::vector<NodeId> backups) {
  return View::make(vid, std::move(primary), std::move(backups)).value();
}

struct Named {
  std::string name;
  paxos::Message message;
};

std::vector<Named> sample_messages() {
  const ProposalNumber n{3, "n1"};
  const View v3 = view(3, "n1", {"n2", "n3"});
  const View v5 = view(5, "n4", {"n1", "n2", "n3", "n5"});
  const std::string long_id(kNodeIdLengthMax, 'z');
  return {
      {"prepare", {"n1", "n2", paxos::Prepare{3, n}}},
      {"promise-empty", {"n2", "n1", paxos::Promise{3, n, {}, std::nullopt}}},
      {"promise-with-value", {"n2", "n1", paxos::Promise{3, n, {2, "n3"}, v3}}},
      {"accept", {"n1", "n3", paxos::Accept{3, n, v3}}},
      {"accept-five-members", {"n4", "n5", paxos::Accept{5, {9, "n4"}, v5}}},
      {"accepted", {"n3", "n1", paxos::Accepted{3, n}}},
      {"reject", {"n3", "n1", paxos::Reject{3, n, {4, "n2"}}}},
      {"decided", {"n1", "n2", paxos::Decided{3, v3}}},
      {"decided-single-member", {"a", "b", paxos::Decided{1, view(1, "a", {})}}},
      {"learn", {"n2", "n1", paxos::Learn{~0ULL}}},
      {"learn-longest-ids", {long_id, "A-z_0.9", paxos::Learn{1}}},
  };
}

struct NamedRsm {
  std::string name;
  rsm::Message message;
};

std::vector<NamedRsm> sample_rsm_messages() {
  using rsm::LogEntry;
  Bytes every_byte;
  for (int i = 0; i < 256; ++i) every_byte.push_back(static_cast<char>(i));
  rsm::Append many{4, {4, 0}, {}, {4, 0}};
  for (std::uint64_t seq = 1; seq <= 32; ++seq) {
    many.entries.push_back({{4, seq}, 100 + seq % 3, seq, Bytes(seq % 4, static_cast<char>(seq))});
  }
  return {
      {"append-heartbeat", {"n1", "n2", rsm::Append{3, {3, 7}, {}, {3, 5}}}},
      {"append-noop", {"n1", "n2", rsm::Append{3, {2, 9}, {LogEntry{{3, 1}, 0, 0, ""}}, {2, 9}}}},
      {"append-entries",
       {"n1", "n3",
        rsm::Append{3,
                    {3, 1},
                    {LogEntry{{3, 2}, 42, 1, "set x 1"}, LogEntry{{3, 3}, 42, 2, every_byte},
                     LogEntry{{3, 4}, ~0ULL, ~0ULL, Bytes("\0\0\xFF\0", 4)}},
                    {3, 2}}}},
      {"append-32-entries", {"n4", "n5", std::move(many)}},
      {"append-ack", {"n2", "n1", rsm::AppendAck{3, {3, 4}, {2, 9}}}},
      {"append-ack-nothing-durable", {"n2", "n1", rsm::AppendAck{1, {}, {}}}},
      {"append-gap", {"n3", "n1", rsm::AppendGap{3, {2, 9}}}},
      {"append-gap-max", {"n3", "n1", rsm::AppendGap{~0ULL, {~0ULL, ~0ULL}}}},
      {"read-confirm", {"n1", "n2", rsm::ReadConfirm{3, 17}}},
      {"read-confirm-ack", {"n2", "n1", rsm::ReadConfirmAck{3, 17}}},
      {"snapshot-chunk", {"n1", "n2", rsm::SnapshotChunk{3, {2, 9}, 10, 0xdeadbeef, 4, "abc\0ef", 0x1234}}},
      {"snapshot-ack", {"n2", "n1", rsm::SnapshotAck{3, {2, 9}, 10, true}}},
      {"rebuild-request", {"n2", "n1", rsm::RebuildRequest{3, 0x1234567890abcdefULL}}},
      {"rebuild-done", {"n1", "n2", rsm::RebuildDone{7, 5, 0x1234567890abcdefULL}}},
      {"snapshot-serve", {"n1", "n2", rsm::SnapshotServe{7, "n4"}}},
  };
}

std::vector<std::pair<std::string, paxos::Write>> sample_records() {
  const View v = view(2, "n1", {"n2", "n3"});
  return {
      {"acceptor-empty", paxos::AcceptorRecord{2, {}}},
      {"acceptor-promised", paxos::AcceptorRecord{2, {{3, "n1"}, {}, std::nullopt}}},
      {"acceptor-accepted", paxos::AcceptorRecord{2, {{3, "n1"}, {3, "n1"}, v}}},
      {"decided", paxos::DecidedRecord{2, v}},
      {"round", paxos::RoundRecord{7}},
      {"round-max", paxos::RoundRecord{~0ULL}},
  };
}

// --- Codec inputs: [kind] then the record, or [kind][type u16] then the payload.

Bytes message_input(std::uint16_t type, BytesView payload) {
  return Wire{}.u8(kCodecKindMessage).u16(type).raw(payload).bytes;
}

template <class Message>
Bytes message_input(const Message& m) {
  net::EncodedMessage e = net::encode_message(m);
  return message_input(static_cast<std::uint16_t>(e.type), e.payload);
}

Bytes record_input(BytesView record) { return Wire{}.u8(kCodecKindRecord).raw(record).bytes; }

// RSM messages broken on purpose, one check each. An op over kOpBytesMax
// needs a megabyte of input: the unit tests cover that one.
void write_bad_rsm_inputs(const fs::path& dir, const Bytes& good_prepare) {
  constexpr auto kAppend = static_cast<std::uint16_t>(net::MessageType::kRsmAppend);
  constexpr auto kAck = static_cast<std::uint16_t>(net::MessageType::kRsmAppendAck);
  constexpr auto kGap = static_cast<std::uint16_t>(net::MessageType::kRsmAppendGap);
  constexpr auto kPrepare = static_cast<std::uint16_t>(net::MessageType::kPaxosPrepare);
  // Append: from, to, vid, prev, entry count, entries (vs, client id,
  // request number, op), commit.
  const auto append_head = [](std::uint64_t count) {
    return Wire{}.str("n1").str("n2").u64(3).u64(3).u64(1).u64(count);
  };
  const auto entry = [](Wire& w, std::uint64_t seq) {
    w.u64(3).u64(seq).u64(7).u64(seq).str("op");
  };
  const Bytes good_ack = Wire{}.str("n2").str("n1").u64(3).u64(3).u64(2).bytes;

  write(dir, "bad-rsm-type-17", message_input(17, good_ack));
  write(dir, "bad-rsm-paxos-payload-as-append", message_input(kAppend, good_prepare));
  write(dir, "bad-rsm-ack-payload-as-prepare", message_input(kPrepare, good_ack));
  write(dir, "bad-rsm-ack-truncated", message_input(kAck, BytesView(good_ack).substr(0, 30)));
  write(dir, "bad-rsm-ack-trailing-byte", message_input(kAck, good_ack + '\0'));
  write(dir, "bad-rsm-gap-bad-sender",
        message_input(kGap, Wire{}.str("n 2").str("n1").u64(3).u64(3).u64(2).bytes));
  write(dir, "bad-rsm-gap-empty-receiver",
        message_input(kGap, Wire{}.str("n2").str("").u64(3).u64(3).u64(2).bytes));
  // One entry over the bound, with as many bytes behind the count as it
  // claims entries, so the count passes the bytes-left check and meets the
  // bound itself.
  write(dir, "bad-rsm-append-too-many-entries",
        message_input(kAppend, append_head(net::kAppendEntriesMax + 1).bytes +
                                   Bytes(net::kAppendEntriesMax + 1, '\0')));
  write(dir, "bad-rsm-append-lying-count",
        message_input(kAppend, append_head(1ULL << 40).u64(3).u64(1).bytes));
  Wire short_count = append_head(3);  // says three, holds two
  entry(short_count, 1);
  entry(short_count, 2);
  write(dir, "bad-rsm-append-count-short", message_input(kAppend, short_count.u64(3).u64(2).bytes));
  Wire long_count = append_head(1);  // says one, holds two
  entry(long_count, 1);
  entry(long_count, 2);
  write(dir, "bad-rsm-append-count-long", message_input(kAppend, long_count.u64(3).u64(2).bytes));
  write(dir, "bad-rsm-append-lying-op-length",
        message_input(kAppend, append_head(1).u64(3).u64(1).u64(7).u64(1).u64(1ULL << 40).bytes));
}

void write_codec_corpus(const fs::path& dir) {
  for (const Named& s : sample_messages()) write(dir, "msg-" + s.name, message_input(s.message));
  for (const NamedRsm& s : sample_rsm_messages()) {
    write(dir, "rsm-" + s.name, message_input(s.message));
  }
  for (const auto& [name, w] : sample_records()) {
    write(dir, "rec-" + name, record_input(net::encode_record(w)));
  }

  const auto prepare = [](Wire w) { return w.u64(3).u64(3).str("n1").bytes; };  // instance, n
  const auto from_to = [] { return Wire{}.str("n1").str("n2"); };
  constexpr auto kPrepare = static_cast<std::uint16_t>(net::MessageType::kPaxosPrepare);
  constexpr auto kDecided = static_cast<std::uint16_t>(net::MessageType::kPaxosDecided);
  constexpr auto kPromise = static_cast<std::uint16_t>(net::MessageType::kPaxosPromise);

  // Broken on purpose, one check each.
  const Bytes good_prepare = prepare(from_to());
  write(dir, "bad-msg-truncated", message_input(kPrepare, BytesView(good_prepare).substr(0, 20)));
  write(dir, "bad-msg-trailing-byte", message_input(kPrepare, good_prepare + '\0'));
  write(dir, "bad-msg-type-0", message_input(0, good_prepare));
  write(dir, "bad-msg-type-17", message_input(17, good_prepare));
  write(dir, "bad-msg-type-ffff", message_input(0xFFFF, good_prepare));
  write(dir, "bad-msg-lying-string-length",
        message_input(kPrepare, prepare(Wire{}.u64(1ULL << 40).raw("n1").str("n2"))));
  write(dir, "bad-msg-empty-sender", message_input(kPrepare, prepare(Wire{}.str("").str("n2"))));
  write(dir, "bad-msg-id-bad-char", message_input(kPrepare, prepare(Wire{}.str("n/1").str("n2"))));
  write(dir, "bad-msg-id-too-long",
        message_input(kPrepare,
                      prepare(Wire{}.str(std::string(kNodeIdLengthMax + 1, 'x')).str("n2"))));
  write(dir, "bad-msg-number-without-node",
        message_input(kPrepare, from_to().u64(3).u64(3).str("").bytes));
  // Promise: instance, n, accepted_n, then the presence byte of accepted_value
  // (the fields after it do not matter: decoding stops at the bad byte).
  const auto promise_head = [&] { return from_to().u64(3).u64(3).str("n1").u64(0).str(""); };
  write(dir, "bad-msg-bool-byte-2", message_input(kPromise, promise_head().u8(2).bytes));
  // Decided: instance, then the view: vid, primary, backup count, backups.
  const auto decided = [&](std::uint64_t vid, const char* primary, std::uint64_t count,
                           std::vector<std::string> backups) {
    Wire w = from_to().u64(vid).u64(vid).str(primary).u64(count);
    for (const auto& b : backups) w.str(b);
    return message_input(kDecided, w.bytes);
  };
  write(dir, "bad-msg-view-id-0", decided(0, "n1", 0, {}));
  write(dir, "bad-msg-view-unsorted", decided(4, "n1", 2, {"n3", "n2"}));
  write(dir, "bad-msg-view-duplicate", decided(4, "n1", 2, {"n2", "n2"}));
  write(dir, "bad-msg-view-primary-is-backup", decided(4, "n1", 1, {"n1"}));
  write(dir, "bad-msg-view-lying-count", decided(4, "n1", 1ULL << 60, {"n2"}));
  write(dir, "bad-msg-view-count-short", decided(4, "n1", 3, {"n2", "n3"}));

  write_bad_rsm_inputs(dir, good_prepare);

  write(dir, "bad-rec-kind-3", record_input(Wire{}.u8(3).u64(5).bytes));
  write(dir, "bad-rec-truncated", record_input(Wire{}.u8(2).u64(5).bytes.substr(0, 6)));
  write(dir, "bad-rec-trailing", record_input(Wire{}.u8(2).u64(5).u8(0).bytes));
  write(dir, "bad-rec-decided-view-0",
        record_input(Wire{}.u8(1).u64(2).u64(0).str("n1").u64(0).bytes));
  write(dir, "bad-rec-acceptor-lying-length",
        record_input(Wire{}.u8(0).u64(2).u64(3).u64(~0ULL).bytes));
  write(dir, "empty", "");
}

// --- Frame inputs: [limit selector][chunking seed][flags] then the stream.

Bytes frame_input(BytesView stream, std::uint8_t seed, std::uint8_t flags = 0,
                  std::uint8_t limit = kFrameLimitSelectorDefault) {
  return Wire{}.u8(limit).u8(seed).u8(flags).raw(stream).bytes;
}

Bytes frame(std::uint16_t type, BytesView payload) {
  return net::encode_frame(kFuzzCluster, type, payload);
}

Bytes message_frame(const paxos::Message& m) {
  net::EncodedMessage e = net::encode_message(m);
  return frame(static_cast<std::uint16_t>(e.type), e.payload);
}

void write_frame_corpus(const fs::path& dir) {
  std::uint8_t seed = 0;
  Bytes all;
  for (const Named& s : sample_messages()) {
    const Bytes f = message_frame(s.message);
    write(dir, "frame-" + s.name, frame_input(f, ++seed));
    all += f;
  }
  write(dir, "stream-every-message", frame_input(all, ++seed));
  write(dir, "frame-empty-payload", frame_input(frame(0, ""), ++seed));
  write(dir, "frame-type-ffff", frame_input(frame(0xFFFF, "payload"), ++seed));
  write(
      dir, "stream-three-then-partial",
      frame_input(frame(1, "a") + frame(2, "bb") + frame(3, "ccc") + frame(4, "dddd").substr(0, 30),
                  ++seed));
  write(dir, "stream-partial-header", frame_input(frame(1, "abc").substr(0, 10), ++seed));
  write(dir, "stream-header-only-of-long-frame",
        frame_input(frame(1, "abcdef").substr(0, 24), ++seed));
  write(dir, "empty", frame_input("", 0));
  write(dir, "prefix-only", Wire{}.u8(kFrameLimitSelectorDefault).u8(1).bytes);

  // Just inside and just outside a small limit (selector 2: header + 32 bytes).
  const std::uint8_t limit = 2;
  const std::size_t payload_max = frame_bytes_max_for(limit) - net::kFrameHeaderBytes;
  write(dir, "limit-exactly-at", frame_input(frame(1, Bytes(payload_max, 'x')), ++seed, 0, limit));
  write(dir, "bad-limit-one-over",
        frame_input(frame(1, Bytes(payload_max + 1, 'x')), ++seed, 0, limit));
  write(dir, "limit-header-only", frame_input(frame(7, ""), ++seed, 0, 0));

  // Broken on purpose, one check each, after a good frame so the error is not
  // always at offset 0.
  const Bytes good = frame(3, "good");
  auto broken = [&](std::size_t at, char value) {
    Bytes f = frame(5, "broken");
    f[at] = value;
    return good + f;
  };
  write(dir, "bad-magic", frame_input(broken(0, 's'), ++seed));
  write(dir, "bad-magic-last-byte", frame_input(broken(3, 'X'), ++seed));
  write(dir, "bad-version", frame_input(broken(4, 2), ++seed));
  write(dir, "bad-cluster", frame_input(broken(15, 0x7F), ++seed));
  write(dir, "bad-length-huge", frame_input(broken(19, 0x40), ++seed));
  write(dir, "bad-checksum", frame_input(broken(20, 0), ++seed));
  write(dir, "bad-payload-byte", frame_input(broken(24, '!'), ++seed));
  // The same corruption with the checksum flag: the frame decodes, changed.
  write(dir, "fixed-payload-byte", frame_input(broken(24, '!'), ++seed, kFrameFlagFixChecksums));
  write(dir, "fixed-type", frame_input(broken(6, 9), ++seed, kFrameFlagFixChecksums));
  write(dir, "fixed-length-shorter", frame_input(broken(16, 2), ++seed, kFrameFlagFixChecksums));
  write(dir, "bad-http-request", frame_input("GET / HTTP/1.1\r\nHost: n1\r\n\r\n", ++seed));
  write(dir, "bad-tls-hello",
        frame_input(Wire{}.u8(0x16).u8(3).u8(1).u8(0).u8(0xA5).bytes, ++seed));
}

}  // namespace
}  // namespace synod::fuzz

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR   (writes OUT_DIR/frame and OUT_DIR/codec)\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1];
  fs::create_directories(out / "frame");
  fs::create_directories(out / "codec");
  synod::fuzz::write_frame_corpus(out / "frame");
  synod::fuzz::write_codec_corpus(out / "codec");
  return 0;
}
