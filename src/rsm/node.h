#pragma once
// A node of the replicated state machine: the Paxos node that agrees on views
// and the Replica that runs the log in the current view, sharing ONE ordered
// stream of durable writes. Like its two parts it does no I/O:
//
//   node.step(msg) / node.step(paxos_msg) / node.submit(req) / node.tick()
//   while (node.has_ready()) {
//     NodeReady r = node.take_ready();
//     send(r.messages, r.paxos_messages); notify(r.notices);
//     if (r.write_id) { persist(r.paxos_writes, r.truncate_after, r.appends)  // ONE synced batch
//                       node.on_durable(r.write_id); }
//     apply(r.committed); serve(r.reads);
//     for (read : r.snapshot_reads) node.on_snapshot_read(read, bytes of the stored snapshot);
//   }
//
// The view change, and when each of its rules takes effect:
// - Suspicion: a backup that hears nothing from its primary for
//   primary_timeout_ticks (plus a per-node jitter) proposes view v+1. Hearing
//   means any Append, heartbeats included; they leave the primary on its
//   tick, never behind its disk, so a slow fsync does not look like death.
// - Freeze: from the moment this node promises anything for instance v+1 it
//   takes no part in view v (Replica::set_frozen): no acks, no ordering. Its
//   promise carries the last viewstamp in its log, and that log is frozen.
// - One write stream: a promise leaves only after every write issued before
//   it, log entries included, is durable. Otherwise the promise could report
//   an entry a crash then loses, and the new primary be chosen by it.
// - Choice: a proposer free to choose (no value accepted before) makes the
//   new primary the promiser with the highest last viewstamp, the old primary
//   winning ties. Every committed op is durable on a majority of view v, every
//   promise quorum is a majority of view v, so that member holds them all.
// - Takeover: a frozen node that sees no decision for view_change_timeout_ticks
//   drives instance v+1 itself: a crashed proposer cannot freeze the cluster.
// - Start: view v+1 begins for this node when Paxos delivers its decision
//   durably (enter_view). The new primary orders a no-op and brings every
//   backup's log to its own (Replica).
// - Restart: a primary that restarts (Recovered::restarted) never orders in
//   its old view again, since a crash may have lost viewstamps it had handed
//   out; it starts the view change at once.
// - Membership (one change at a time, only by a primary whose view has
//   started, i.e. committed its no-op, so that every change begins from a
//   view a majority has synced to):
//   - add: the node first follows the log as a learner; once it is within
//     learner_lag_entries_max of the primary's log, the primary proposes the
//     view that includes it. A learner that never catches up never enters,
//     and the add can be cancelled until the proposal starts.
//   - remove a backup: the primary proposes the view without it.
//   - remove the primary: it stops ordering, waits until a backup holds its
//     whole log, and proposes the view without itself with that backup as
//     primary; if none does within handover_timeout_ticks, it gives up and
//     orders again.
//   The chooser keeps all of this safe: whatever was wanted, the promiser
//   with the highest last viewstamp becomes primary (see choose_view).
// - Rebuild: a node whose state was found corrupt starts over empty and
//   does not vote (its promises are gone) nor propose (its round is gone)
//   until it is a member again through a view decided after it was removed:
//   it asks its primary (RebuildRequest) to remove it and add it back; the
//   primary re-adds it through the learner path once it answers, and then
//   tells it the view that did (RebuildDone): only the primary can know that
//   this view came after the loss (a wiped node re-learns old views too).
// - Stale senders: a message of an older view is answered with the current
//   view as a Paxos Decided, which the sender learns from; a message of a
//   newer view makes this node catch up on decisions.

#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <vector>

#include "common/durability_gate.h"
#include "paxos/node.h"
#include "rsm/replica.h"

