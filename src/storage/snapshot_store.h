#pragma once
// A replica's snapshot, and the snapshot it is receiving (a partial one), in
// the store's state family. The RSM core emits them in its Ready (install,
// save_snapshot, snapshot_pieces); the runtime persists them with the rest of
// the batch (node_batch.h), and load() gives them back on restart.
//
// Layout (Family::kState; every value is sealed, checksum.h: CRC-32 of the
// record, 4 bytes big-endian, then the record; integers are big-endian):
//
//   "snapshot/header"            through vid u64, through seq u64, size u64,
//                                CRC-32 of the whole snapshot u32
//   "snapshot/chunk/" offset u64 through vid u64, through seq u64, offset u64,
//                                then at most kSnapshotRecordBytesMax bytes of
//                                the snapshot starting at offset
//   "partial/header"             through vid u64, through seq u64, total_bytes
//                                u64, snapshot_crc u32, bytes received u64
//   "partial/chunk/" offset u64  as a snapshot chunk: the partial's through,
//                                the offset, then the bytes received there
//
// The header says what the chunks must add up to; the chunks are keyed by
// their offset, so a piece that arrives is appended with puts alone. Writing
// a snapshot deletes every chunk of the one before it (a range delete over
// the chunk prefix) and the partial one, in the same batch. Keys in the state
// family that start with "snapshot/" or "partial/" belong to this layout.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "rsm/replica.h"
#include "storage/store.h"

namespace synod::storage {

inline constexpr std::string_view kSnapshotHeaderKey = "snapshot/header";
inline constexpr std::string_view kSnapshotChunkPrefix = "snapshot/chunk/";
inline constexpr std::string_view kPartialHeaderKey = "partial/header";
inline constexpr std::string_view kPartialChunkPrefix = "partial/chunk/";
// The most snapshot bytes one chunk record holds.
inline constexpr std::size_t kSnapshotRecordBytesMax = 1024 * 1024;

// What load() found: the snapshot and the partial one as the RSM core takes
// them, and why a partial snapshot found on disk was not returned, if it was
// not (for the log). A partial snapshot is only a cache of a transfer in
// progress, so one that is damaged is dropped and the transfer starts over;
// a damaged snapshot is an error.
struct LoadedSnapshots {
  rsm::RecoveredSnapshots snapshots;
  std::vector<std::string> warnings;
};

class SnapshotStore {
 public:
  explicit SnapshotStore(const Store& store) : store_(store) {}

  // Adds `pieces` to `batch`, in order. A piece at offset 0 starts a new
  // partial snapshot, replacing any partial one (its chunks are deleted); any
  // other piece must start exactly where the partial snapshot ends, as stored
  // or as the pieces before it in `pieces` left it, and be of the same
  // snapshot (through, total_bytes, snapshot_crc). A piece must also end
  // within total_bytes, and its through must be an entry's viewstamp. On a
  // refusal, or a failed read of the stored partial header, `batch` is left
  // as it was. Reads the stored partial header when the first piece does not
  // start at 0, so the batch must be written before the next add_pieces.
  // partial_dropped: `batch` already deletes the stored partial snapshot (an
  // install), so there is none to continue.
  Status add_pieces(Batch& batch, std::span<const rsm::SnapshotPiece> pieces, bool partial_dropped = false) const;

  // Adds what makes `image` the snapshot: deletes the old snapshot's chunks
  // (and with drop_partial, for an install, the partial snapshot), then puts
  // the header and the chunks. A snapshot the node took itself leaves a
  // transfer in progress alone. Refuses, leaving `batch` as it was, an image
  // whose through is no entry's viewstamp (vid or seq zero).
  Status add_snapshot(Batch& batch, const rsm::SnapshotImage& image, bool drop_partial) const;

  // The stored snapshot and partial snapshot. Fails, naming the record, on a
  // snapshot whose header or any chunk is corrupt (checksum, shape, a chunk
  // of another snapshot or filed under another offset), whose chunks leave
  // bytes missing or do not add up to its size, or whose bytes do not match
  // its CRC-32: a node must not serve or vote with state it cannot trust.
  // The same findings about the partial snapshot, or a complete one whose
  // CRC-32 does not match, drop it with a warning instead.
  Result<LoadedSnapshots> load() const;

  // `length` bytes at `offset` of the stored snapshot, for a transfer
  // (rsm::SnapshotRead): nullopt when the stored snapshot does not end at
  // `through` (a newer one replaced it) or is shorter than offset + length.
  // Reads only the chunk records the range touches; each is checked (seal,
  // snapshot, offset) and a damaged one is an error.
  Result<std::optional<Bytes>> read_range(Viewstamp through, std::uint64_t offset, std::uint64_t length) const;

 private:
  const Store& store_;
};

}  // namespace synod::storage
