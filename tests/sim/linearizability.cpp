#include "sim/linearizability.h"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <unordered_set>
#include <utility>

namespace synod::sim {
namespace {

// Model state of one key: an interned value id, kAbsent, or kUnread.
using State = std::int32_t;
constexpr State kAbsent = -1;
// Any value that no get in the history returned and no cas expects. Ops only
// ever compare the state with read or expected values (or test presence), so
// all such values behave alike and merge into one state: fewer states, more
// memo hits, and timed-out writes of them become interchangeable.
constexpr State kUnread = -2;

constexpr std::uint64_t kNoCut = std::numeric_limits<std::uint64_t>::max();
constexpr std::size_t kExplainOpsMax = 6;     // operations listed in an explanation
constexpr std::size_t kExplainOrderTail = 3;  // last placed operations shown
constexpr std::size_t kValueCharsMax = 24;    // longer values are elided
// The memo of one key's search may grow to this before the search gives up,
// whatever the step budget: at ~50 + (ops on the key)/8 bytes per step, the
// default 5M-step budget would otherwise allow ~1.5 GB on a 2,000-op key.
constexpr std::size_t kMemoBytesMax = std::size_t{256} << 20;

// Distinct strings of one key as small ints, so a model state is one int and
// the memo key stays small. Reads of values nobody wrote get ids too; no state
// ever equals them, which is exactly what makes such a read unplaceable.
class Interner {
 public:
  State id(const std::string& s) {
    auto [it, inserted] = ids_.emplace(s, static_cast<State>(names_.size()));
    if (inserted) names_.push_back(s);
    return it->second;
  }
  const std::string& name(State id) const { return names_.at(static_cast<std::size_t>(id)); }

