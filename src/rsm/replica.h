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
// Not yet here (next increments): state transfer to joining members, log
// compaction.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "common/durability_gate.h"
#include "common/view.h"
#include "rsm/messages.h"
#include "rsm/session_expiry.h"

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
};

struct Ready {
  std::uint64_t write_id = 0;          // non-zero when truncate_after or appends is set
  // Persist in one synced batch, then on_durable(write_id): first delete every
  // entry after truncate_after (when set), then put appends.
  std::optional<Viewstamp> truncate_after;
  std::vector<LogEntry> appends;
  std::vector<Message> messages;       // may be sent at once
  std::vector<ClientNotice> notices;   // redirects and "busy" answers to clients
  std::vector<LogEntry> committed;     // apply in this order
  std::vector<ReadGrant> reads;        // serve after applying `committed`
};

class Replica {
 public:
  // `recovered_log` is the durable log, in viewstamp order.
  Replica(ReplicaConfig config, View view, std::vector<LogEntry> recovered_log);

  void tick();
  void step(const Message& message);
  void submit(ClientRequest request);
  void submit_read(ReadRequest read);
  void on_durable(std::uint64_t write_id);

  // View `next` begins for this replica (next.vid > view().vid), with its log
  // as it is. A new primary appends a no-op of the new view, which commits the
  // entries it carries over, and brings every backup's log to its own. A
  // replica that is no longer primary redirects the requests it held.
  void enter_view(View next);
  void set_frozen(bool frozen) { frozen_ = frozen; }
  bool frozen() const { return frozen_; }

  // Membership (primary only). A learner follows the log like a backup but
  // counts for nothing: not for commit, not for read confirmations.
  void add_learner(const NodeId& id);
  void remove_learner(const NodeId& id);
  // How many entries of our log the follower (backup or learner) has not
  // acknowledged yet; nullopt if it is not a follower or never answered.
  std::optional<std::size_t> follower_lag_entries(const NodeId& id) const;
  // Ticks since the follower last answered; nullopt if it is not a follower.
  std::optional<std::uint64_t> follower_silent_ticks(const NodeId& id) const;
  // Ordering stops (requests wait) while the primary hands its role over.
  void set_ordering_paused(bool paused) { ordering_paused_ = paused; }

  bool has_ready() const;
  Ready take_ready();

  const NodeId& self() const { return config_.self; }
  const View& view() const { return view_; }
  bool is_primary() const { return view_.primary == config_.self; }
  Viewstamp last() const { return log_.empty() ? Viewstamp{} : log_.back().vs; }
  Viewstamp durable() const { return durable_; }
  Viewstamp commit() const { return commit_; }
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
  };

  void on_append(const NodeId& from, const Append& a);
  void on_ack(const NodeId& from, const AppendAck& a);
  void on_gap(const NodeId& from, const AppendGap& g);
  void on_read_confirm(const NodeId& from, const ReadConfirm& c);
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
  std::uint64_t committed_entries_truncated_ = 0;
  Viewstamp commit_;
  Viewstamp handed_out_;                       // committed entries given to Ready::committed
  std::deque<std::pair<std::uint64_t, Viewstamp>> batch_last_;  // write id -> last entry it holds

  // Primary only.
  std::deque<ClientRequest> pending_;
  std::set<std::pair<std::uint64_t, std::uint64_t>> ordering_;   // requests pending or uncommitted
  std::map<NodeId, Follower> followers_;        // the view's backups, and learners
  ExpiryClock expiry_clock_;

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