namespace synod::rsm {

struct NodeConfig {
  ReplicaConfig replica;                      // replica.self names this node
  View initial_view;                          // view 1, from static configuration
  std::uint64_t seed = 1;                     // timeouts' jitter and Paxos backoff
  std::uint32_t primary_timeout_ticks = 40;   // a backup's patience with a silent primary
  std::uint32_t primary_timeout_jitter_ticks = 20;
  std::uint32_t view_change_timeout_ticks = 100;  // a frozen node's patience before taking over
  std::uint32_t catch_up_interval_ticks = 5;  // at most one catch-up request per interval
  std::size_t learner_lag_entries_max = 64;   // a learner this close to the log is proposed as member
  // Optional policy: the primary removes a backup it has not heard from for
  // this long (0: never), never going below auto_remove_min_members, and
  // re-adds it through the learner path once it answers again.
  std::uint64_t auto_remove_after_ticks = 0;
  std::size_t auto_remove_min_members = 2;
  std::uint32_t rebuild_request_ticks = 20;   // how often a rebuilding member asks to be re-added
  // A pending removal gives up (and a primary removing itself orders again)
  // when no backup holds the whole log, or the members left stop being a
  // live majority, for this long after the request.
  std::uint64_t handover_timeout_ticks = 200;
  paxos::Config paxos;                        // tuning only: self, initial_view, seed are set here
};

// What a node recovers from its disk.
// Recovered::votes_after for a node that lost its state and must not vote.
inline constexpr Instance kRebuilding = ~Instance{0};

struct Recovered {
  paxos::DurableState paxos;
  std::vector<LogEntry> log;                  // in viewstamp order, after the snapshot
  // False only on the very first start of a data directory. A restarted
  // primary may have lost viewstamps it handed out, so it must not order in
  // its old view again.
  bool restarted = false;
  RecoveredSnapshots snapshots = {};          // the host restored its state from snapshots.current
  // The node votes in Paxos instances after this one: 0 normally,
  // kRebuilding after its state was found corrupt and wiped (the host
  // persists that before starting it), then the view that re-admitted it.
  Instance votes_after = 0;
  // With kRebuilding: a number the host drew at random when it wiped the
  // state (and persisted with it), naming this loss in RebuildRequest.
  std::uint64_t rebuild_id = 0;
};

struct NodeReady {
  std::uint64_t write_id = 0;                 // non-zero when any write below is set
  // One synced batch, in this order: the Paxos records; install (becomes the
  // snapshot, and drops the partial one); snapshot_pieces (those of the
  // installed snapshot are skipped; a piece at offset 0 starts a new partial
  // snapshot); save_snapshot (becomes the snapshot, leaves the partial);
  // delete log entries up to compact_through; delete those after
  // truncate_after; put appends.
  std::vector<paxos::Write> paxos_writes;
  std::vector<SnapshotPiece> snapshot_pieces;
  std::optional<SnapshotImage> install;       // also: restore the state from it BEFORE applying `committed`
  std::optional<SnapshotImage> save_snapshot;
  std::optional<Viewstamp> compact_through;
  std::optional<Viewstamp> truncate_after;
  std::vector<LogEntry> appends;
  std::vector<Message> messages;              // may be sent at once
  std::vector<paxos::Message> paxos_messages; // may be sent at once
  std::vector<ClientNotice> notices;
  std::vector<LogEntry> committed;            // apply in this order
  std::vector<ReadGrant> reads;               // serve after applying `committed`
  // After applying `committed`: snapshot the state through it and pass the
  // snapshot to on_snapshot_taken() (the next batch stores it).
  std::optional<Viewstamp> snapshot_due;
  // After persisting the batch: read these ranges of the stored snapshot
  // and pass each to on_snapshot_read (see SnapshotRead).
  std::vector<SnapshotRead> snapshot_reads;
  std::vector<View> views_entered;            // in order, for the host's information
  std::optional<Instance> votes_after;        // persist with the batch: see Recovered::votes_after
};

// A membership change in progress at the primary.
struct MembershipChange {
  enum class Kind { kAdd, kRemove, kTransfer };  // kTransfer: the primary role, to `node`
  Kind kind = Kind::kAdd;
  NodeId node;
  bool proposed = false;                      // the view carrying it is being decided
  auto operator<=>(const MembershipChange&) const = default;
};

std::string to_string(const MembershipChange& change);

class Node {
 public:
  Node(NodeConfig config, Recovered recovered);

  void tick();
  void step(const Message& message);
  void step(const paxos::Message& message);
  void submit(ClientRequest request);
  void submit_read(ReadRequest read);
  void on_durable(std::uint64_t write_id);
  void on_snapshot_taken(SnapshotImage image) { replica_.on_snapshot_taken(std::move(image)); }
  Status snapshot_now() { return replica_.snapshot_now(); }
  void on_snapshot_read(const SnapshotRead& read, std::optional<Bytes> data) {
    replica_.on_snapshot_read(read, std::move(data));
  }

