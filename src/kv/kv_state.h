#pragma once
// The whole replicated state of the key-value store, as a value: what a
// snapshot holds, and what two replicas that applied the same ops agree on.
// KvStateMachine (kv_store.h) changes it; kv_snapshot.h writes and reads it.

#include <cstdint>
#include <functional>
#include <map>

#include "common/bytes.h"
#include "common/result.h"

namespace synod::kv {

struct KvRecord {
  Bytes value;
  std::uint64_t version = 0;          // 1 on create, +1 per modification
  std::uint64_t create_revision = 0;  // the revision that created the key
  std::uint64_t mod_revision = 0;     // the revision that last changed it
  auto operator<=>(const KvRecord&) const = default;
};

struct KvState {
  // Ordered by key bytes: a prefix is a contiguous range, and a list walks it
  // in order. std::less<> lets a BytesView look a key up without a copy.
  std::map<Bytes, KvRecord, std::less<>> keys;
  // The number of changes so far (0 for an empty, new store): each change
  // took the next revision, so it is also the last revision taken.
  std::uint64_t revision = 0;
  bool operator==(const KvState&) const = default;
};

// What every state reachable by the store's ops satisfies, checked on each
// snapshot restored and by the tests after every op:
//   - each key is 1 to kKeyBytesMax bytes and each value at most kValueBytesMax;
//   - 1 <= create_revision <= mod_revision <= revision, and version >= 1;
//   - version 1 exactly when mod_revision == create_revision, and a key
//     modified version - 1 times spans at least that many revisions
//     (version - 1 <= mod_revision - create_revision);
//   - no revision is the create_revision or mod_revision of two different
//     keys: every revision changed exactly one key.
// The message names the first key that breaks a rule and the rule.
Status check_invariants(const KvState& state);

}  // namespace synod::kv
