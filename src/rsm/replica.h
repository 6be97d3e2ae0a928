#pragma once
// One replica of the replicated state machine in one view: the primary
// orders client requests into log entries with viewstamps and streams them to
// the backups; backups store them durably and acknowledge; an entry commits
// when a majority of the view holds it durably; committed entries are handed
// out in order for applying. No I/O: driven like paxos::Node.
//
//   submit(request) / step(msg) / tick()
//   while (has_ready()) {
//     Ready r = take_ready();
//     send(r.messages); notify(r.notices);
//     if (r.write_id) { persist(r.appends); on_durable(r.write_id); }
//     apply(r.committed);            // in order; replies go to clients
//   }
//
// Invariants kept here:
// - A backup acknowledges an entry only once it is durable (DurabilityGate),
//   and only entries of its own view from that view's primary, with every
//   earlier entry present: its log is a prefix of the primary's.
// - The commit point only advances over entries of the current view held
//   durably by a majority of it (the primary counts only what it has synced).
// - Committed entries come out exactly once each, in viewstamp order.
// - Batching: all requests submitted between two take_ready() calls become one
//   log write and one Append per backup. Pipelining: new batches go out
//   without waiting for earlier ones to commit, up to inflight_entries_max.
//
// Across views (the view change itself is rsm::Node's: it embeds Paxos and
// calls enter_view() and set_frozen()):
// - Log matching: a viewstamp names one entry cluster-wide (a primary orders
//   each viewstamp of its view once, and a restarted primary never orders in
//   its old view again), and an entry is only ever appended after the entry
//   the primary had before it. So two logs holding the same viewstamp agree up
//   to it, and a backup that finds Append.prev in its log may take what
//   follows; where its log disagrees with the primary's it drops its own
//   suffix (never a committed entry: every primary holds all of those).
// - A frozen replica (its node answered a Prepare for the next view) takes no
//   part in its view: a backup ignores Appends, a primary orders nothing and
//   stops heartbeating. Its log is then what its promise reported.
//
// Reads (not in the log):
// - Linearizable: only the primary serves them, and only after (1) it has
//   committed an entry of its own view, so its commit point covers every op
//   committed before it became primary, and (2) a majority of the view,
//   itself included, confirmed in a round started after the read arrived that
//   they have not begun to move to a newer view. Then no newer view can have
//   committed anything before the read arrived. One round serves every read
//   waiting when it starts; reads that arrive meanwhile wait for the next.
// - Stale: any replica grants them at once, as of what it has handed out.
//
// Snapshots and compaction:
// - Every snapshot_after_entries handed-out entries the replica asks its host
//   (Ready::snapshot_due) to snapshot the replicated state through the last
//   one and hand it over (on_snapshot_taken); the next batch stores it and
//   drops the log up to it, in that order, in one write (Ready::save_snapshot,
//   Ready::compact_through). Every replica does this on its own.
// - A follower that needs entries the primary compacted away gets a
//   snapshot instead, in checksummed chunks, one in flight at a time; its
//   acks say how much it holds durably, so the transfer resumes where it
//   stopped. A complete snapshot whose checksum matches is installed
//   (Ready::install): it replaces the follower's state and log.
// - Who sends it: a backup the primary asks (SnapshotServe), so that a large
//   transfer does not load the primary. Any snapshot holds committed state
//   only, so any member's will do once it reaches the primary's compaction
//   point (the follower then continues from the primary's log): the primary
//   picks a backup whose acks report such a snapshot and that answered
//   lately. A donor that shows no progress for 4 * resend_ticks is dropped
//   for this follower, and the primary asks another or serves it itself.
// - The sender streams from storage: it asks its host for each chunk's bytes
//   (Ready::snapshot_reads, SnapshotSender) instead of keeping the snapshot
//   in memory. Neither the primary nor a donor compacts while a transfer it
//   takes part in progresses (a stalled one stops counting after
//   10 * resend_ticks), since that would replace the stored snapshot.
// - A follower sticks to the snapshot it is receiving; it switches to
//   another only for a newer one, or when its transfer stalled for
//   2 * resend_ticks (its sender may be gone), so two senders cannot keep
//   restarting each other.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "common/durability_gate.h"
#include "common/result.h"
#include "common/view.h"
#include "rsm/messages.h"
#include "rsm/session_expiry.h"
#include "rsm/snapshot_sender.h"