 private:
  std::map<std::string, State> ids_;
  std::vector<std::string> names_;
};

// One operation of one key, as the search sees it.
struct ModelOp {
  std::size_t history_index = 0;
  KvOpKind kind = KvOpKind::kGet;
  State value = kAbsent;     // put, cas: the value written
  State expected = kAbsent;  // cas: the value required (kAbsent: expect_absent)
  State read = kAbsent;      // get: what it returned (kAbsent: ok=false)
  bool ok = true;
  bool known = true;         // false: optional, unconstrained reply, no deadline
  std::uint64_t invoked_at = 0;
  std::uint64_t completed_at = 0;  // only when known
};

// The state after `op` runs in `state`, or nothing when `op` with its observed
// reply cannot run there. An unknown-outcome op that would change nothing is
// refused too: leaving it out is always at least as good as placing it, since
// it is optional and constrains nobody.
std::optional<State> apply(const ModelOp& op, State state) {
  switch (op.kind) {
    case KvOpKind::kPut:
      if (!op.known && state == op.value) return std::nullopt;
      return op.value;
    case KvOpKind::kGet:
      // Unknown-outcome gets never reach the search (see build_model).
      if (op.read != state) return std::nullopt;
      return state;
    case KvOpKind::kCas: {
      const bool applies = state == op.expected;
      if (!op.known) return applies && state != op.value ? std::optional<State>(op.value) : std::nullopt;
      if (applies != op.ok) return std::nullopt;
      return op.ok ? op.value : state;
    }
    case KvOpKind::kDel: {
      const bool existed = state != kAbsent;
      if (!op.known) return existed ? std::optional<State>(kAbsent) : std::nullopt;
      if (existed != op.ok) return std::nullopt;
      return kAbsent;
    }
  }
  throw std::logic_error("unknown KvOpKind");
}

std::uint64_t mix64(std::uint64_t x) {  // splitmix64 finalizer
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Doubly linked list over node ids 1..n with sentinel 0, whose nodes can be
// unlinked and relinked in LIFO order (dancing links): an unlinked node keeps
// its neighbours, so undoing a placement is O(1).
class Links {
 public:
  explicit Links(std::size_t nodes) : prev_(nodes + 1), next_(nodes + 1) {
    for (std::uint32_t i = 0; i <= nodes; ++i) {
      prev_[i] = i == 0 ? static_cast<std::uint32_t>(nodes) : i - 1;
      next_[i] = i == nodes ? 0 : i + 1;
    }
  }
  std::uint32_t first() const { return next_[0]; }
  std::uint32_t next(std::uint32_t n) const { return next_[n]; }
  void unlink(std::uint32_t n) {
    next_[prev_[n]] = next_[n];
    prev_[next_[n]] = prev_[n];
  }
  void relink(std::uint32_t n) {
    next_[prev_[n]] = n;
    prev_[next_[n]] = n;
  }

 private:
  std::vector<std::uint32_t> prev_, next_;
};

// Lowe's memo, with dominance over unknown-outcome ops. A configuration is
// (K: placed known-outcome ops, U: placed unknown-outcome ops, state s).
// Everything recorded here has been or will be explored by the search.
// (K, U', s) is pruned when some (K, U, s) with U a subset of U' is recorded:
// same obligations, same state, and at least the same options (unknown ops
// are optional and constrain nobody), so any completion of U' also completes
// U, in no more steps. U = U' is Lowe's exact revisit.
// Why pruning stays complete, even against configurations still on the
// current path: if some recorded configuration can complete, take one, X,
// whose shortest completion is shortest; its first step Y is either recorded
// (a shorter completion) or pruned by a recorded Z that completes at least as
// soon as Y: a contradiction either way, so the search cannot miss it.
// Without the dominance, every timed-out op doubles the configurations of
// the rest of the history.
//
// Groups (K, s) live in one arena of words; each group keeps a list of the
// minimal U sets recorded. At most one group and one set per visit. K is
// stored compactly: known ops have slots in reply order, so K is nearly a
// prefix; a group keeps the count of leading all-ones words and the words
// after it up to the last nonzero one (a few words, about the concurrency),
// not the whole bit set. Not movable: the hash set's functors point back here.
class Memo {
 public:
  explicit Memo(std::size_t unknown_words) : unknown_words_(unknown_words), groups_(16, Hash{this}, Equal{this}) {}
  Memo(const Memo&) = delete;
  Memo& operator=(const Memo&) = delete;

  // Approximate heap use: arenas plus ~40 bytes of hash-set node per group.
  std::size_t bytes() const {
    return known_arena_.size() * 8 + hashes_.size() * (8 + 4 + 4 + 4 + 4 + 4 + 40) +
           next_set_.size() * (unknown_words_ * 8 + 4);
  }

  // Records the configuration; false when a recorded one dominates it.
  bool visit(const std::vector<std::uint64_t>& known, State state, std::uint64_t hash,
             const std::vector<std::uint64_t>& unknown) {
    std::size_t full = 0;
    while (full < known.size() && known[full] == ~std::uint64_t{0}) ++full;
    std::size_t end = known.size();
    while (end > full && known[end - 1] == 0) --end;
    const std::size_t candidate = hashes_.size();
    tails_.push_back({static_cast<std::uint32_t>(full), static_cast<std::uint32_t>(known_arena_.size()),
                      static_cast<std::uint32_t>(end - full)});
    known_arena_.insert(known_arena_.end(), known.begin() + static_cast<std::ptrdiff_t>(full),
                        known.begin() + static_cast<std::ptrdiff_t>(end));
    hashes_.push_back(hash);
    states_.push_back(state);
    first_set_.push_back(kNoSet);
    auto [it, inserted] = groups_.insert(candidate);
    const std::size_t group = *it;
    if (!inserted) {
      known_arena_.resize(tails_.back().offset);
      tails_.pop_back();
      hashes_.pop_back();
      states_.pop_back();
      first_set_.pop_back();
      for (std::uint32_t s = first_set_[group]; s != kNoSet; s = next_set_[s]) {
        if (subset(set_words(s), unknown.data())) return false;
      }
      // The new set dominates any recorded superset: drop those.
      std::uint32_t* link = &first_set_[group];
      while (*link != kNoSet) {
        if (subset(unknown.data(), set_words(*link))) {
          *link = next_set_[*link];
        } else {
          link = &next_set_[*link];
        }
      }
    }
    const auto set = static_cast<std::uint32_t>(next_set_.size());
    if (set == kNoSet) throw std::length_error("linearizability memo: too many configurations");
    set_arena_.insert(set_arena_.end(), unknown.begin(), unknown.end());
    next_set_.push_back(first_set_[group]);
    first_set_[group] = set;
    return true;
  }

 private:
  static constexpr std::uint32_t kNoSet = std::numeric_limits<std::uint32_t>::max();

  const std::uint64_t* set_words(std::uint32_t s) const { return set_arena_.data() + s * unknown_words_; }
  bool subset(const std::uint64_t* a, const std::uint64_t* b) const {
    for (std::size_t w = 0; w < unknown_words_; ++w) {
      if ((a[w] & ~b[w]) != 0) return false;
    }
    return true;
  }

  struct Hash {
    const Memo* memo;
    std::size_t operator()(std::size_t g) const { return memo->hashes_[g]; }
  };
  struct Equal {
    const Memo* memo;
    bool operator()(std::size_t a, std::size_t b) const {
      const Tail& ta = memo->tails_[a];
      const Tail& tb = memo->tails_[b];
      if (memo->states_[a] != memo->states_[b] || ta.full_words != tb.full_words || ta.words != tb.words) {
        return false;
      }
      const std::uint64_t* wa = memo->known_arena_.data() + ta.offset;
      return std::equal(wa, wa + ta.words, memo->known_arena_.data() + tb.offset);
    }
  };
  // K as stored: full_words all-ones words, then `words` words at offset.
  struct Tail {
    std::uint32_t full_words;
    std::uint32_t offset;  // into known_arena_
    std::uint32_t words;
  };

  const std::size_t unknown_words_;
  // Per group (K, s):
  std::vector<Tail> tails_;
  std::vector<std::uint64_t> known_arena_;
  std::vector<std::uint64_t> hashes_;
  std::vector<State> states_;
  std::vector<std::uint32_t> first_set_;
  // Per recorded U set:
  std::vector<std::uint64_t> set_arena_;
  std::vector<std::uint32_t> next_set_;
  std::unordered_set<std::size_t, Hash, Equal> groups_;
};

enum class Verdict { kLinearizable, kNotLinearizable, kGaveUp };

// The furthest the search got: how many known-outcome ops it placed, in what
// order (all placed ops, oldest first) and the state they left.
struct Deepest {
  std::size_t known_placed = 0;
  std::vector<std::size_t> order;
  State state = kAbsent;
};

struct SearchOutcome {
  Verdict verdict = Verdict::kGaveUp;
  Deepest deepest;  // filled only when asked for
};

// Wing & Gong / Lowe search over the ops of one key, depth first, with an
// explicit stack of levels (one per placed op) instead of recursion.
//
// Known-outcome ops are a time-ordered list of call and return events (a call
// before a return at equal times, since equal times overlap). An op may be
// placed next iff its call comes before the first remaining return: every op
// that finished before it started is already placed. Unknown-outcome ops have
// no return; one may be placed next iff called no later than that first
// remaining return. Success: every known-outcome op placed (unknown ones may
// stay out forever).
//
// At each level known candidates are tried first, one by one, each checked
// against the memo as it is tried (Lowe). Then the unknown candidates: all of
// them are checked against the memo and recorded before any is explored. That
// order matters for the dominance pruning (see Memo): exploring "u0, then u1"
// before "u1" alone has been recorded would not be pruned, and chains of
// timed-out ops would be explored in every order. Recorded-before-explored is
// still complete, since everything recorded does get explored.
class KeySearch {
 public:
  KeySearch(const std::vector<ModelOp>& ops, std::uint64_t step_budget, bool record_deepest)
      : ops_(checked_size(ops)),
        step_budget_(step_budget),
        record_deepest_(record_deepest),
        slot_(ops.size(), 0),
        call_node_(ops.size(), 0),
        return_node_(ops.size(), 0),
        known_(0) {
    build_lists();
    State max_value = kAbsent;
    for (const ModelOp& op : ops_) max_value = std::max(max_value, op.value);
    value_seen_at_.assign(static_cast<std::size_t>(max_value - kUnread) + 1, 0);
    known_bits_.assign((known_total_ + 63) / 64, 0);
    unknown_bits_.assign((unknown_ops_.size() + 63) / 64, 0);
    memo_ = std::make_unique<Memo>(unknown_bits_.size());
  }

  SearchOutcome run() {
    SearchOutcome out;
    out.verdict = search();
    if (record_deepest_) out.deepest = deepest_;
    return out;
  }

 private:
  // Node ids of the event list are 32-bit: 2 per op, plus the sentinel.
  static const std::vector<ModelOp>& checked_size(const std::vector<ModelOp>& ops) {
    if (ops.size() >= (std::size_t{1} << 30)) throw std::length_error("linearizability: too many ops on one key");
    return ops;
  }
  struct Event {
    std::size_t op = 0;
    bool is_return = false;
    std::uint64_t at = 0;
  };
  // One configuration on the current path, and where its search stands.
  struct Level {
    std::size_t placed_op = 0;          // the op placed to get here (none at the root)
    State state_before = kAbsent;       // the state before placed_op
    bool in_unknown = false;            // known candidates done, now the admitted unknown ones
    std::uint32_t known_cursor = 0;     // next known-list node to try
    std::vector<std::size_t> admitted;  // unknown candidates recorded in the memo, to explore
    std::size_t next_admitted = 0;
  };
  enum class Try { kPlaced, kRefused, kOutOfBudget };

  void build_lists() {
    std::vector<Event> events;
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      if (ops_[i].known) {
        events.push_back({i, false, ops_[i].invoked_at});
        events.push_back({i, true, ops_[i].completed_at});
        ++known_total_;
      } else {
        slot_[i] = unknown_ops_.size();
        unknown_ops_.push_back(i);
      }
    }
    std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
      if (a.at != b.at) return a.at < b.at;
      if (a.is_return != b.is_return) return !a.is_return;
      return a.op < b.op;
    });
    events_.push_back({});  // node 0: sentinel
    std::size_t next_known_slot = 0;  // in reply order: see Memo
    for (const Event& e : events) {
      const auto node = static_cast<std::uint32_t>(events_.size());
      (e.is_return ? return_node_ : call_node_)[e.op] = node;
      if (e.is_return) slot_[e.op] = next_known_slot++;
      events_.push_back(e);
    }
    std::stable_sort(unknown_ops_.begin(), unknown_ops_.end(),
                     [&](std::size_t a, std::size_t b) { return ops_[a].invoked_at < ops_[b].invoked_at; });
    for (std::size_t op : unknown_ops_) {
      switch (ops_[op].kind) {
        case KvOpKind::kPut:
          unknown_puts_.push_back(op);
          break;
        case KvOpKind::kDel:
          unknown_dels_.push_back(op);
          break;
        case KvOpKind::kCas:
          unknown_cas_by_expected_[ops_[op].expected].push_back(op);
          break;
        case KvOpKind::kGet:
          throw std::logic_error("linearizability search: unknown-outcome get in the model");
      }
    }
    known_ = Links(events.size());
  }

