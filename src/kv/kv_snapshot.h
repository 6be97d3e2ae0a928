#pragma once
// A KvState as a snapshot, on a stream that may carry other things before and
// after it (rsm::Applier writes its session table first, then ours).
//
// Layout (integers little-endian):
//   8 bytes   magic "synod-kv"
//   u32       format version (kSnapshotFormatVersion)
//   u64       body bytes
//   body      Boost binary archive, no header: u64 revision, u64 key count,
//             then per key, in key order: key, value, u64 version,
//             u64 create_revision, u64 mod_revision
//   u32       CRC-32 of the body
// The length makes the snapshot self-delimiting; the CRC catches a body
// damaged on disk or on the way.
//
// Memory: writing streams the body with no copy of the state. Reading holds
// the body bytes and the state built from them at once (about twice the
// state), and reads the body in chunks, so a lying length costs at most one
// chunk beyond the bytes that actually arrive.

#include <cstdint>
#include <istream>
#include <ostream>

#include "common/result.h"
#include "kv/kv_state.h"

namespace synod::kv {

inline constexpr std::uint32_t kSnapshotFormatVersion = 1;

// Leaves `out` failed if a write fails; the caller checks the stream.
void write_snapshot(std::ostream& out, const KvState& state);

// Fails, saying why, on a stream that does not hold a whole, undamaged
// snapshot of a known format whose state passes check_invariants(). Reads up
// to the end of the snapshot (on success) and nothing after it.
Result<KvState> read_snapshot(std::istream& in);

}  // namespace synod::kv
