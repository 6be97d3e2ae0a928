#include "storage/snapshot_store.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <utility>

#include "common/crc32.h"
#include "storage/big_endian.h"
#include "storage/checksum.h"

namespace synod::storage {
namespace {

constexpr std::size_t kU64 = sizeof(std::uint64_t);
constexpr std::size_t kU32 = sizeof(std::uint32_t);
// Snapshot header: through (vid, seq), size, crc.
constexpr std::size_t kSnapshotHeaderBytes = 3 * kU64 + kU32;
// Partial header: through (vid, seq), total_bytes, snapshot_crc, received.
constexpr std::size_t kPartialHeaderBytes = 4 * kU64 + kU32;
// A chunk record's fixed fields: through (vid, seq), offset; the data follows.
constexpr std::size_t kChunkFixedBytes = 3 * kU64;

const std::string kDamaged = "; the dir is damaged: do not start a node on it";

bool is_entry_viewstamp(Viewstamp vs) { return vs.vid != 0 && vs.seq != 0; }

std::uint64_t u64_at(BytesView record, std::size_t at) {
  return *read_big_endian<std::uint64_t>(record.substr(at, kU64));
}
std::uint32_t u32_at(BytesView record, std::size_t at) {
  return *read_big_endian<std::uint32_t>(record.substr(at, kU32));
}

std::string hex(BytesView bytes) {
  std::string out = "0x";
  for (char c : bytes) {
    char byte[3];
    std::snprintf(byte, sizeof byte, "%02x", static_cast<unsigned char>(c));
    out += byte;
  }
  return out;
}

Bytes chunk_key(std::string_view prefix, std::uint64_t offset) {
  Bytes key(prefix);
  append_big_endian(key, offset);
  return key;
}

// The key just past every key that starts with `prefix` (whose last byte is
// below 0xff, as '/' is).
Bytes prefix_end(std::string_view prefix) {
  Bytes end(prefix);
  end.back() = static_cast<char>(end.back() + 1);
  return end;
}

void delete_chunks(Batch& batch, std::string_view prefix) {
  batch.del_range(Family::kState, prefix, prefix_end(prefix));
}

// Puts `data`, which starts at `offset` of the snapshot through `through`, as
// chunk records of at most kSnapshotRecordBytesMax bytes each.
void put_chunks(Batch& batch, std::string_view prefix, Viewstamp through, std::uint64_t offset,
                BytesView data) {
  for (std::size_t pos = 0; pos < data.size(); pos += kSnapshotRecordBytesMax) {
    const BytesView part = data.substr(pos, kSnapshotRecordBytesMax);
    Bytes record;
    record.reserve(kChunkFixedBytes + part.size());
    append_big_endian(record, through.vid);
    append_big_endian(record, through.seq);
    append_big_endian(record, offset + pos);
    record += part;
    batch.put(Family::kState, chunk_key(prefix, offset + pos), seal(record));
  }
}

struct SnapshotHeader {
  Viewstamp through;
  std::uint64_t size = 0;
  std::uint32_t crc = 0;
};

struct PartialHeader {
  Viewstamp through;
  std::uint64_t total_bytes = 0;
  std::uint32_t snapshot_crc = 0;
  std::uint64_t received = 0;