  Verdict search() {
    std::size_t depth = 0;  // levels_[0..depth] is the current path
    levels_.resize(1);
    levels_[0] = Level{};
    levels_[0].known_cursor = known_.first();
    while (true) {
      if (known_placed_ == known_total_) return Verdict::kLinearizable;
      Level& level = levels_[depth];
      const State state_here = state_;
      std::optional<std::size_t> next_op;
      if (!level.in_unknown) {
        // Known ops remain, so a return event lies ahead: never the sentinel.
        const Event& e = events_[level.known_cursor];
        if (!e.is_return) {
          level.known_cursor = known_.next(level.known_cursor);
          const Try t = try_known(e.op);
          if (t == Try::kOutOfBudget) return Verdict::kGaveUp;
          if (t == Try::kRefused) continue;
          next_op = e.op;
        } else {
          level.in_unknown = true;
          if (!admit_unknown(level, e.at)) return Verdict::kGaveUp;
          continue;
        }
      } else if (level.next_admitted < level.admitted.size()) {
        next_op = level.admitted[level.next_admitted++];
        place(*next_op);
      } else {
        // Every candidate of this configuration failed: back to the parent,
        // whose cursor already points past the op that led here.
        if (depth == 0) return Verdict::kNotLinearizable;
        unplace(level.placed_op, level.state_before);
        --depth;
        continue;
      }
      ++depth;
      if (levels_.size() == depth) levels_.emplace_back();
      Level& child = levels_[depth];
      child.placed_op = *next_op;
      child.state_before = state_here;
      child.in_unknown = false;
      child.known_cursor = known_.first();
      child.admitted.clear();
      child.next_admitted = 0;
    }
  }

