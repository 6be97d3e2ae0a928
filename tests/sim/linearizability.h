#pragma once
// Linearizability checker for client histories of the key-value store, for the
// replicated-state-machine simulator: given what each client saw (when it
// called, when the reply came, what the reply said), is there one order of all
// the operations, consistent with real time, in which a single-copy key-value
// store would have given exactly those replies?
//
// Algorithm: Wing & Gong's search with Lowe's memoization (as in Porcupine),
// run separately on each key: every operation touches one key, and a history
// is linearizable iff its restriction to each key is (linearizability is
// local). The search is iterative, so history length never threatens the
// stack, and bounded by a step budget per key.
//
// Model of one key: a register that starts absent.
//   put v          -> value v; always ok.
//   get            -> ok=true with the value if present, ok=false if absent.
//   cas e -> v     -> applies iff the value is e (or, with expect_absent, iff
//                     the key is absent); ok says whether it applied.
//   del            -> key absent; ok says whether it existed.
//
// Real-time order: A must be placed before B iff A's reply arrived strictly
// before B was invoked (A.completed_at < B.invoked_at). Equal times overlap.
//
// Unknown outcome (timed out, no reply): the operation may take effect at any
// point after invoked_at, with no upper bound, or never; its reply is
// unconstrained. It never constrains the placement of other operations.

#include <cstdint>
#include <string>
#include <vector>

namespace synod::sim {

enum class KvOpKind { kPut, kGet, kCas, kDel };

// One client call, as the client saw it.
struct KvOp {
  std::uint64_t client = 0;
  KvOpKind kind = KvOpKind::kGet;
  std::string key;
  std::string value;              // put: new value; cas: new value
  std::string expected;           // cas: expected current value (ignored with expect_absent)
  bool expect_absent = false;     // cas: applies only if the key is absent
  std::uint64_t invoked_at = 0;   // logical time the call started
  std::uint64_t completed_at = 0; // logical time the reply arrived; ignored when outcome unknown
  bool outcome_known = true;      // false: timed out, may or may not take effect, any time after invoked_at
  // The reply as observed (meaningful only when outcome_known):
  bool ok = true;                 // cas/del: whether it applied; get: whether the key existed
  std::string read_value;         // get with ok: the value returned
};

struct LinearizabilityResult {
  // False only on a proven violation (or a malformed history, see below).
  bool linearizable = true;
  // On failure: the key, the shortest prefix of that key's history (cut at a
  // reply) that already has no linearization, the reply that makes it fail,
  // and the operations the deepest search attempt could not place.
  // On give-up: which key(s) ran out of budget.
  std::string explanation;
  // The search for some key exceeded step_budget before deciding; the verdict
  // is then "linearizable" but inconclusive: count it, do not trust it.
  bool gave_up = false;
};

// Checks `history` (in any order). Operations are referred to in
// explanations as #i, i being the index in `history`.
//
// Bounds: step_budget applies to each key's search; one step is one attempt
// to place an operation, and the memo grows by at most one entry per step,
// capped at 256 MiB per key (beyond that the search gives up too). Cost, from
// the tests (5 clients, 200 ops per key, 3% timeouts): a linearizable history
// takes about 2 steps per op; a violation makes the search exhaust every
// alternative first, 2-30 steps per op (~100 ns a step). Harder: 10 clients
// on one 3,300-op key with 70 timeouts, a linearizable history takes ~0.1 s
// but a violation gives up at 5M steps; 20 clients on one key give up either
// way. Only on a violation, the explanation runs about log2(replies on that
// key) more searches of shorter prefixes.
//
// A violation on any key is reported even if another key gave up. A
// known-outcome operation whose reply precedes its call
// (completed_at < invoked_at) is a malformed history: reported as not
// linearizable with an explanation starting "malformed history".
LinearizabilityResult check_kv_history(const std::vector<KvOp>& history,
                                       std::uint64_t step_budget = 5'000'000);

}  // namespace synod::sim