  bool same_snapshot(const rsm::SnapshotPiece& p) const {
    return through == p.through && total_bytes == p.total_bytes && snapshot_crc == p.snapshot_crc;
  }
};

Bytes encode(const SnapshotHeader& h) {
  Bytes record;
  append_big_endian(record, h.through.vid);
  append_big_endian(record, h.through.seq);
  append_big_endian(record, h.size);
  append_big_endian(record, h.crc);
  return record;
}

Bytes encode(const PartialHeader& h) {
  Bytes record;
  append_big_endian(record, h.through.vid);
  append_big_endian(record, h.through.seq);
  append_big_endian(record, h.total_bytes);
  append_big_endian(record, h.snapshot_crc);
  append_big_endian(record, h.received);
  return record;
}

// A header's record, unsealed and of the right length; the error says what is
// wrong without naming the record (the caller does).
Result<BytesView> unseal_header(BytesView value, std::size_t expected_bytes) {
  Result<BytesView> record = unseal(value);
  if (!record) return Error{"is corrupt (" + record.error().message + ")"};
  if (record->size() != expected_bytes) {
    return Error{"does not decode (" + std::to_string(record->size()) + " bytes, expected " +
                 std::to_string(expected_bytes) + ")"};
  }
  return record;
}

Result<SnapshotHeader> decode_snapshot_header(BytesView value) {
  Result<BytesView> record = unseal_header(value, kSnapshotHeaderBytes);
  if (!record) return record.error();
  SnapshotHeader h;
  h.through = Viewstamp{u64_at(*record, 0), u64_at(*record, kU64)};
  h.size = u64_at(*record, 2 * kU64);
  h.crc = u32_at(*record, 3 * kU64);
  if (!is_entry_viewstamp(h.through)) {
    return Error{"does not decode (through " + to_string(h.through) +
                 " is no entry's viewstamp)"};
  }
  return h;
}

Result<PartialHeader> decode_partial_header(BytesView value) {
  Result<BytesView> record = unseal_header(value, kPartialHeaderBytes);
  if (!record) return record.error();
  PartialHeader h;
  h.through = Viewstamp{u64_at(*record, 0), u64_at(*record, kU64)};
  h.total_bytes = u64_at(*record, 2 * kU64);
  h.snapshot_crc = u32_at(*record, 3 * kU64);
  h.received = u64_at(*record, 3 * kU64 + kU32);
  if (!is_entry_viewstamp(h.through)) {
    return Error{"does not decode (through " + to_string(h.through) +
                 " is no entry's viewstamp)"};
  }
  if (h.received > h.total_bytes) {
    return Error{"does not decode (" + std::to_string(h.received) + " bytes received of " +
                 std::to_string(h.total_bytes) + ")"};
  }
  return h;
}

// Reads the chunks under `prefix` of the snapshot through `through`, which
// must follow each other from offset 0, into `bytes`. The error names the
// chunk ("<what> chunk at offset N in data dir D ...") without saying what to
// do about it.
Status read_chunks(const Store& store, std::string_view prefix, const std::string& what,
                   Viewstamp through, Bytes& bytes) {
  std::optional<Error> failure;
  const auto fail = [&](std::string message) {
    failure = Error{std::move(message)};
    return false;
  };
  Status scanned = store.scan(Family::kState, prefix, [&](BytesView key, BytesView value) {
    const std::optional<std::uint64_t> key_offset =
        read_big_endian<std::uint64_t>(key.substr(prefix.size()));
    if (!key_offset) {
      return fail(what + " chunk " + hex(key) + " in data dir " + store.dir() +
                  " has a key of no known shape (" + std::to_string(key.size()) + " bytes)");
    }
    const std::string where = what + " chunk at offset " + std::to_string(*key_offset) +
                              " in data dir " + store.dir();
    Result<BytesView> record = unseal(value);
    if (!record) return fail(where + " is corrupt (" + record.error().message + ")");
    if (record->size() < kChunkFixedBytes) {
      return fail(where + " does not decode (" + std::to_string(record->size()) +
                  " bytes, the fixed fields take " + std::to_string(kChunkFixedBytes) + ")");
    }
    const Viewstamp chunk_through{u64_at(*record, 0), u64_at(*record, kU64)};
    const std::uint64_t offset = u64_at(*record, 2 * kU64);
    if (chunk_through != through) {
      return fail(where + " belongs to the snapshot through " + to_string(chunk_through) +
                  ", not to the one through " + to_string(through));
    }
    if (offset != *key_offset) {
      return fail(where + " holds the bytes at offset " + std::to_string(offset));
    }
    if (offset != bytes.size()) {
      return fail(where + " is stored next after " + std::to_string(bytes.size()) +
                  " bytes: bytes between them are missing or overlap");
    }
    bytes += record->substr(kChunkFixedBytes);
    return true;
  });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  return Status::Ok();
}

// Whether any key starts with `prefix`.
Result<bool> any_key(const Store& store, std::string_view prefix) {
  bool found = false;
  Status scanned = store.scan(Family::kState, prefix, [&](BytesView, BytesView) {
    found = true;
    return false;
  });
  if (!scanned) return scanned.error();
  return found;
}

Result<std::optional<rsm::SnapshotImage>> load_snapshot(const Store& store) {
  const std::string where = "snapshot header in data dir " + store.dir();
  Result<std::optional<Bytes>> value = store.get(Family::kState, kSnapshotHeaderKey);
  if (!value) return value.error();
  if (!*value) {
    Result<bool> orphans = any_key(store, kSnapshotChunkPrefix);
    if (!orphans) return orphans.error();
    if (*orphans) {
      return Error{"data dir " + store.dir() +
                   " holds snapshot chunks but no snapshot header" + kDamaged};
    }
    return std::optional<rsm::SnapshotImage>();
  }
  Result<SnapshotHeader> header = decode_snapshot_header(**value);
  if (!header) return Error{where + " " + header.error().message + kDamaged};
  rsm::SnapshotImage image{header->through, {}};
  image.bytes.reserve(header->size);
  if (Status s = read_chunks(store, kSnapshotChunkPrefix, "snapshot", header->through, image.bytes);
      !s) {
    return Error{s.error().message + kDamaged};
  }
  const std::string snapshot = "snapshot through " + to_string(header->through) +
                               " in data dir " + store.dir();
  if (image.bytes.size() != header->size) {
    return Error{snapshot + " holds " + std::to_string(image.bytes.size()) +
                 " bytes in its chunks, its header says " + std::to_string(header->size) +
                 kDamaged};
  }
  if (const std::uint32_t crc = crc32(image.bytes); crc != header->crc) {
    return Error{snapshot + " is corrupt (CRC-32 of its " + std::to_string(image.bytes.size()) +
                 " bytes is " + std::to_string(crc) + ", its header says " +
                 std::to_string(header->crc) + ")" + kDamaged};
  }
  return std::optional<rsm::SnapshotImage>(std::move(image));
}

// The partial snapshot, nothing if there is none, or why the one stored
// cannot be used (only the store's own read failures are errors).
struct PartialFound {
  std::optional<rsm::SnapshotPiece> partial;
  std::optional<std::string> dropped_because;
};

Result<PartialFound> load_partial(const Store& store) {
  const std::string dropped = "; dropped it, the transfer starts over";
  Result<std::optional<Bytes>> value = store.get(Family::kState, kPartialHeaderKey);
  if (!value) return value.error();
  if (!*value) {
    Result<bool> orphans = any_key(store, kPartialChunkPrefix);
    if (!orphans) return orphans.error();
    if (*orphans) {
      return PartialFound{std::nullopt, "data dir " + store.dir() +
                                            " holds partial snapshot chunks but no header" +
                                            dropped};
    }
    return PartialFound{};
  }
  Result<PartialHeader> header = decode_partial_header(**value);
  if (!header) {
    return PartialFound{std::nullopt, "partial snapshot header in data dir " + store.dir() +
                                          " " + header.error().message + dropped};
  }
  rsm::SnapshotPiece partial{header->through, header->total_bytes, header->snapshot_crc, 0, {}};
  partial.data.reserve(header->received);
  if (Status s = read_chunks(store, kPartialChunkPrefix, "partial snapshot", header->through,
                             partial.data);
      !s) {
    return PartialFound{std::nullopt, s.error().message + dropped};
  }
  const std::string where = "partial snapshot through " + to_string(header->through) +
                            " in data dir " + store.dir();
  if (partial.data.size() != header->received) {
    return PartialFound{std::nullopt, where + " holds " + std::to_string(partial.data.size()) +
                                          " bytes in its chunks, its header says " +
                                          std::to_string(header->received) + dropped};
  }
  if (partial.data.size() == partial.total_bytes && crc32(partial.data) != partial.snapshot_crc) {
    return PartialFound{std::nullopt, where +
                                          " is complete but its CRC-32 does not match the "
                                          "snapshot's" +
                                          dropped};
  }
  return PartialFound{std::move(partial), std::nullopt};
}

}  // namespace

Status SnapshotStore::add_pieces(Batch& batch, std::span<const rsm::SnapshotPiece> pieces,
                                 bool partial_dropped) const {
  if (pieces.empty()) return Status::Ok();
  const auto refuse = [&](const rsm::SnapshotPiece& p, const std::string& why) {
    return Error{"refusing to write the snapshot piece at offset " + std::to_string(p.offset) +
                 " (" + std::to_string(p.data.size()) + " bytes) of the snapshot through " +
                 to_string(p.through) + " to data dir " + store_.dir() + ": " + why};
  };
  // Everything is checked before anything is added, so that a refusal leaves
  // `batch` as it was.
  std::optional<PartialHeader> partial;
  if (pieces.front().offset != 0 && !partial_dropped) {
    Result<std::optional<Bytes>> value = store_.get(Family::kState, kPartialHeaderKey);
    if (!value) return value.error();
    if (*value) {
      Result<PartialHeader> stored = decode_partial_header(**value);
      if (!stored) {
        return Error{"partial snapshot header in data dir " + store_.dir() + " " +
                     stored.error().message + "; cannot append a snapshot piece to it"};
      }
      partial = *stored;
    }
  }
  for (const rsm::SnapshotPiece& p : pieces) {
    if (!is_entry_viewstamp(p.through))
      return refuse(p, "a snapshot's through is an entry's viewstamp (vid and seq start at 1)");
    if (p.offset > p.total_bytes || p.data.size() > p.total_bytes - p.offset) {
      return refuse(p, "it ends past the snapshot's " + std::to_string(p.total_bytes) + " bytes");
    }
    if (p.offset == 0) {
      partial = PartialHeader{p.through, p.total_bytes, p.snapshot_crc, 0};
    } else if (!partial) {
      return refuse(p, "no partial snapshot is stored for it to continue");
    } else if (!partial->same_snapshot(p)) {
      return refuse(p, "the partial snapshot stored is of another snapshot (through " +
                           to_string(partial->through) + ", " +
                           std::to_string(partial->total_bytes) + " bytes, CRC-32 " +
                           std::to_string(partial->snapshot_crc) + ")");
    } else if (p.offset != partial->received) {
      return refuse(p, "the partial snapshot stored ends at offset " +
                           std::to_string(partial->received));
    }
    partial->received += p.data.size();
  }
  for (const rsm::SnapshotPiece& p : pieces) {
    if (p.offset == 0) delete_chunks(batch, kPartialChunkPrefix);
    put_chunks(batch, kPartialChunkPrefix, p.through, p.offset, p.data);
  }
  batch.put(Family::kState, kPartialHeaderKey, seal(encode(*partial)));
  return Status::Ok();
}

Status SnapshotStore::add_snapshot(Batch& batch, const rsm::SnapshotImage& image, bool drop_partial) const {
  if (!is_entry_viewstamp(image.through)) {
    return Error{"refusing to write a snapshot through " + to_string(image.through) +
                 " to data dir " + store_.dir() +
                 ": a snapshot's through is an entry's viewstamp (vid and seq start at 1)"};
  }
  if (drop_partial) {
    batch.del(Family::kState, kPartialHeaderKey);
    delete_chunks(batch, kPartialChunkPrefix);
  }
  delete_chunks(batch, kSnapshotChunkPrefix);
  const SnapshotHeader header{image.through, image.bytes.size(), crc32(image.bytes)};
  batch.put(Family::kState, kSnapshotHeaderKey, seal(encode(header)));
  put_chunks(batch, kSnapshotChunkPrefix, image.through, 0, image.bytes);
  return Status::Ok();
}

Result<std::optional<Bytes>> SnapshotStore::read_range(Viewstamp through, std::uint64_t offset,
                                                        std::uint64_t length) const {
  Result<std::optional<Bytes>> value = store_.get(Family::kState, kSnapshotHeaderKey);
  if (!value) return value.error();
  if (!*value) return std::optional<Bytes>();
  Result<SnapshotHeader> header = decode_snapshot_header(**value);
  if (!header) return Error{"snapshot header in data dir " + store_.dir() + " " + header.error().message + kDamaged};
  if (header->through != through || offset > header->size || length > header->size - offset) {
    return std::optional<Bytes>();
  }
  Bytes out;
  out.reserve(length);
  // The snapshot's chunk records start at 0 and hold kSnapshotRecordBytesMax
  // bytes each, the last one what is left (put_chunks).
  for (std::uint64_t at = offset - offset % kSnapshotRecordBytesMax; at < offset + length;
       at += kSnapshotRecordBytesMax) {
    const std::string where = "snapshot chunk at offset " + std::to_string(at) + " in data dir " + store_.dir();
    Result<std::optional<Bytes>> chunk = store_.get(Family::kState, chunk_key(kSnapshotChunkPrefix, at));
    if (!chunk) return chunk.error();
    if (!*chunk) return Error{where + " is missing" + kDamaged};
    Result<BytesView> record = unseal(**chunk);
    if (!record) return Error{where + " is corrupt (" + record.error().message + ")" + kDamaged};
    if (record->size() < kChunkFixedBytes || Viewstamp{u64_at(*record, 0), u64_at(*record, kU64)} != through ||
        u64_at(*record, 2 * kU64) != at) {
      return Error{where + " does not belong there" + kDamaged};
    }
    const BytesView data = record->substr(kChunkFixedBytes);
    const std::uint64_t from = std::max(offset, at) - at;
    const std::uint64_t to = std::min<std::uint64_t>(offset + length - at, data.size());
    if (from > to) return Error{where + " is shorter than its snapshot's size says" + kDamaged};
    out.append(data.substr(from, to - from));
  }
  if (out.size() != length) return Error{"snapshot in data dir " + store_.dir() + " lacks bytes its header counts" + kDamaged};
  return std::optional<Bytes>(std::move(out));
}

Result<LoadedSnapshots> SnapshotStore::load() const {
  LoadedSnapshots loaded;
  Result<std::optional<rsm::SnapshotImage>> current = load_snapshot(store_);
  if (!current) return current.error();
  loaded.snapshots.current = std::move(*current);
  Result<PartialFound> partial = load_partial(store_);
  if (!partial) return partial.error();
  loaded.snapshots.partial = std::move(partial->partial);
  if (partial->dropped_because) loaded.warnings.push_back(std::move(*partial->dropped_because));
  return loaded;
}

}  // namespace synod::storage