  bool out_of_budget() const { return steps_ >= step_budget_ || memo_->bytes() > kMemoBytesMax; }

  // A known candidate: placed now unless the model or the memo refuses it.
  Try try_known(std::size_t op) {
    if (out_of_budget()) return Try::kOutOfBudget;
    ++steps_;
    const std::optional<State> after = apply(ops_[op], state_);
    if (!after || !record(op, *after)) return Try::kRefused;
    place(op);
    return Try::kPlaced;
  }

  // Records every unknown candidate the model and memo accept into
  // level.admitted. Only ops that can act in the current state are looked
  // at: a timed-out cas only where its expectation holds, a timed-out del
  // only on a present key. Within one list, candidates writing the same value
  // are interchangeable (all are callable from now on, none constrains
  // anything), so only the first of them is tried. False when out of budget.
  bool admit_unknown(Level& level, std::uint64_t first_return_at) {
    if (!admit_from(unknown_puts_, level, first_return_at)) return false;
    if (state_ != kAbsent && !admit_from(unknown_dels_, level, first_return_at)) return false;
    auto cas = unknown_cas_by_expected_.find(state_);
    return cas == unknown_cas_by_expected_.end() || admit_from(cas->second, level, first_return_at);
  }

  bool admit_from(const std::vector<std::size_t>& by_call_time, Level& level, std::uint64_t first_return_at) {
    ++admit_generation_;
    for (std::size_t op : by_call_time) {
      if (ops_[op].invoked_at > first_return_at) break;
      if (placed_unknown(op)) continue;
      std::uint64_t& seen = value_seen_at_[static_cast<std::size_t>(ops_[op].value - kUnread)];
      if (seen == admit_generation_) continue;
      seen = admit_generation_;
      if (out_of_budget()) return false;
      ++steps_;
      const std::optional<State> after = apply(ops_[op], state_);
      if (after && record(op, *after)) level.admitted.push_back(op);
    }
    return true;
  }