namespace synod::rsm {

struct ReplicaConfig {
  NodeId self;
  std::uint32_t heartbeat_ticks = 5;           // primary -> backups, carrying the commit point
  std::uint32_t resend_ticks = 20;             // a backup silent this long is resent from its last ack
  std::size_t append_entries_max = 1024;       // per Append message
  std::size_t pending_requests_max = 10000;    // beyond it clients are told "busy"
  std::size_t inflight_entries_max = 10000;    // ordered but uncommitted entries
  // A client session whose last request is this old is expired by an entry
  // the primary orders (session_expiry.h); 0: never.
  std::uint32_t session_idle_ticks = 0;
  std::size_t snapshot_after_entries = 0;      // 0: never snapshot, never compact
  std::size_t snapshot_chunk_bytes = 256 * 1024;
  // A backup may serve snapshots to followers that need one (else only the
  // primary does).
  bool snapshots_from_backups = true;
};

// The replicated state (session table and state machine) through `through`.
struct SnapshotImage {
  Viewstamp through;
  Bytes bytes;
  auto operator<=>(const SnapshotImage&) const = default;
};

// Bytes of a snapshot being received, to persist at `offset` (offset 0
// starts a new one and discards any other partial snapshot).
struct SnapshotPiece {
  Viewstamp through;
  std::uint64_t total_bytes = 0;
  std::uint32_t snapshot_crc = 0;
  std::uint64_t offset = 0;
  Bytes data;
  auto operator<=>(const SnapshotPiece&) const = default;
};

// What a replica recovers besides its log: its snapshot, and the part of a
// snapshot it was receiving (as the pieces it persisted, concatenated).
struct RecoveredSnapshots {
  std::optional<SnapshotImage> current;
  std::optional<SnapshotPiece> partial;        // offset 0, data = every byte received
};

struct Ready {
  std::uint64_t write_id = 0;          // non-zero when any write below is set
  // Persist in one synced batch, then on_durable(write_id), in this order:
  // install (becomes the snapshot; drops the partial one), snapshot_pieces
  // (skipping those of the installed snapshot; offset 0 starts a new partial
  // snapshot), save_snapshot (becomes the snapshot),
  // compact_through (delete entries up to it), truncate_after (delete
  // entries after it), appends.
  std::vector<SnapshotPiece> snapshot_pieces;
  std::optional<SnapshotImage> install;     // also: restore the state from it BEFORE applying `committed`
  std::optional<SnapshotImage> save_snapshot;
  std::optional<Viewstamp> compact_through;
  std::optional<Viewstamp> truncate_after;
  std::vector<LogEntry> appends;
  // After applying `committed`: snapshot the state through this viewstamp
  // and pass it to on_snapshot_taken().
  std::optional<Viewstamp> snapshot_due;
  std::vector<Message> messages;       // may be sent at once
  std::vector<ClientNotice> notices;   // redirects and "busy" answers to clients
  std::vector<LogEntry> committed;     // apply in this order
  std::vector<ReadGrant> reads;        // serve after applying `committed`
  // After persisting this Ready's writes: read these ranges of the stored
  // snapshot and pass each to on_snapshot_read.
  std::vector<SnapshotRead> snapshot_reads;
};

class Replica {
 public:
  // `recovered_log` is the durable log, in viewstamp order, after the
  // recovered snapshot if there is one (the host restored its state from it).
  Replica(ReplicaConfig config, View view, std::vector<LogEntry> recovered_log, RecoveredSnapshots snapshots = {});

  void tick();
  void step(const Message& message);
  void submit(ClientRequest request);
  void submit_read(ReadRequest read);
  void on_durable(std::uint64_t write_id);
  // The host's snapshot of the state through image.through (which it had
  // applied). The next batch stores it and drops the log up to there.
  void on_snapshot_taken(SnapshotImage image);
  // Asks the host for a snapshot through everything handed out so far now,
  // rather than after snapshot_after_entries more (the admin's "snapshot
  // now"). Refused while a transfer this replica takes part in progresses,
  // since the new snapshot would replace the one being sent.
  Status snapshot_now();
  // The bytes of a Ready::snapshot_reads request (see SnapshotRead).
  void on_snapshot_read(const SnapshotRead& read, std::optional<Bytes> data);