  // Admin requests, at the primary. Errors say why and what to do: "not the
  // primary" (names it), "busy, retry" (a change or a view change is in
  // progress, or the view has not started), or a request that makes no sense.
  // With an address, the primary first orders a kSetAddress entry for it,
  // so that every replica learns where the new node listens.
  Status request_add(const NodeId& id, const std::string& address = {});
  Status cancel_add(const NodeId& id);
  Status request_remove(const NodeId& id);
  // Hands the primary role to member `id`, the membership unchanged: the
  // primary stops ordering, waits until `id` holds its whole log, and
  // proposes the next view with `id` as primary (the chooser keeps it, its
  // log being as long as any). Gives up, ordering again, after
  // handover_timeout_ticks.
  Status request_transfer(const NodeId& id);
  const std::optional<MembershipChange>& pending_change() const { return pending_change_; }

  // Proposes the next view now, as if the primary had timed out: for a
  // failure detector outside the core, and for tests of false suspicion.
  void suspect_primary() { start_view_change(); }

  bool has_ready() const;
  NodeReady take_ready();

  const NodeId& self() const { return replica_.self(); }
  const View& view() const { return replica_.view(); }
  bool is_primary() const { return replica_.is_primary(); }
  // True while this node takes no part in its view: it promised for the next
  // one, or it is a restarted primary waiting for the next one.
  bool frozen() const { return replica_.frozen(); }
  // True while this node rebuilds lost state and takes no part in Paxos.
  bool rebuilding() const { return rebuilding_; }
  const Replica& replica() const { return replica_; }
  const paxos::Node& paxos() const { return paxos_; }

 private:
  // Written writes of the two cores that one combined batch carries.
  struct BatchParts {
    std::uint64_t combined = 0;
    std::uint64_t paxos = 0;                  // 0: none in this batch
    std::uint64_t replica = 0;
  };

  void collect();                             // moves both cores' output into staged_
  void enter_view(const View& next);
  void update_freeze();
  void start_view_change();
  // `known`: log positions this node knows for sure besides the promises
  // (a successor that acknowledged our whole log), used when its promise is
  // not among the first majority.
  void propose_view(View wanted, std::map<NodeId, Viewstamp> known = {});
  Status check_can_change_membership() const;
  // How many of `members` answered within primary_timeout_ticks (we count).
  std::size_t live_members(const std::vector<NodeId>& members) const;
  void advance_membership_change();
  void apply_auto_removal();
  void on_rebuild_request(const NodeId& from, const RebuildRequest& request);
  void on_rebuild_done(const NodeId& from, const RebuildDone& done);
  void reset_suspicion();
  bool stale_or_newer(const Message& message);

  NodeConfig config_;
  paxos::Node paxos_;
  Replica replica_;
  std::uint64_t now_ticks_ = 0;
  std::uint64_t rng_state_;
  bool recovering_ = false;
  std::uint64_t suspect_at_ = 0;              // backup: propose v+1 at this tick
  std::uint64_t frozen_since_ = 0;
  std::uint64_t next_catch_up_at_ = 0;
  std::optional<MembershipChange> pending_change_;
  std::uint64_t pending_since_ = 0;           // when the pending removal was requested
  // Backups this primary removed for silence: watched as learners (without a
  // pending change) so that they are re-added once they answer again.
  std::set<NodeId> auto_removed_;
  bool rebuilding_ = false;                   // our state was lost: no votes, no proposals
  // Primary: members that asked to be rebuilt (not counted as live voters),
  // those it removed for it, and the views that added those back.
  std::set<NodeId> rebuilding_members_;
  std::map<NodeId, std::uint64_t> removed_for_rebuild_;            // node -> rebuild id
  std::map<NodeId, std::pair<std::uint64_t, ViewId>> readmitted_;  // node -> (rebuild id, view)
  std::uint64_t rebuild_id_ = 0;              // ours, while rebuilding
  std::uint64_t next_rebuild_request_at_ = 0;

  NodeReady staged_;
  BatchParts open_batch_;                     // the parts of the batch being staged
  std::deque<BatchParts> in_flight_;          // taken, not yet durable
  DurabilityGate<paxos::Message> promise_gate_;
};

// What a proposer free to choose (no promise carried an accepted value)
// proposes: wanted's membership, with the promiser holding the highest last
// viewstamp as primary, since it holds every committed op. Ties go to
// wanted.primary, then to `proposer`, then to the smallest id. If that
// promiser is one `wanted` leaves out (a member being removed), it stays a
// member and primary: the change waits for another attempt rather than lose
// an op.
View choose_view(const View& wanted, const NodeId& proposer, const std::map<NodeId, Viewstamp>& log_positions);

}  // namespace synod::rsm
