// Snapshots of the kv store: a round trip rebuilds the same state, and a
// restore of anything else fails without touching the state it would replace.

#include <cstdint>
#include <optional>
#include <random>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "common/crc32.h"
#include "kv/kv_snapshot.h"
#include "kv/kv_store.h"
#include "kv_test_util.h"

namespace synod::kv {
namespace {

// A store with history: overwrites, deletes, a re-created key, binary bytes.
KvStateMachine sample_store() {
  KvStateMachine kv;
  kv.execute(Put{"a", "1", std::nullopt});
  kv.execute(Put{"b", "2", std::nullopt});
  kv.execute(Put{"a", "3", std::nullopt});
  kv.execute(Delete{"b", std::nullopt});
  kv.execute(Put{"b", "4", std::nullopt});
  kv.execute(Put{Bytes("\0k\xff", 3), Bytes("\0\x01", 2), std::nullopt});
  kv.execute(Cas{"a", "3", ""});
  kv.execute(Put{"gone", "x", std::nullopt});
  kv.execute(Delete{"gone", std::nullopt});  // the revision counts a key no longer there
  return kv;
}

Bytes snapshot_of(const KvStateMachine& kv) {
  std::ostringstream out;
  kv.write_snapshot(out);
  EXPECT_TRUE(out.good());
  return out.str();
}

bool restore(KvStateMachine& kv, const Bytes& bytes) {
  std::istringstream in(bytes);
  return kv.restore_snapshot(in);
}

void put_le(Bytes& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// A snapshot around a hand-made body, with a correct length and checksum.
Bytes wrap_body(const Bytes& body, std::uint32_t format = kSnapshotFormatVersion) {
  Bytes out = "synod-kv";
  put_le(out, format, 4);
  put_le(out, body.size(), 8);
  out += body;
  put_le(out, crc32(body), 4);
  return out;
}

Bytes body_key(const Bytes& key, const Bytes& value, std::uint64_t version, std::uint64_t create, std::uint64_t mod) {
  Bytes b;
  put_le(b, key.size(), 8);
  b += key;
  put_le(b, value.size(), 8);
  b += value;
  put_le(b, version, 8);
  put_le(b, create, 8);
  put_le(b, mod, 8);
  return b;
}

TEST(KvSnapshot, RoundTripRebuildsTheSameState) {
  KvStateMachine original = sample_store();
  ASSERT_EQ(original.revision(), 9u);
  ASSERT_EQ(original.key_count(), 3u);
  KvStateMachine copy;
  ASSERT_TRUE(restore(copy, snapshot_of(original))) << copy.last_restore_error();
  EXPECT_EQ(copy.state(), original.state());
  EXPECT_EQ(copy.revision(), 9u);
  EXPECT_TRUE(copy.last_restore_error().empty());
  // And the two go on identically.
  for (const KvRequest& op : {KvRequest{Put{"b", "5", 2}}, KvRequest{Put{"gone", "y", 0}}, KvRequest{List{"", 0}}}) {
    EXPECT_EQ(copy.execute(op), original.execute(op)) << op_name(op);
  }
  EXPECT_EQ(copy.state(), original.state());
}

TEST(KvSnapshot, RoundTripOfAnEmptyStore) {
  KvStateMachine copy = sample_store();
  ASSERT_TRUE(restore(copy, snapshot_of(KvStateMachine{}))) << copy.last_restore_error();
  EXPECT_EQ(copy.revision(), 0u);
  EXPECT_EQ(copy.key_count(), 0u);
}

TEST(KvSnapshot, RoundTripOfLargeValues) {
  KvStateMachine original;
  original.execute(Put{Bytes(kKeyBytesMax, 'k'), Bytes(kValueBytesMax, 'v'), std::nullopt});
  original.execute(Put{"medium", Bytes(std::size_t{3} << 18, 'm'), std::nullopt});
  KvStateMachine copy;
  ASSERT_TRUE(restore(copy, snapshot_of(original))) << copy.last_restore_error();
  EXPECT_EQ(copy.state(), original.state());
}

// rsm::Applier writes its own table before ours on the same stream, and may
// write more after: the snapshot must end exactly where it ends.
TEST(KvSnapshot, ReadsExactlyItsOwnBytes) {
  const KvStateMachine original = sample_store();
  std::stringstream stream;
  stream << "HEAD";
  original.write_snapshot(stream);
  stream << "TAIL";
  char head[4];
  ASSERT_TRUE(stream.read(head, 4));
  KvStateMachine copy;
  ASSERT_TRUE(copy.restore_snapshot(stream)) << copy.last_restore_error();
  EXPECT_EQ(copy.state(), original.state());
  std::string rest;
  stream >> rest;
  EXPECT_EQ(rest, "TAIL");
}

// Restores `bytes` over a store holding sample_store(): it must fail, say
// why, and leave the state as it was.
void expect_refused(const Bytes& bytes, const std::string& wanted = "") {
  KvStateMachine kv = sample_store();
  const KvState before = kv.state();
  EXPECT_FALSE(restore(kv, bytes)) << printable(bytes);
  EXPECT_EQ(kv.state(), before);
  EXPECT_FALSE(kv.last_restore_error().empty());
  if (!wanted.empty()) {
    EXPECT_TRUE(contains(kv.last_restore_error(), wanted)) << kv.last_restore_error();
  }
}

TEST(KvSnapshot, RestoreRefusesEveryTruncation) {
  const Bytes good = snapshot_of(sample_store());
  for (std::size_t len = 0; len < good.size(); ++len) {
    SCOPED_TRACE("cut to " + std::to_string(len) + " of " + std::to_string(good.size()));
    expect_refused(good.substr(0, len), "truncated");
  }
}

TEST(KvSnapshot, RestoreRefusesEverySingleBitFlip) {
  const Bytes good = snapshot_of(sample_store());
  for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
    SCOPED_TRACE("bit " + std::to_string(bit));
    Bytes flipped = good;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    expect_refused(flipped);
  }
}

TEST(KvSnapshot, RestoreRefusesRandomGarbage) {
  const std::uint64_t seed = 20240919;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  constexpr int kInputs = 2'000;
  constexpr std::size_t kInputBytesMax = 200;
  for (int i = 0; i < kInputs; ++i) {
    Bytes garbage(rng() % (kInputBytesMax + 1), '\0');
    for (char& c : garbage) c = static_cast<char>(rng());
    // Half of them behind a real header, to reach the body.
    if (i % 2 == 0) garbage = wrap_body(garbage);
    SCOPED_TRACE("input " + std::to_string(i));
    expect_refused(garbage);
  }
}

TEST(KvSnapshot, RestoreRefusesAnotherMagicOrFormat) {
  Bytes bad_magic = snapshot_of(sample_store());
  bad_magic[0] = 'S';
  expect_refused(bad_magic, "not a kv snapshot");
  expect_refused("", "truncated in its header");
  const Bytes body = Bytes(16, '\0');  // revision 0, no keys
  {
    KvStateMachine kv;
    ASSERT_TRUE(restore(kv, wrap_body(body))) << kv.last_restore_error();
  }
  expect_refused(wrap_body(body, 2), "format 2 is not one this node knows (1)");
}

TEST(KvSnapshot, RestoreRefusesADamagedBody) {
  Bytes damaged = snapshot_of(sample_store());
  damaged[8 + 4 + 8 + 3] ^= 0x10;  // a byte of the body
  expect_refused(damaged, "does not match its checksum");
}

TEST(KvSnapshot, RestoreRefusesAnImpossibleState) {
  KvState broken;
  broken.revision = 1;
  broken.keys["a"] = KvRecord{"1", 1, 1, 1};
  broken.keys["b"] = KvRecord{"2", 1, 1, 1};  // two keys changed by revision 1
  std::ostringstream out;
  write_snapshot(out, broken);
  expect_refused(out.str(), "impossible state");
  expect_refused(out.str(), "revision 1 also changed key");
}

TEST(KvSnapshot, RestoreRefusesKeysOutOfOrder) {
  Bytes body;
  put_le(body, 2, 8);  // revision
  put_le(body, 2, 8);  // key count
  body += body_key("b", "", 1, 1, 1);
  body += body_key("a", "", 1, 2, 2);
  expect_refused(wrap_body(body), "strictly increasing order");
  Bytes duplicate;
  put_le(duplicate, 2, 8);
  put_le(duplicate, 2, 8);
  duplicate += body_key("a", "", 1, 1, 1);
  duplicate += body_key("a", "", 1, 2, 2);
  expect_refused(wrap_body(duplicate), "strictly increasing order");
}

TEST(KvSnapshot, RestoreRefusesBytesLeftOverInTheBody) {
  Bytes body;
  put_le(body, 1, 8);
  put_le(body, 1, 8);
  body += body_key("a", "", 1, 1, 1);
  body += "x";
  expect_refused(wrap_body(body), "1 bytes left over");
}

TEST(KvSnapshot, RestoreOfALyingLengthAllocatesOnlyWhatArrives) {
  Bytes lying = "synod-kv";
  put_le(lying, kSnapshotFormatVersion, 4);
  put_le(lying, std::uint64_t{1} << 40, 8);
  lying += Bytes(100, '\0');
  KvStateMachine kv = sample_store();
  bool ok = true;
  const std::size_t largest = largest_allocation_bytes([&] { ok = restore(kv, lying); });
  EXPECT_FALSE(ok);
  EXPECT_TRUE(contains(kv.last_restore_error(), "its body of 1099511627776 bytes ends after 100"))
      << kv.last_restore_error();
  EXPECT_LE(largest, std::size_t{4} << 20);
}

TEST(KvSnapshot, RestoreOfALyingKeyCountAllocatesOnlyWhatArrives) {
  Bytes body;
  put_le(body, 1, 8);
  put_le(body, std::uint64_t{1} << 40, 8);
  body += body_key("a", "", 1, 1, 1);
  KvStateMachine kv = sample_store();
  bool ok = true;
  const std::size_t largest = largest_allocation_bytes([&] { ok = restore(kv, wrap_body(body)); });
  EXPECT_FALSE(ok);
  EXPECT_TRUE(contains(kv.last_restore_error(), "collection count 1099511627776 exceeds")) << kv.last_restore_error();
  EXPECT_LT(largest, 4096u);
}

TEST(KvSnapshot, ASuccessfulRestoreClearsTheLastError) {
  KvStateMachine kv;
  EXPECT_FALSE(restore(kv, "junk"));
  EXPECT_FALSE(kv.last_restore_error().empty());
  ASSERT_TRUE(restore(kv, snapshot_of(sample_store())));
  EXPECT_TRUE(kv.last_restore_error().empty());
  EXPECT_EQ(kv.revision(), 9u);
}

}  // namespace
}  // namespace synod::kv