  // Records (placed + op, after) in the memo; false when it is dominated.
  bool record(std::size_t op, State after) {
    flip(op);
    const std::uint64_t hash = known_hash_ ^ mix64(static_cast<std::uint64_t>(after) + 0x5bd1e995);
    const bool fresh = memo_->visit(known_bits_, after, hash, unknown_bits_);
    flip(op);
    return fresh;
  }

  void place(std::size_t op) {
    const std::optional<State> after = apply(ops_[op], state_);
    if (!after) throw std::logic_error("linearizability search: placing an op the model refuses");
    state_ = *after;
    flip(op);
    order_.push_back(op);
    if (ops_[op].known) {
      known_.unlink(call_node_[op]);
      known_.unlink(return_node_[op]);
      ++known_placed_;
      if (record_deepest_ && known_placed_ > deepest_.known_placed) record_deepest();
    }
  }

  void unplace(std::size_t op, State state_before) {
    state_ = state_before;
    flip(op);
    order_.pop_back();
    if (ops_[op].known) {
      known_.relink(return_node_[op]);  // reverse order of unlinking
      known_.relink(call_node_[op]);
      --known_placed_;
    }
  }

  bool placed_unknown(std::size_t op) const {
    const std::size_t slot = slot_[op];
    return (unknown_bits_[slot / 64] >> (slot % 64) & 1) != 0;
  }

  void flip(std::size_t op) {
    const std::size_t slot = slot_[op];
    const std::uint64_t bit = std::uint64_t{1} << (slot % 64);
    if (ops_[op].known) {
      known_bits_[slot / 64] ^= bit;
      known_hash_ ^= mix64(slot);
    } else {
      unknown_bits_[slot / 64] ^= bit;
    }
  }