  // View `next` begins for this replica (next.vid > view().vid), with its log
  // as it is. A new primary appends a no-op of the new view, which commits the
  // entries it carries over, and brings every backup's log to its own. A
  // replica that is no longer primary redirects the requests it held.
  // With `frozen`, a new primary enters without serving (no no-op, nothing
  // sent): its node knows it must not act in this view.
  void enter_view(View next, bool frozen = false);
  void set_frozen(bool frozen) { frozen_ = frozen; }
  // A node rebuilding lost state follows the log but, while its view lists
  // it as a member, acknowledges nothing and confirms no reads: having
  // forgotten its promises, it cannot know its view is still current (an
  // old primary could commit with its acks). Once out of the view it
  // acknowledges as a learner, whose acks never count for commit.
  void set_non_voting(bool non_voting) { non_voting_ = non_voting; }
  bool frozen() const { return frozen_; }

  // Membership (primary only). A learner follows the log like a backup but
  // counts for nothing: not for commit, not for read confirmations.
  void add_learner(const NodeId& id);
  void remove_learner(const NodeId& id);
  // The follower lost what it had acknowledged (its state was rebuilt):
  // count nothing of it until it acknowledges again.
  void forget_progress(const NodeId& id);
  // How many entries of our log the follower (backup or learner) has not
  // acknowledged yet; nullopt if it is not a follower or never answered.
  std::optional<std::size_t> follower_lag_entries(const NodeId& id) const;
  // Ticks since the follower last answered; nullopt if it is not a follower.
  std::optional<std::uint64_t> follower_silent_ticks(const NodeId& id) const;
  // Primary: orders an entry of synod's own (client_id 0, `kind` a
  // LogEntry constant) behind the requests waiting.
  void order_internal(std::uint64_t kind, Bytes op);
  // Ordering stops (requests wait) while the primary hands its role over.
  void set_ordering_paused(bool paused) { ordering_paused_ = paused; }

  bool has_ready() const;
  Ready take_ready();

  const NodeId& self() const { return config_.self; }
  const View& view() const { return view_; }
  bool is_primary() const { return view_.primary == config_.self; }
  // The last entry held: in the log, or else the one the snapshot ends with.
  Viewstamp last() const { return log_.empty() ? snapshot_through_ : log_.back().vs; }
  Viewstamp snapshot_through() const { return snapshot_through_; }
  StoredSnapshot stored_snapshot() const { return StoredSnapshot{snapshot_through_, snapshot_size_, snapshot_crc_}; }
  // Primary: the backup serving `follower` a snapshot for it, if one is.
  std::optional<NodeId> snapshot_donor(const NodeId& follower) const;
  // Snapshot transfers this replica is sending (as primary or as donor).
  bool sending_snapshot_to(const NodeId& id) const { return sender_.serving(id); }
  Viewstamp durable() const { return durable_; }
  Viewstamp commit() const { return commit_; }
  // Primary: its commit point covers every op committed before it became
  // primary. True once it committed an entry of its own view (its no-op);
  // in view 1 from the start, since no view came before.
  bool established() const { return view_.vid == 1 || commit_.vid == view_.vid; }
  const std::vector<LogEntry>& log() const { return log_; }
  // Backup: the end of the part of its log known to match the primary's in
  // this view. What it acknowledges, and the most it may commit.
  Viewstamp matched() const { return matched_; }
  // Committed entries this replica dropped from its log. Always zero unless
  // safety is broken; the simulator checks it.
  std::uint64_t committed_entries_truncated() const { return committed_entries_truncated_; }

 private:
  struct Follower {
    Viewstamp match;                  // durable on the follower, as it acknowledged
    Viewstamp sent;                   // sent up to here; rewound to match on silence
    std::uint64_t last_progress_tick = 0;
    bool heard = false;               // it has answered at least once (a learner that never shows up has not)
    std::uint64_t last_heard_tick = 0;
    Viewstamp snapshot;               // where its stored snapshot ends, as its acks report
    // A backup serving it a snapshot, and the transfer as its acks (copied
    // to us) report it. Donors that stalled are not asked again until it
    // installs a snapshot.
    std::optional<NodeId> donor;
    Viewstamp donor_through;
    std::uint64_t donor_received = 0;
    std::uint64_t donor_progress_tick = 0;
    std::set<NodeId> failed_donors;
  };

