#pragma once
// Helpers for the tests of a node's whole batch (node_batch.h) and its
// recovery (node_load.h): a store in a temp dir, values to persist, a raw
// dump of the store, and short printing of snapshots (which may be MiBs).

#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/crc32.h"
#include "storage/big_endian.h"
#include "storage/node_batch.h"
#include "storage/node_load.h"
#include "storage/snapshot_store.h"
#include "storage/store.h"

namespace synod::rsm {

inline void PrintTo(const SnapshotImage& s, std::ostream* out) {
  *out << "SnapshotImage{through " << to_string(s.through) << ", " << s.bytes.size()
       << " bytes, crc " << crc32(s.bytes) << "}";
}
inline void PrintTo(const SnapshotPiece& p, std::ostream* out) {
  *out << "SnapshotPiece{through " << to_string(p.through) << ", total " << p.total_bytes
       << ", crc " << p.snapshot_crc << ", offset " << p.offset << ", " << p.data.size()
       << " bytes, data crc " << crc32(p.data) << "}";
}
inline void PrintTo(const LogEntry& e, std::ostream* out) {
  *out << to_string(e.vs) << " c" << e.client_id << "#" << e.request_no;
}

}  // namespace synod::rsm

namespace synod::storage::testing {

inline std::unique_ptr<Store> open_ok(const std::string& dir) {
  Result<std::unique_ptr<Store>> store = Store::open({dir, "n1", 7});
  EXPECT_TRUE(store.ok()) << store.error().message;
  return store.ok() ? std::move(store).value() : nullptr;
}

inline rsm::LogEntry entry(ViewId vid, std::uint64_t seq) {
  return rsm::LogEntry{{vid, seq}, 7, seq, "op " + std::to_string(vid) + "." + std::to_string(seq)};
}

// Entries (vid, first) .. (vid, last).
inline std::vector<rsm::LogEntry> run(ViewId vid, std::uint64_t first, std::uint64_t last) {
  std::vector<rsm::LogEntry> out;
  for (std::uint64_t seq = first; seq <= last; ++seq) out.push_back(entry(vid, seq));
  return out;
}

inline View view(ViewId vid, NodeId primary, std::vector<NodeId> backups) {
  return View::make(vid, std::move(primary), std::move(backups)).value();
}

inline std::vector<paxos::Write> some_paxos_writes() {
  return {
      paxos::AcceptorRecord{3, {{4, "n2"}, {4, "n2"}, view(3, "n2", {"n1", "n3"})}},
      paxos::DecidedRecord{2, view(2, "n1", {"n2"})},
      paxos::RoundRecord{6},
  };
}

inline paxos::DurableState folded(const std::vector<paxos::Write>& writes) {
  paxos::DurableState state;
  for (const paxos::Write& w : writes) state.apply(w);
  return state;
}

// `n` bytes of every value, NUL included, varying with `seed`.
inline Bytes blob(std::size_t n, unsigned seed = 0) {
  Bytes out(n, '\0');
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<char>((i * 131 + seed + i / 251) & 0xff);
  return out;
}

inline rsm::SnapshotImage image(Viewstamp through, Bytes bytes) {
  return rsm::SnapshotImage{through, std::move(bytes)};
}

// The piece of `whole` (a snapshot through `through`) at [offset, offset + n).
inline rsm::SnapshotPiece piece(Viewstamp through, const Bytes& whole, std::uint64_t offset,
                                std::size_t n) {
  return rsm::SnapshotPiece{through, whole.size(), crc32(whole), offset, whole.substr(offset, n)};
}

// What load_node gives for a partial snapshot holding whole[0, n).
inline rsm::SnapshotPiece partial_of(Viewstamp through, const Bytes& whole, std::size_t n) {
  return piece(through, whole, 0, n);
}

inline void persist_ok(Store& store, const NodeBatch& batch) {
  Status s = persist(store, batch);
  ASSERT_TRUE(s.ok()) << s.error().message;
}

inline rsm::Recovered load_ok(const Store& store, std::vector<std::string>* warnings = nullptr) {
  Result<rsm::Recovered> loaded = load_node(store, warnings);
  EXPECT_TRUE(loaded.ok()) << loaded.error().message;
  return loaded.ok() ? std::move(loaded).value() : rsm::Recovered{};
}

inline void expect_load_fails(const Store& store, const std::vector<std::string>& words) {
  Result<rsm::Recovered> loaded = load_node(store);
  ASSERT_FALSE(loaded.ok()) << "loaded a node from a damaged dir";
  for (const std::string& w : words) {
    EXPECT_NE(loaded.error().message.find(w), std::string::npos)
        << "'" << w << "' missing from: " << loaded.error().message;
  }
}

// Every key and value of `family` under `prefix`, raw.
inline std::map<Bytes, Bytes> raw(const Store& store, Family family, BytesView prefix = "") {
  std::map<Bytes, Bytes> out;
  Status s = store.scan(family, prefix, [&](BytesView key, BytesView value) {
    out.emplace(Bytes(key), Bytes(value));
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.error().message;
  return out;
}

// Everything in the store, for "this wrote nothing".
inline std::map<std::pair<int, Bytes>, Bytes> dump(const Store& store) {
  std::map<std::pair<int, Bytes>, Bytes> out;
  for (Family f : {Family::kPaxos, Family::kLog, Family::kState, Family::kMeta}) {
    for (auto& [key, value] : raw(store, f))
      out.emplace(std::pair{static_cast<int>(f), key}, value);
  }
  return out;
}

inline Bytes chunk_key(BytesView prefix, std::uint64_t offset) {
  Bytes key(prefix);
  append_big_endian(key, offset);
  return key;
}

inline Bytes log_key(ViewId vid, std::uint64_t seq) {
  Bytes key;
  append_big_endian(key, vid);
  append_big_endian(key, seq);
  return key;
}

// Offsets of the chunk records under `prefix`.
inline std::vector<std::uint64_t> chunk_offsets(const Store& store, BytesView prefix) {
  std::vector<std::uint64_t> out;
  for (const auto& [key, value] : raw(store, Family::kState, prefix)) {
    out.push_back(read_big_endian<std::uint64_t>(BytesView(key).substr(prefix.size())).value());
  }
  return out;
}

inline void put_raw(Store& store, Family family, BytesView key, BytesView value) {
  Batch batch;
  batch.put(family, key, value);
  Status s = store.write(batch);
  ASSERT_TRUE(s.ok()) << s.error().message;
}

inline void delete_raw(Store& store, Family family, BytesView key) {
  Batch batch;
  batch.del(family, key);
  Status s = store.write(batch);
  ASSERT_TRUE(s.ok()) << s.error().message;
}

inline Bytes flip_bit(Bytes value, std::size_t bit) {
  value[bit / 8] = static_cast<char>(value[bit / 8] ^ (1 << (bit % 8)));
  return value;
}

}  // namespace synod::storage::testing