  void record_deepest() {
    deepest_.known_placed = known_placed_;
    deepest_.state = state_;
    deepest_.order = order_;
  }

  const std::vector<ModelOp>& ops_;
  const std::uint64_t step_budget_;
  const bool record_deepest_;
  std::uint64_t steps_ = 0;

  // The current configuration: placed ops (bit sets, order_) and the state.
  std::vector<std::uint64_t> known_bits_;    // by slot_
  std::uint64_t known_hash_ = 0;             // xor of mix64(slot) over placed known ops
  std::vector<std::uint64_t> unknown_bits_;  // by slot_
  std::vector<std::size_t> order_;           // placed ops, oldest first
  State state_ = kAbsent;
  std::size_t known_placed_ = 0;
  std::size_t known_total_ = 0;
  std::vector<Level> levels_;                // grows to the deepest path; entries reused
  std::unique_ptr<Memo> memo_;               // sized once the lists are built
  Deepest deepest_;

  std::vector<Event> events_;                // node id -> event; 0 is the sentinel
  std::vector<std::size_t> unknown_ops_;     // unknown-outcome ops by call time
  // The same, by what they need to act (see admit_unknown):
  std::vector<std::size_t> unknown_puts_, unknown_dels_;
  std::map<State, std::vector<std::size_t>> unknown_cas_by_expected_;
  // Per value (offset by kUnread), the admit_from call that last tried it.
  std::vector<std::uint64_t> value_seen_at_;
  std::uint64_t admit_generation_ = 0;
  std::vector<std::size_t> slot_;            // op -> bit: known ops in reply order, unknown in input order
  std::vector<std::uint32_t> call_node_, return_node_;  // op -> node id
  Links known_;
};

std::string quoted(const std::string& s) {
  if (s.size() <= kValueCharsMax) return "\"" + s + "\"";
  return "\"" + s.substr(0, kValueCharsMax) + "...\"";
}

// "#7 c3 get->"z" [30,40]" etc.: enough to find the op and see what it claimed.
std::string describe(const std::vector<KvOp>& history, std::size_t i) {
  const KvOp& op = history[i];
  std::ostringstream s;
  s << "#" << i << " c" << op.client << " ";
  switch (op.kind) {
    case KvOpKind::kPut:
      s << "put " << quoted(op.value);
      break;
    case KvOpKind::kGet:
      s << "get";
      if (op.outcome_known) s << "->" << (op.ok ? quoted(op.read_value) : "absent");
      break;
    case KvOpKind::kCas:
      s << "cas " << (op.expect_absent ? "absent" : quoted(op.expected)) << "->" << quoted(op.value);
      if (op.outcome_known) s << (op.ok ? " ok" : " failed");
      break;
    case KvOpKind::kDel:
      s << "del";
      if (op.outcome_known) s << (op.ok ? " ok" : " (was absent)");
      break;
  }
  s << " [" << op.invoked_at << ",";
  if (op.outcome_known) {
    s << op.completed_at << "]";
  } else {
    s << "?]";
  }
  return s.str();
}

std::string describe_list(const std::vector<KvOp>& history, const std::vector<std::size_t>& indices) {
  std::string out;
  for (std::size_t n = 0; n < indices.size() && n < kExplainOpsMax; ++n) {
    out += (n == 0 ? "" : "; ") + describe(history, indices[n]);
  }
  if (indices.size() > kExplainOpsMax) {
    out += "; and " + std::to_string(indices.size() - kExplainOpsMax) + " more";
  }
  return out;
}

std::optional<std::string> find_malformed(const std::vector<KvOp>& history) {
  for (std::size_t i = 0; i < history.size(); ++i) {
    const KvOp& op = history[i];
    if (op.outcome_known && op.completed_at < op.invoked_at) {
      return "malformed history: " + describe(history, i) + " has its reply before its call";
    }
  }
  return std::nullopt;
}

