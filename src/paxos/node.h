#pragma once
// A node of multi-instance Paxos: acceptor, proposer and learner for every
// instance, as a deterministic state machine with no I/O (etcd raft's Ready
// loop is the model).
//
// Driving it:
//   node.step(msg) / node.tick() / node.propose(i, v)
//   while (node.has_ready()) {
//     Ready r = node.take_ready();
//     send(r.messages);                       // safe now: they need nothing unsynced
//     if (r.write_id) { persist(r.writes);    // ONE synced batch
//                       node.on_durable(r.write_id); }  // releases the replies that waited
//     deliver(r.learned);                     // decided views, in instance order
//   }
// Batches must become durable in write_id order.
//
// Invariants kept here:
// - A reply (Promise, Accepted, Reject) leaves only after every write issued
//   before it is durable; a crash that loses unsynced writes therefore never
//   contradicts anything another node has seen.
// - A Prepare leaves only after its round is durable, so a restarted node never
//   reuses a proposal number.
// - A decision is delivered (Ready::learned) only once it is durable, and in
//   instance order with no gaps.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "common/durability_gate.h"
#include "common/result.h"
#include "paxos/messages.h"
#include "paxos/proposal.h"
#include "paxos/records.h"

namespace synod::paxos {

struct Config {
  NodeId self;
  View initial_view;                          // view 1, from static configuration
  std::uint64_t seed = 1;                     // randomised backoff; same seed, same run
  // A round that makes no progress for this long is retried higher: every
  // promise or acceptance of the current round pushes the deadline out. Each
  // further round of the same proposal also waits twice as long (up to 8x).
  // A fixed timeout shorter than the real round trip restarted every round
  // before its answers arrived, forever (found by the soak, harsh profile);
  // the cap keeps a proposer quick to notice a majority that came back.
  std::uint32_t round_timeout_ticks = 20;
  std::uint32_t backoff_ticks_max = 20;       // random extra wait after a rejection
  std::uint32_t learn_interval_ticks = 10;    // how often to ask peers for missed decisions
  std::uint64_t instance_window = 64;         // acceptor ignores instances this far ahead
  std::uint32_t learn_batch_max = 16;         // decisions sent per Learn answer
};

struct Decision {
  Instance instance = 0;
  View value;
  auto operator<=>(const Decision&) const = default;
};

struct Ready {
  std::uint64_t write_id = 0;       // non-zero when writes is non-empty
  std::vector<Write> writes;        // persist in one synced batch, then on_durable(write_id)
  std::vector<Message> messages;    // may be sent at once
  std::vector<Decision> learned;    // durable decisions, consecutive, in instance order
};

class Node {
 public:
  Node(Config config, const DurableState& recovered);

  void tick();
  void step(const Message& message);
  // Starts driving `instance` towards a decision, preferring `value`. Fails
  // when the instance is decided, when the previous view is not yet known
  // (its members are this instance's acceptors), or when the value is invalid.
  // A value accepted earlier by others may win instead: that is Paxos.
  Status propose(Instance instance, View value, ChooseValue choose = {});
  // A node whose acceptor state was lost (found corrupt) must not answer
  // Prepares or Accepts until it is a member again through a view decided
  // after the loss: an empty n_p could promise below what it had promised.
  // It still learns decisions. Voting resumes for instances after
  // `from_instance` (the view that re-admitted it).
  void stop_voting() { votes_after_ = kNeverVote; }
  void vote_after(Instance from_instance) { votes_after_ = from_instance; }
  bool votes_for(Instance instance) const { return instance > votes_after_; }
  // The host's op log ends here; promises report it (see Promise).
  void set_log_position(Viewstamp last) { log_position_ = last; }
  // The highest number this node promised for `instance` (zero if none). The
  // replicated state machine stops acknowledging ops of view v once this is
  // non-zero for instance v+1.
  ProposalNumber promised_for(Instance instance) const;
  void on_durable(std::uint64_t write_id);
  // Asks every known node for the decisions after latest_view() now, instead
  // of at the next learn interval: the host saw a message of a newer view.
  void catch_up();

  bool has_ready() const;
  Ready take_ready();

  const NodeId& self() const { return config_.self; }
  // The newest view such that every earlier one is known decided.
  const View& latest_view() const;
  std::optional<View> decision(Instance instance) const;
  // Highest instance delivered through Ready::learned, or recovered from disk
  // (which the host reads with decision() at start).
  Instance delivered_through() const { return delivered_through_; }
  bool proposing() const { return proposal_.has_value(); }
  // The proposal in progress, for inspection (tests, status); null when idle.
  const Proposal* proposal() const { return proposal_ ? &*proposal_ : nullptr; }
  // Times this node was told a value for an instance it had decided
  // otherwise. Always zero unless safety is broken; the simulator checks it.
  std::uint64_t conflicting_decisions() const { return conflicting_decisions_; }

 private:
  void handle(const Message& m);
  void on_prepare(const NodeId& from, const Prepare& p);
  void on_accept(const NodeId& from, const Accept& a);
  void on_promise(const NodeId& from, const Promise& p);
  void on_accepted(const NodeId& from, const Accepted& a);
  void on_reject(const Reject& r);
  void on_decided(const Decided& d);
  void on_learn(const NodeId& from, const Learn& l);

  void learn(Instance instance, const View& value);
  void start_round();
  void extend_round_on_progress(Instance instance, const ProposalNumber& n);
  void ask_for_missing(const std::vector<NodeId>& peers);
  std::vector<NodeId> acceptors_of(Instance instance) const;
  bool within_window(Instance instance) const;

  // Outgoing: `send` now, or `send_after_durable` once every write issued so
  // far is on disk. Messages to self are handled locally, in order.
  void send(NodeId to, Body body);
  void send_after_durable(NodeId to, Body body);
  void persist(Write w);
  void drain_local();
  void deliver_durable_decisions();

  Config config_;
  std::mt19937_64 rng_;
  std::uint64_t now_ticks_ = 0;

  std::map<Instance, AcceptorState> acceptors_;   // in memory, may be ahead of disk
  std::map<Instance, View> decided_;              // includes view 1
  Instance known_through_ = 1;                    // every instance <= this is decided
  Instance delivered_through_ = 1;
  std::map<Instance, std::uint64_t> decided_write_tag_;  // instance -> write that records it
  // Members of every view known. Catch-up asks all of them, not only the
  // latest view: a node whose latest view holds only itself (or only nodes
  // that are gone) must still find the decisions made without it.
  std::set<NodeId> known_nodes_;

  static constexpr Instance kNeverVote = ~Instance{0};
  Instance votes_after_ = 0;
  Viewstamp log_position_;
  std::uint64_t round_ = 0;                       // highest round used or seen
  std::optional<Proposal> proposal_;
  std::uint64_t proposal_retry_at_ = 0;
  std::uint32_t proposal_rounds_ = 0;             // rounds started by the current proposal
  std::uint64_t next_learn_at_ = 0;

  std::vector<Write> pending_writes_;
  DurabilityGate<Message> gate_;
  std::vector<Message> outbox_;
  std::vector<Decision> learned_;
  std::deque<Message> local_;
  std::uint64_t conflicting_decisions_ = 0;
};

}  // namespace synod::paxos