  Follower new_follower(Viewstamp sent) const;  // heard "now", nothing acknowledged
  bool acks_withheld() const { return non_voting_ && view_.contains(config_.self); }
  void on_append(const NodeId& from, const Append& a);
  void on_ack(const NodeId& from, const AppendAck& a);
  void on_gap(const NodeId& from, const AppendGap& g);
  void on_read_confirm(const NodeId& from, const ReadConfirm& c);
  void on_snapshot_chunk(const NodeId& from, const SnapshotChunk& c);
  void on_snapshot_ack(const NodeId& from, const SnapshotAck& a);
  void on_snapshot_serve(const NodeId& from, const SnapshotServe& s);
  // Primary: the follower needs a snapshot; have a donor or ourselves send it.
  void serve_snapshot(const NodeId& id, Follower& f);
  std::optional<NodeId> choose_donor(const NodeId& id, const Follower& f) const;
  void install_snapshot();
  void ack_snapshot(const NodeId& to, Viewstamp through, std::uint64_t received, bool installed);
  void maybe_request_snapshot();
  // A snapshot transfer that made progress lately. The primary does not
  // compact meanwhile: a newer snapshot would restart the transfer (which,
  // with a busy log, might then never finish), and the entries after the
  // snapshot in transfer must still be there when it is installed.
  bool snapshot_transfer_active() const;
  void on_read_confirm_ack(const NodeId& from, const ReadConfirmAck& c);

  // A confirmation round may start: reads wait, none is in flight, and the
  // primary has committed an entry of its own view.
  bool can_start_read_round() const;
  void start_read_round();
  void send_read_confirms();

  // Ordering stops while inflight_entries_max entries await commit: that is
  // the primary's backpressure, and the pending queue's bound is the clients'.
  bool can_order() const;
  std::size_t uncommitted_entries() const;
  void order_pending();
  void send_entries(const NodeId& backup);
  void append_to_log(std::vector<LogEntry> entries);
  // Drops log_[index...] (uncommitted entries the primary's log lacks).
  void truncate_log(std::size_t index);
  // The index in log_ just past `prev`, if `prev` is in the log (the empty
  // log's end, Viewstamp{}, always is).
  std::optional<std::size_t> index_after(Viewstamp prev) const;
  void advance_commit();
  void set_commit(Viewstamp commit);
  Viewstamp next_viewstamp() const;
  std::vector<LogEntry>::const_iterator after(Viewstamp vs) const;
  void send(NodeId to, Body body);

  ReplicaConfig config_;
  View view_;
  std::uint64_t now_ticks_ = 0;
  std::uint64_t next_heartbeat_ = 0;

  std::vector<LogEntry> log_;                  // in viewstamp order
  Viewstamp durable_;                          // our own log is durable up to here
  Viewstamp matched_;                          // backup: matches the primary's log up to here
  bool frozen_ = false;
  bool ordering_paused_ = false;
  bool non_voting_ = false;
  std::uint64_t committed_entries_truncated_ = 0;
  Viewstamp commit_;
  Viewstamp handed_out_;                       // committed entries given to Ready::committed
  std::deque<std::pair<std::uint64_t, Viewstamp>> batch_last_;  // write id -> last entry it holds

  // Primary only.
  std::deque<ClientRequest> pending_;
  std::set<std::pair<std::uint64_t, std::uint64_t>> ordering_;   // requests pending or uncommitted
  std::map<NodeId, Follower> followers_;        // the view's backups, and learners
  ExpiryClock expiry_clock_;

  // Snapshots.
  Viewstamp snapshot_through_;                 // the log starts after it
  std::uint64_t snapshot_size_ = 0;            // its bytes are in storage, not here
  std::uint32_t snapshot_crc_ = 0;
  bool snapshot_requested_ = false;
  SnapshotSender sender_;
  std::optional<SnapshotPiece> incoming_;      // being received: offset 0, data so far
  std::uint64_t incoming_progress_tick_ = 0;   // when incoming_ last grew

  std::optional<SnapshotImage> install_;
  std::optional<SnapshotImage> save_snapshot_;
  std::vector<SnapshotPiece> pieces_;
  std::optional<Viewstamp> compact_through_;
  std::optional<Viewstamp> snapshot_due_;
  std::optional<Viewstamp> truncate_after_;
  std::vector<LogEntry> appends_;
  DurabilityGate<Message> gate_;
  std::vector<Message> outbox_;
  std::vector<ClientNotice> notices_;
  std::vector<LogEntry> committed_;

  // Linearizable reads (primary only).
  std::deque<ReadRequest> reads_waiting_;      // for the next confirmation round
  std::vector<ReadRequest> reads_in_round_;
  std::uint64_t read_round_ = 0;               // the latest round started
  bool read_round_open_ = false;
  Viewstamp read_round_as_of_;                 // commit point when the round started
  std::set<NodeId> read_round_confirmed_;      // backups that confirmed it
  std::vector<ReadGrant> grants_;
};

// True when `next` may directly follow `prev` in a log: the next sequence
// number of the same view, or the first of a later view.
bool follows(Viewstamp prev, Viewstamp next);

}  // namespace synod::rsm