// The checks of one key: the whole history, and on failure the search for the
// shortest failing prefix that the explanation is built from.
class KeyCheck {
 public:
  KeyCheck(const std::vector<KvOp>& history, std::string key, std::vector<std::size_t> indices,
           std::uint64_t step_budget)
      : history_(history), key_(std::move(key)), indices_(std::move(indices)), step_budget_(step_budget) {}

  Verdict verdict() { return search(kNoCut, false).verdict; }

  // Call after verdict() returned kNotLinearizable.
  //
  // The prefix cut at time T: ops whose reply came by T keep it; ops called
  // by T without a reply yet become unknown-outcome; later ops are dropped.
  // Failing is monotone in T (a linearization of a longer prefix, truncated
  // after the last op that completed by T, serves the shorter one), and the
  // prefix at the last reply fails iff the whole history does, so the first
  // failing cut is found by binary search over reply times.
  std::string explain_violation() {
    std::vector<std::uint64_t> cuts;
    for (std::size_t i : indices_) {
      if (history_[i].outcome_known) cuts.push_back(history_[i].completed_at);
    }
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    // Invariant: the cut at cuts[hi] fails (true at the last reply, see above).
    // A search that gives up counts as passing, which keeps the invariant.
    std::size_t lo = 0, hi = cuts.empty() ? 0 : cuts.size() - 1;
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (search(cuts[mid], false).verdict == Verdict::kNotLinearizable) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    const std::uint64_t cut = cuts.empty() ? kNoCut : cuts[hi];
    const SearchOutcome failing = search(cut, true);
    return describe_failure(cut, failing.deepest);
  }

 private:
  SearchOutcome search(std::uint64_t cut, bool record_deepest) {
    model_ = build_model(cut);
    return KeySearch(model_, step_budget_, record_deepest).run();
  }

  std::vector<ModelOp> build_model(std::uint64_t cut) {
    std::vector<std::size_t> in_model;
    std::vector<bool> read;  // by interned id: read or expected by an op of this model (see kUnread)
    auto mark_read = [&](const std::string& value) {
      const auto id = static_cast<std::size_t>(interner_.id(value));
      if (read.size() <= id) read.resize(id + 1, false);
      read[id] = true;
    };
    for (std::size_t i : indices_) {
      const KvOp& op = history_[i];
      const bool known = op.outcome_known && op.completed_at <= cut;
      if (!known && op.invoked_at > cut) continue;        // not yet called at the cut
      if (!known && op.kind == KvOpKind::kGet) continue;  // no effect, no constraint
      in_model.push_back(i);
      if (op.kind == KvOpKind::kGet && op.ok) mark_read(op.read_value);
      if (op.kind == KvOpKind::kCas && !op.expect_absent) mark_read(op.expected);
    }
    auto value_state = [&](const std::string& value) {
      const auto id = static_cast<std::size_t>(interner_.id(value));
      return id < read.size() && read[id] ? static_cast<State>(id) : kUnread;
    };
    std::vector<ModelOp> model;
    for (std::size_t i : in_model) {
      const KvOp& op = history_[i];
      const bool known = op.outcome_known && op.completed_at <= cut;
      ModelOp m;
      m.history_index = i;
      m.kind = op.kind;
      m.known = known;
      m.ok = op.ok;
      m.invoked_at = op.invoked_at;
      m.completed_at = op.completed_at;
      if (op.kind == KvOpKind::kPut || op.kind == KvOpKind::kCas) m.value = value_state(op.value);
      if (op.kind == KvOpKind::kCas) m.expected = op.expect_absent ? kAbsent : interner_.id(op.expected);
      if (op.kind == KvOpKind::kGet) m.read = op.ok ? interner_.id(op.read_value) : kAbsent;
      model.push_back(m);
    }
    return model;
  }

  std::string describe_failure(std::uint64_t cut, const Deepest& deepest) const {
    std::vector<std::size_t> replied_at_cut, completed, unplaced;
    std::vector<bool> placed(model_.size(), false);
    for (std::size_t op : deepest.order) placed[op] = true;
    for (std::size_t j = 0; j < model_.size(); ++j) {
      if (!model_[j].known) continue;
      completed.push_back(j);
      if (model_[j].completed_at == cut) replied_at_cut.push_back(model_[j].history_index);
      if (!placed[j]) unplaced.push_back(j);
    }
    std::stable_sort(unplaced.begin(), unplaced.end(), [&](std::size_t a, std::size_t b) {
      return model_[a].completed_at < model_[b].completed_at;
    });
    std::vector<std::size_t> unplaced_indices, tail;
    for (std::size_t j : unplaced) unplaced_indices.push_back(model_[j].history_index);
    const std::size_t from = deepest.order.size() > kExplainOrderTail ? deepest.order.size() - kExplainOrderTail : 0;
    for (std::size_t n = from; n < deepest.order.size(); ++n) tail.push_back(model_[deepest.order[n]].history_index);

    std::ostringstream s;
    s << "key " << quoted(key_) << ": not linearizable (" << indices_.size() << " ops on this key). ";
    if (cut == kNoCut) {
      s << "No op on this key completed; ";
    } else {
      s << "The shortest failing prefix ends with the " << (replied_at_cut.size() == 1 ? "reply" : "replies")
        << " at t=" << cut << ": "
        << describe_list(history_, replied_at_cut) << ". In it (" << completed.size() << " completed, "
        << model_.size() - completed.size() << " pending), ";
    }
    s << "the longest valid order places " << deepest.known_placed << " completed op(s)";
    if (!tail.empty()) s << " (" << (from > 0 ? "last: " : "") << describe_list(history_, tail) << ")";
    s << ", leaving the key " << describe_state(deepest)
      << "; then none of these can be placed: " << describe_list(history_, unplaced_indices);
    return s.str();
  }

  std::string describe_state(const Deepest& deepest) const {
    if (deepest.state == kAbsent) return "absent";
    if (deepest.state != kUnread) return "= " + quoted(interner_.name(deepest.state));
    // The last op in the order that wrote: a put, or a cas that applied.
    for (auto it = deepest.order.rbegin(); it != deepest.order.rend(); ++it) {
      const ModelOp& m = model_[*it];
      if (m.kind == KvOpKind::kPut || (m.kind == KvOpKind::kCas && (!m.known || m.ok))) {
        return "= " + quoted(history_[m.history_index].value) + " (a value no op of the prefix reads)";
      }
    }
    return "holding a value no op of the prefix reads";
  }

  const std::vector<KvOp>& history_;
  const std::string key_;
  const std::vector<std::size_t> indices_;
  const std::uint64_t step_budget_;
  Interner interner_;             // shared by every cut, so ids stay stable
  std::vector<ModelOp> model_;    // of the last search
};

}  // namespace

LinearizabilityResult check_kv_history(const std::vector<KvOp>& history, std::uint64_t step_budget) {
  if (std::optional<std::string> bad = find_malformed(history)) return {false, *bad, false};
  std::map<std::string, std::vector<std::size_t>> by_key;  // ordered: a deterministic report
  for (std::size_t i = 0; i < history.size(); ++i) by_key[history[i].key].push_back(i);

  std::vector<std::string> gave_up_keys;
  for (const auto& [key, indices] : by_key) {
    KeyCheck check(history, key, indices, step_budget);
    switch (check.verdict()) {
      case Verdict::kLinearizable:
        break;
      case Verdict::kNotLinearizable:
        return {false, check.explain_violation(), false};
      case Verdict::kGaveUp:
        gave_up_keys.push_back(key);
        break;
    }
  }
  if (!gave_up_keys.empty()) {
    std::string keys;
    for (const std::string& k : gave_up_keys) keys += (keys.empty() ? "" : ", ") + quoted(k);
    return {true,
            "inconclusive: the search exceeded its budget of " + std::to_string(step_budget) +
                " steps (or " + std::to_string(kMemoBytesMax >> 20) + " MiB of memo) on key(s) " + keys + "; the other " + std::to_string(by_key.size() - gave_up_keys.size()) +
                " key(s) are linearizable",
            true};
  }
  return {true,
          "linearizable: " + std::to_string(history.size()) + " ops on " + std::to_string(by_key.size()) + " key(s)",
          false};
}

}  // namespace synod::sim
