#include "server/node_runtime.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "common/log.h"
#include "net/codec.h"
#include "net/transport.h"
#include "rsm/applier.h"
#include "rsm/node.h"
#include "storage/node_batch.h"
#include "storage/node_load.h"
#include "storage/snapshot_store.h"
#include "storage/store.h"

namespace synod::server {
namespace {

using ConnectionId = net::Transport::ConnectionId;

// A client's request, with the connection its answer goes back on.
struct ClientIn {
  ConnectionId conn = 0;
  net::ClientMessage request;
};
using Inbound = std::variant<rsm::Message, paxos::Message, ClientIn>;

// Bounds the queue between the network thread and the protocol thread: past
// it, peer messages are dropped like a lossy network would (the protocol
// retries) and clients are told "busy".
constexpr std::size_t kInboundQueueMax = 10000;
// A client waiting here for an answer is forgotten after this long: by then
// it has retried (which registers it again) or gone away.
constexpr std::uint64_t kWaitingForgetMs = 60'000;
constexpr std::uint64_t kWaitingPurgeEveryMs = 5'000;
// Ticks caught up at once after the protocol thread was held up; beyond it
// the missed ticks are skipped rather than burst.
constexpr int kTickCatchUpMax = 5;

// A client waiting here for the answer to its outstanding request (one per
// client: a client has one outstanding at a time).
struct Waiting {
  std::uint64_t number = 0;  // request_no or read_no
  ConnectionId conn = 0;
  std::uint64_t since_tick = 0;
};

net::NodeRole role_of(const rsm::Node& node) {
  if (node.rebuilding()) return net::NodeRole::kRebuilding;
  if (!node.view().contains(node.self())) return net::NodeRole::kLearner;
  if (node.frozen()) return net::NodeRole::kFrozen;
  return node.is_primary() ? net::NodeRole::kPrimary : net::NodeRole::kBackup;
}

// Human-readable text in replies stays within what the decoder accepts.
std::string clip(std::string text) {
  if (text.size() > net::kClientMessageBytesMax) text.resize(net::kClientMessageBytesMax);
  return text;
}

std::uint64_t draw_random() {
  std::random_device device;
  return (std::uint64_t{device()} << 32) ^ device();
}

// Deletes every record a node votes or serves with (Paxos state, log,
// snapshots) and records that it is rebuilding, in one synced write. The
// dir's identity (node, cluster, format) and its `started` mark stay.
Status wipe_state(storage::Store& store, std::uint64_t rebuild_id) {
  storage::Batch batch;
  for (storage::Family family : {storage::Family::kPaxos, storage::Family::kLog, storage::Family::kState}) {
    std::vector<Bytes> keys;
    Status s = store.scan(family, "", [&](BytesView key, BytesView) {
      keys.emplace_back(key);
      return true;
    });
    if (!s) return s;
    for (const Bytes& key : keys) batch.del(family, key);
  }
  storage::put_votes_after(batch, rsm::kRebuilding);
  storage::put_rebuild_id(batch, rebuild_id);
  return store.write(batch);
}

std::string members_changed(const View& before, const View& after) {
  std::string out;
  for (const NodeId& m : after.members()) {
    if (!before.contains(m)) out += " +" + m;
  }
  for (const NodeId& m : before.members()) {
    if (!after.contains(m)) out += " -" + m;
  }
  return out;
}

}  // namespace

struct NodeRuntime::Impl {
  NodeRuntimeOptions options;
  std::string source;  // who speaks in log lines

  // Protocol thread only, once started.
  std::unique_ptr<StateMachine> machine;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<rsm::Applier> applier;
  std::unique_ptr<rsm::Node> node;
  std::map<NodeId, net::Endpoint> book;              // the address book
  std::uint64_t now_ticks = 0;
  std::map<std::uint64_t, Waiting> waiting_ops;      // by client id
  std::map<std::uint64_t, Waiting> waiting_reads;    // by client id
  std::uint64_t next_purge_tick = 0;
  View last_view;                                    // for logging changes
  bool was_frozen = false;
  bool was_rebuilding = false;
  bool failed = false;
  // Answers to clients, sent by flush() once the status other threads see
  // reflects them (a client that got an answer never sees an older status).
  std::vector<std::pair<ConnectionId, net::ClientMessage>> outgoing;

  std::unique_ptr<net::Transport> transport;
  // The same, for the network thread's own answers: frames can arrive
  // before start() has stored `transport` (null until then: not answered).
  std::atomic<net::Transport*> transport_for_refusals{nullptr};

  mutable std::mutex mu;
  std::condition_variable wake;
  std::deque<Inbound> inbound;                       // under mu
  bool stopping = false;                             // under mu
  NodeRuntimeStatus status;                          // under mu
  std::string primary_address;                       // under mu: for answers from the network thread
  NodeRuntimeStats stats;                            // under mu
  std::thread protocol_thread;

  // Network thread.
  Status on_frame(net::Frame frame, ConnectionId conn);
  Status enqueue_peer(Inbound message);
  void enqueue_client(ConnectionId conn, net::ClientMessage request);

  // Protocol thread.
  void run();
  void handle(Inbound& item);
  void drive();
  void on_views_entered(const std::vector<View>& views);
  void send_peer_messages(rsm::NodeReady& r);
  void answer_notice(const rsm::ClientNotice& notice);
  void restore(const rsm::SnapshotImage& image);
  void apply(const rsm::LogEntry& entry);
  void serve(const rsm::ReadGrant& grant);
  void take_snapshot(Viewstamp through);
  void read_snapshot(const rsm::SnapshotRead& read);
  void learn_addresses();
  void on_op(ConnectionId conn, const net::ClientOpRequest& op);
  void on_read(ConnectionId conn, const net::ClientReadRequest& read);
  void on_admin(ConnectionId conn, const net::AdminRequest& request);
  void purge_waiting();
  void fatal(const std::string& why);
  void publish();
  void flush();

  std::string address_of(const NodeId& id) const;
  net::ClientReply reply_to(std::uint64_t client_id, std::uint64_t number, bool read) const;
  std::vector<net::MemberInfo> members() const;
  void send(ConnectionId conn, const net::ClientMessage& message);
  // Answers the client waiting in `waiting` for request `number`, if one is.
  void answer_waiting(std::map<std::uint64_t, Waiting>& waiting, const net::ClientReply& reply);
  void bump(std::uint64_t NodeRuntimeStats::*counter, std::uint64_t n = 1);
};

void NodeRuntime::Impl::bump(std::uint64_t NodeRuntimeStats::*counter, std::uint64_t n) {
  std::lock_guard lock(mu);
  stats.*counter += n;
}

// ---- Network thread ----------------------------------------------------------

Status NodeRuntime::Impl::on_frame(net::Frame frame, ConnectionId conn) {
  const std::uint16_t type = frame.type;
  auto refuse = [&](const std::string& why) -> Status {
    bump(&NodeRuntimeStats::messages_undecodable);
    return Error{why};
  };
  if (net::is_paxos_type(type)) {
    Result<paxos::Message> m = net::decode_message(type, frame.payload);
    if (!m) return refuse("message of type " + std::to_string(type) + " does not decode: " + m.error().message);
    if (m->to != options.self) return refuse("message for " + m->to + " arrived at " + options.self + "; check the peer addresses");
    return enqueue_peer(std::move(*m));
  }
  if (net::is_rsm_type(type)) {
    Result<rsm::Message> m = net::decode_rsm_message(type, frame.payload);
    if (!m) return refuse("message of type " + std::to_string(type) + " does not decode: " + m.error().message);
    if (m->to != options.self) return refuse("message for " + m->to + " arrived at " + options.self + "; check the peer addresses");
    return enqueue_peer(std::move(*m));
  }
  if (net::is_client_request_type(type)) {
    Result<net::ClientMessage> m = net::decode_client_message(type, frame.payload);
    if (!m) return refuse("client request does not decode: " + m.error().message);
    enqueue_client(conn, std::move(*m));
    return Status::Ok();
  }
  if (net::is_client_type(type)) return refuse("a node takes no replies (type " + std::to_string(type) + ")");
  return refuse("unknown message type " + std::to_string(type) + "; is the sender running a newer synod?");
}

Status NodeRuntime::Impl::enqueue_peer(Inbound message) {
  std::lock_guard lock(mu);
  if (status.fatal) return Status::Ok();  // a stopped node takes no part
  if (inbound.size() >= kInboundQueueMax) {
    ++stats.messages_dropped;  // as a lossy network would; the protocol retries
    return Status::Ok();
  }
  ++stats.peer_messages_in;
  inbound.emplace_back(std::move(message));
  wake.notify_one();
  return Status::Ok();
}

void NodeRuntime::Impl::enqueue_client(ConnectionId conn, net::ClientMessage request) {
  net::ClientStatus refusal = net::ClientStatus::kOk;
  std::string why;
  ViewId view = 0;
  NodeId primary;
  std::string address;
  {
    std::lock_guard lock(mu);
    if (status.fatal) {
      refusal = net::ClientStatus::kError;
      why = "node " + options.self + " has stopped: " + *status.fatal;
    } else if (inbound.size() >= kInboundQueueMax) {
      refusal = net::ClientStatus::kBusy;
      why = "busy: node " + options.self + " has too much queued; retry";
    } else {
      ++stats.client_requests;
      inbound.emplace_back(ClientIn{conn, std::move(request)});
      wake.notify_one();
      return;
    }
    view = status.view.vid;
    primary = status.view.primary;
    address = primary_address;
    ++stats.client_replies;
  }
  net::ClientMessage answer;
  if (const auto* admin = std::get_if<net::AdminRequest>(&request)) {
    net::AdminReply r;
    r.request_id = admin->request_id;
    r.status = refusal;
    r.message = clip(why);
    r.view = view;
    r.primary = primary;
    r.primary_address = address;
    answer = std::move(r);
  } else {
    net::ClientReply r;
    if (const auto* op = std::get_if<net::ClientOpRequest>(&request)) {
      r.client_id = op->client_id;
      r.request_no = op->request_no;
    } else if (const auto* read = std::get_if<net::ClientReadRequest>(&request)) {
      r.client_id = read->client_id;
      r.request_no = read->read_no;
      r.read = true;
    }
    r.status = refusal;
    r.message = clip(why);
    r.view = view;
    r.primary = primary;
    r.primary_address = address;
    answer = std::move(r);
  }
  net::Transport* t = transport_for_refusals.load();
  if (t == nullptr) return;  // still starting: the client retries
  net::EncodedClientMessage e = net::encode_client_message(answer);
  t->reply(conn, static_cast<std::uint16_t>(e.type), std::move(e.payload));
}

// ---- Protocol thread: the Ready loop --------------------------------------------

void NodeRuntime::Impl::drive() {
  // Ends: each round takes what the core staged; the core stages more only
  // on on_durable and its own follow-ups, which settle.
  while (!failed && node->has_ready()) {
    rsm::NodeReady r = node->take_ready();
    if (!r.views_entered.empty()) on_views_entered(r.views_entered);
    send_peer_messages(r);
    for (const rsm::ClientNotice& n : r.notices) answer_notice(n);
    if (r.write_id != 0) {
      // ONE synced write for everything this Ready persists, then the core
      // may release what waited for it. Never on_durable after a failure.
      Status s = storage::persist(*store, storage::node_batch_of(r));
      if (!s) return fatal("cannot persist to " + options.data_dir + ": " + s.error().message);
      bump(&NodeRuntimeStats::batches_persisted);
      node->on_durable(r.write_id);
    }
    if (r.install) restore(*r.install);
    if (failed) return;
    for (const rsm::SnapshotRead& read : r.snapshot_reads) read_snapshot(read);
    for (const rsm::LogEntry& e : r.committed) apply(e);
    for (const rsm::ReadGrant& g : r.reads) serve(g);
    if (r.snapshot_due) take_snapshot(*r.snapshot_due);
    flush();
  }
  if (!failed) flush();
}

void NodeRuntime::Impl::on_views_entered(const std::vector<View>& views) {
  for (const View& v : views) {
    bump(&NodeRuntimeStats::views_entered);
    const std::string role = v.primary == options.self ? "primary" : v.contains(options.self) ? "backup" : "not a member";
    log::info(source, "entered view " + to_string(v) + " as " + role);
    if (last_view.vid != 0) {
      std::string change = members_changed(last_view, v);
      if (!change.empty()) log::info(source, "membership changed in view " + std::to_string(v.vid) + ":" + change);
    }
    for (const NodeId& m : v.members()) {
      if (m != options.self && book.count(m) == 0) {
        log::warn(source, "no address for " + m + ", a member of view " + std::to_string(v.vid) +
                              "; this node cannot reach it (list it in the peers)");
      }
    }
    last_view = v;
  }
}

void NodeRuntime::Impl::send_peer_messages(rsm::NodeReady& r) {
  std::vector<Inbound> to_self;
  for (rsm::Message& m : r.messages) {
    if (m.to == options.self) {
      to_self.emplace_back(std::move(m));
      continue;
    }
    net::EncodedMessage e = net::encode_message(m);
    transport->send(m.to, static_cast<std::uint16_t>(e.type), std::move(e.payload));
  }
  for (paxos::Message& m : r.paxos_messages) {
    if (m.to == options.self) {
      to_self.emplace_back(std::move(m));
      continue;
    }
    net::EncodedMessage e = net::encode_message(m);
    transport->send(m.to, static_cast<std::uint16_t>(e.type), std::move(e.payload));
  }
  if (to_self.empty()) return;
  // Stepped on the next turn of the loop, like a message from the network.
  std::lock_guard lock(mu);
  for (Inbound& m : to_self) inbound.push_back(std::move(m));
}

void NodeRuntime::Impl::answer_notice(const rsm::ClientNotice& notice) {
  std::visit(
      [&](const auto& n) {
        using T = std::decay_t<decltype(n)>;
        // A notice does not say whether it answers a write or a read; a
        // client has one outstanding, so whichever waits with that number.
        for (bool read : {false, true}) {
          net::ClientReply r = reply_to(n.client_id, n.request_no, read);
          if constexpr (std::is_same_v<T, rsm::ClientRedirect>) {
            r.status = net::ClientStatus::kNotPrimary;
            r.view = n.vid;
            r.primary = n.primary;
            r.primary_address = address_of(n.primary);
            r.message = clip("not the primary of view " + std::to_string(n.vid) + "; send it to " + n.primary);
          } else {
            r.status = net::ClientStatus::kBusy;
            r.message = "busy: too many requests queued; retry";
          }
          answer_waiting(read ? waiting_reads : waiting_ops, r);
        }
      },
      notice);
}

void NodeRuntime::Impl::restore(const rsm::SnapshotImage& image) {
  std::istringstream in(image.bytes);
  if (Status s = applier->restore_snapshot(in); !s) {
    // The snapshot passed its checksums: a state machine that cannot read
    // it cannot go on with the replicated state.
    return fatal("cannot restore the snapshot through " + to_string(image.through) + ": " + s.error().message);
  }
  bump(&NodeRuntimeStats::snapshots_installed);
  learn_addresses();
  log::info(source, "installed a snapshot through " + to_string(image.through) + " (" +
                        std::to_string(image.bytes.size()) + " bytes)");
}

void NodeRuntime::Impl::apply(const rsm::LogEntry& entry) {
  rsm::Applied a = applier->apply(entry);
  bump(&NodeRuntimeStats::entries_applied);
  if (a.addresses_changed) learn_addresses();
  if (a.noop) return;
  net::ClientReply r = reply_to(a.client_id, a.request_no, false);
  r.as_of = entry.vs;
  if (a.expired) {
    r.status = net::ClientStatus::kSessionExpired;
    r.message = "the session of client " + std::to_string(a.client_id) +
                " expired: the outcome of its earlier requests is unknown; start a new session";
  } else if (a.stale) {
    r.status = net::ClientStatus::kError;
    r.message = "request " + std::to_string(a.request_no) + " is older than the client's last one; its reply is gone";
  } else {
    r.payload = std::move(a.reply);
  }
  answer_waiting(waiting_ops, r);
}

void NodeRuntime::Impl::serve(const rsm::ReadGrant& grant) {
  bump(&NodeRuntimeStats::reads_served);
  net::ClientReply r = reply_to(grant.request.client_id, grant.request.read_no, true);
  r.as_of = grant.as_of;
  r.payload = machine->query(grant.request.op);
  answer_waiting(waiting_reads, r);
}

void NodeRuntime::Impl::take_snapshot(Viewstamp due) {
  // The core asks for a snapshot through the entries handed out when it
  // decided to; when several steps ran before this Ready, more were handed
  // out (and applied) since. The state is a snapshot through what it has
  // applied, all of it committed, and the core takes any point up to what it
  // handed out, so that is the snapshot: never one labelled other than its
  // content.
  const Viewstamp through = applier->applied_through();
  if (through < due) {
    log::error(source, "asked to snapshot through " + to_string(due) + " having applied only " + to_string(through) +
                           "; skipped");
    return;
  }
  std::ostringstream out;
  applier->write_snapshot(out);
  rsm::SnapshotImage image{through, out.str()};
  log::info(source, "took a snapshot through " + to_string(through) + " (" + std::to_string(image.bytes.size()) +
                        " bytes)");
  bump(&NodeRuntimeStats::snapshots_taken);
  node->on_snapshot_taken(std::move(image));
}

void NodeRuntime::Impl::read_snapshot(const rsm::SnapshotRead& read) {
  // Streamed from the data dir, one chunk at a time: no copy of the
  // snapshot stays in memory.
  Result<std::optional<Bytes>> data = storage::SnapshotStore(*store).read_range(read.through, read.offset, read.length);
  if (!data) {
    // The follower is served by another member, or from a newer snapshot.
    log::error(source, "cannot read the stored snapshot for " + read.to + ": " + data.error().message);
    return node->on_snapshot_read(read, std::nullopt);
  }
  node->on_snapshot_read(read, std::move(*data));
}

void NodeRuntime::Impl::learn_addresses() {
  // The replicated address book (kSetAddress entries, and snapshots): how
  // this node reaches members it was not started with.
  for (const auto& [id, text] : applier->addresses()) {
    if (id == options.self) continue;
    Result<net::Endpoint> at = net::parse_endpoint(text);
    if (!at) {
      log::warn(source, "the address book holds '" + text + "' for " + id + ": " + at.error().message);
      continue;
    }
    auto known = book.find(id);
    if (known != book.end() && known->second == *at) continue;
    book[id] = *at;
    transport->set_peer(id, *at);
    log::info(source, id + " listens on " + text);
  }
}

// ---- Protocol thread: requests ---------------------------------------------------

void NodeRuntime::Impl::handle(Inbound& item) {
  if (auto* m = std::get_if<rsm::Message>(&item)) return node->step(*m);
  if (auto* m = std::get_if<paxos::Message>(&item)) return node->step(*m);
  ClientIn& c = std::get<ClientIn>(item);
  std::visit(
      [&](const auto& request) {
        using T = std::decay_t<decltype(request)>;
        if constexpr (std::is_same_v<T, net::ClientOpRequest>) on_op(c.conn, request);
        else if constexpr (std::is_same_v<T, net::ClientReadRequest>) on_read(c.conn, request);
        else if constexpr (std::is_same_v<T, net::AdminRequest>) on_admin(c.conn, request);
        // Replies never get here: on_frame refuses them.
      },
      c.request);
}

void NodeRuntime::Impl::on_op(ConnectionId conn, const net::ClientOpRequest& op) {
  net::ClientReply r = reply_to(op.client_id, op.request_no, false);
  if (op.client_id == 0) {
    r.status = net::ClientStatus::kError;
    r.message = "client id 0 is reserved; pick a random non-zero id";
    return send(conn, r);
  }
  if (op.op.size() > options.op_bytes_max) {
    r.status = net::ClientStatus::kError;
    r.message = "op of " + std::to_string(op.op.size()) + " bytes exceeds the limit of " +
                std::to_string(options.op_bytes_max);
    return send(conn, r);
  }
  // The runtime's part of exactly-once: a request of an expired session is
  // refused, and one already applied is answered from the session table
  // without being ordered again.
  if (applier->session_expired(op.client_id)) {
    r.status = net::ClientStatus::kSessionExpired;
    r.message = "the session of client " + std::to_string(op.client_id) + " expired; start a new session";
    return send(conn, r);
  }
  if (std::optional<Bytes> reply = applier->reply_for(op.client_id, op.request_no)) {
    r.as_of = applier->applied_through();
    r.payload = std::move(*reply);
    return send(conn, r);
  }
  if (waiting_ops.count(op.client_id) == 0 && waiting_ops.size() >= options.pending_requests_max) {
    r.status = net::ClientStatus::kBusy;
    r.message = "busy: too many clients wait at " + options.self + "; retry";
    return send(conn, r);
  }
  // A retry replaces the earlier wait: the answer goes to the newest connection.
  waiting_ops[op.client_id] = Waiting{op.request_no, conn, now_ticks};
  node->submit(rsm::ClientRequest{op.client_id, op.request_no, op.op});
}

void NodeRuntime::Impl::on_read(ConnectionId conn, const net::ClientReadRequest& read) {
  net::ClientReply r = reply_to(read.client_id, read.read_no, true);
  if (read.client_id == 0) {
    r.status = net::ClientStatus::kError;
    r.message = "client id 0 is reserved; pick a random non-zero id";
    return send(conn, r);
  }
  if (waiting_reads.count(read.client_id) == 0 && waiting_reads.size() >= options.pending_requests_max) {
    r.status = net::ClientStatus::kBusy;
    r.message = "busy: too many clients wait at " + options.self + "; retry";
    return send(conn, r);
  }
  waiting_reads[read.client_id] = Waiting{read.read_no, conn, now_ticks};
  node->submit_read(rsm::ReadRequest{read.client_id, read.read_no, read.op, read.allow_stale});
}

void NodeRuntime::Impl::on_admin(ConnectionId conn, const net::AdminRequest& request) {
  net::AdminReply r;
  r.request_id = request.request_id;
  r.view = node->view().vid;
  r.primary = node->view().primary;
  r.primary_address = address_of(r.primary);
  // Runs a membership change at the primary and says how it went.
  auto change = [&](const std::function<Status()>& act, const std::string& done) {
    if (!node->is_primary()) {
      r.status = net::ClientStatus::kNotPrimary;
      r.message = "not the primary of view " + std::to_string(r.view) + ": send it to " + r.primary;
      return;
    }
    Status s = act();
    if (s) {
      r.message = done;
      log::info(source, "admin: " + done);
      return;
    }
    const std::string& why = s.error().message;
    r.status = why.rfind("busy", 0) == 0 ? net::ClientStatus::kBusy
               : why.rfind("not the primary", 0) == 0 ? net::ClientStatus::kNotPrimary
                                                      : net::ClientStatus::kError;
    r.message = clip(why);
  };
  switch (request.kind) {
    case net::AdminKind::kStatus:
      r.members = members();
      r.node = net::NodeStatusInfo{options.self, role_of(*node), node->view().vid, node->replica().last(),
                                   node->replica().commit()};
      break;
    case net::AdminKind::kListMembers:
      r.members = members();
      break;
    case net::AdminKind::kAddMember:
      change(
          [&]() -> Status {
            if (Status s = validate_node_id(request.node); !s) return s;
            if (!request.address.empty()) {
              Result<net::Endpoint> at = net::parse_endpoint(request.address);
              if (!at) return Error{"address of " + request.node + ": " + at.error().message};
              // The primary streams the log to the learner at once; every
              // other member learns the address from the log (kSetAddress).
              book[request.node] = *at;
              transport->set_peer(request.node, *at);
            } else if (book.count(request.node) == 0) {
              return Error{"no address known for " + request.node + "; give one with the request"};
            }
            return node->request_add(request.node, net::to_string(book.at(request.node)));
          },
          "adding " + request.node + ": it follows the log as a learner and joins once it has caught up");
      break;
    case net::AdminKind::kCancelAdd:
      change([&] { return node->cancel_add(request.node); }, "cancelled the add of " + request.node);
      break;
    case net::AdminKind::kRemoveMember:
      change([&] { return node->request_remove(request.node); }, "removing " + request.node);
      break;
    case net::AdminKind::kSnapshotNow:
      if (Status s = node->snapshot_now(); !s) {
        r.status = net::ClientStatus::kBusy;
        r.message = s.error().message;
      } else {
        r.message = options.self + " takes a snapshot of everything it has applied and compacts its log";
      }
      break;
    case net::AdminKind::kTransferPrimary:
      change([&] { return node->request_transfer(request.node); },
             "handing the primary role to " + request.node + " once it holds the whole log");
      break;
  }
  send(conn, r);
}

void NodeRuntime::Impl::purge_waiting() {
  const std::uint64_t forget_ticks = kWaitingForgetMs / options.tick_ms;
  for (auto* waiting : {&waiting_ops, &waiting_reads}) {
    std::erase_if(*waiting, [&](const auto& entry) { return now_ticks - entry.second.since_tick > forget_ticks; });
  }
}

// ---- Protocol thread: helpers -------------------------------------------------------

std::string NodeRuntime::Impl::address_of(const NodeId& id) const {
  auto it = book.find(id);
  return it == book.end() ? std::string() : net::to_string(it->second);
}

net::ClientReply NodeRuntime::Impl::reply_to(std::uint64_t client_id, std::uint64_t number, bool read) const {
  net::ClientReply r;
  r.client_id = client_id;
  r.request_no = number;
  r.read = read;
  r.view = node->view().vid;
  r.primary = node->view().primary;
  r.primary_address = address_of(r.primary);
  return r;
}

std::vector<net::MemberInfo> NodeRuntime::Impl::members() const {
  std::vector<net::MemberInfo> out;
  const View& v = node->view();
  for (const NodeId& m : v.members()) {
    out.push_back(net::MemberInfo{m, address_of(m), m == v.primary ? net::NodeRole::kPrimary : net::NodeRole::kBackup});
  }
  const std::optional<rsm::MembershipChange>& change = node->pending_change();
  if (change && change->kind == rsm::MembershipChange::Kind::kAdd && !v.contains(change->node)) {
    out.push_back(net::MemberInfo{change->node, address_of(change->node), net::NodeRole::kLearner});
  }
  return out;
}

void NodeRuntime::Impl::flush() {
  publish();
  if (outgoing.empty()) return;
  bump(&NodeRuntimeStats::client_replies, outgoing.size());
  for (auto& [conn, message] : outgoing) {
    net::EncodedClientMessage e = net::encode_client_message(message);
    transport->reply(conn, static_cast<std::uint16_t>(e.type), std::move(e.payload));
  }
  outgoing.clear();
}

void NodeRuntime::Impl::send(ConnectionId conn, const net::ClientMessage& message) {
  if (const auto* reply = std::get_if<net::ClientReply>(&message);
      reply != nullptr && reply->payload.size() > net::kClientPayloadBytesMax) {
    // The client would refuse it (and the frame might not fit): say so instead.
    net::ClientReply refused = *reply;
    refused.payload.clear();
    refused.status = net::ClientStatus::kError;
    refused.message = "the reply of " + std::to_string(reply->payload.size()) + " bytes exceeds the limit of " +
                      std::to_string(net::kClientPayloadBytesMax);
    return send(conn, refused);
  }
  outgoing.emplace_back(conn, message);
}

void NodeRuntime::Impl::answer_waiting(std::map<std::uint64_t, Waiting>& waiting, const net::ClientReply& reply) {
  auto it = waiting.find(reply.client_id);
  if (it == waiting.end() || it->second.number != reply.request_no) return;
  const ConnectionId conn = it->second.conn;
  waiting.erase(it);
  send(conn, reply);
}

void NodeRuntime::Impl::fatal(const std::string& why) {
  failed = true;
  log::error(source, "fatal: " + why + "; this node stops (restart it to recover from its data dir)");
  {
    std::lock_guard lock(mu);
    status.fatal = why;
  }
  if (options.on_fatal) options.on_fatal(why);
}

void NodeRuntime::Impl::publish() {
  if (node->frozen() != was_frozen) {
    was_frozen = node->frozen();
    log::info(source, was_frozen ? "frozen in view " + std::to_string(node->view().vid) + ": a view change is under way"
                                 : "no longer frozen");
  }
  if (node->rebuilding() != was_rebuilding) {
    was_rebuilding = node->rebuilding();
    log::info(source, was_rebuilding ? "rebuilding lost state: asking the primary to re-add this node"
                                     : "rebuilt: re-admitted, votes again");
  }
  std::lock_guard lock(mu);
  status.view = node->view();
  status.role = role_of(*node);
  status.last = node->replica().last();
  status.commit = node->replica().commit();
  status.applied = applier->applied_through();
  primary_address = address_of(status.view.primary);
}

void NodeRuntime::Impl::run() {
  using Clock = std::chrono::steady_clock;
  const auto tick = std::chrono::milliseconds(options.tick_ms);
  const std::uint64_t purge_every_ticks = std::max<std::uint64_t>(1, kWaitingPurgeEveryMs / options.tick_ms);
  auto next_tick = Clock::now() + tick;
  drive();  // a restarted primary starts its view change at once
  while (!failed) {
    std::deque<Inbound> work;
    {
      std::unique_lock lock(mu);
      wake.wait_until(lock, next_tick, [&] { return stopping || !inbound.empty(); });
      if (stopping) return;
      work.swap(inbound);
    }
    // Everything that arrived together is stepped before one drive(), so
    // the requests among it become one batch: one synced write.
    for (Inbound& item : work) handle(item);
    drive();
    const auto now = Clock::now();
    for (int i = 0; i < kTickCatchUpMax && now >= next_tick && !failed; ++i) {
      ++now_ticks;
      node->tick();
      drive();
      next_tick += tick;
    }
    if (now >= next_tick) next_tick = now + tick;
    if (now_ticks >= next_purge_tick) {
      purge_waiting();
      next_purge_tick = now_ticks + purge_every_ticks;
    }
  }
}

// ---- Start and stop -------------------------------------------------------------

Result<std::unique_ptr<NodeRuntime>> NodeRuntime::start(NodeRuntimeOptions options,
                                                        std::unique_ptr<StateMachine> machine) {
  if (!machine) return Error{"a node needs a state machine"};
  if (Status s = validate_node_id(options.self); !s) return Error{"node id: " + s.error().message};
  if (Status s = options.initial_view.validate(); !s) return Error{"initial view: " + s.error().message};
  if (options.initial_view.vid != 1) return Error{"the initial view must be view 1"};
  if (options.tick_ms == 0) return Error{"tick_ms must be at least 1"};
  if (options.heartbeat_ticks == 0 || options.resend_ticks == 0 || options.primary_timeout_ticks == 0 ||
      options.view_change_timeout_ticks == 0 || options.paxos_round_timeout_ticks == 0) {
    return Error{"timeouts must be at least one tick"};
  }
  if (options.append_entries_max == 0 || options.append_entries_max > net::kAppendEntriesMax) {
    return Error{"append_entries_max must be between 1 and " + std::to_string(net::kAppendEntriesMax)};
  }
  if (options.op_bytes_max == 0 || options.op_bytes_max > net::kClientOpBytesMax) {
    return Error{"op_bytes_max must be between 1 and " + std::to_string(net::kClientOpBytesMax)};
  }
  if (options.pending_requests_max == 0) return Error{"pending_requests_max must be at least 1"};
  for (const NodeId& m : options.initial_view.members()) {
    if (m != options.self && options.peers.count(m) == 0) {
      return Error{"no address for " + m + ", a member of the initial view; list it in the peers"};
    }
  }

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->source = options.self + " rsm";
  impl->machine = std::move(machine);
  const std::string& source = impl->source;

  Result<std::unique_ptr<storage::Store>> store =
      storage::Store::open(storage::StoreOptions{options.data_dir, options.self, options.cluster});
  if (!store) return store.error();
  impl->store = std::move(*store);

  std::vector<std::string> warnings;
  Result<rsm::Recovered> recovered = storage::load_node(*impl->store, &warnings);
  for (const std::string& w : warnings) log::warn(source, w);
  if (!recovered) {
    // Voting or serving with state that fails its checks could break what
    // this node promised or acknowledged. Start over empty instead; the
    // cluster re-adds the node (rsm/node.h, Rebuild) and it votes again
    // only once it is a member through a view decided after the loss.
    log::error(source, "the stored state in " + options.data_dir + " cannot be trusted: " +
                           recovered.error().message + "; wiping it: this node restarts empty and is rebuilt by the cluster");
    std::uint64_t rebuild_id = 0;
    while (rebuild_id == 0 || rebuild_id == ~std::uint64_t{0}) rebuild_id = draw_random();
    if (Status s = wipe_state(*impl->store, rebuild_id); !s) {
      return Error{"cannot wipe the corrupt state in " + options.data_dir + ": " + s.error().message};
    }
    recovered = storage::load_node(*impl->store, &warnings);
    if (!recovered) return Error{"the state in " + options.data_dir + " is still unreadable after wiping it: " + recovered.error().message};
  }
  if (Status s = storage::mark_started(*impl->store); !s) {
    return Error{"cannot write to " + options.data_dir + ": " + s.error().message};
  }

  impl->applier = std::make_unique<rsm::Applier>(*impl->machine);
  if (recovered->snapshots.current) {
    std::istringstream in(recovered->snapshots.current->bytes);
    if (Status s = impl->applier->restore_snapshot(in); !s) {
      return Error{"the snapshot in " + options.data_dir + " through " +
                   to_string(recovered->snapshots.current->through) + " does not restore: " + s.error().message};
    }
  }

  rsm::NodeConfig config;
  config.replica.self = options.self;
  config.replica.heartbeat_ticks = options.heartbeat_ticks;
  config.replica.resend_ticks = options.resend_ticks;
  config.replica.append_entries_max = options.append_entries_max;
  config.replica.pending_requests_max = options.pending_requests_max;
  config.replica.inflight_entries_max = options.pending_requests_max;
  config.replica.session_idle_ticks = options.session_idle_ticks;
  config.replica.snapshot_after_entries = options.snapshot_after_entries;
  config.initial_view = options.initial_view;
  config.seed = options.seed != 0 ? options.seed : draw_random();
  config.primary_timeout_ticks = options.primary_timeout_ticks;
  config.primary_timeout_jitter_ticks = options.primary_timeout_jitter_ticks;
  config.view_change_timeout_ticks = options.view_change_timeout_ticks;
  config.paxos.round_timeout_ticks = options.paxos_round_timeout_ticks;
  config.paxos.backoff_ticks_max = options.paxos_backoff_ticks_max;
  config.paxos.learn_interval_ticks = options.paxos_learn_interval_ticks;
  const bool restarted = recovered->restarted;
  const std::size_t log_entries = recovered->log.size();
  impl->node = std::make_unique<rsm::Node>(config, std::move(*recovered));
  impl->last_view = impl->node->view();
  impl->was_rebuilding = impl->node->rebuilding();

  net::TransportOptions topts;
  topts.self = options.self;
  topts.cluster = options.cluster;
  topts.listen = options.listen;
  topts.client_types = &net::is_client_request_type;
  // A peer that was down (or not started yet) must be redialed well within
  // a backup's patience with a silent primary, or its return looks like a
  // primary failure: at most a third of the primary timeout.
  const std::uint64_t patience_ms = std::uint64_t{options.primary_timeout_ticks} * options.tick_ms;
  topts.reconnect_backoff_max_ms =
      static_cast<std::uint32_t>(std::clamp<std::uint64_t>(patience_ms / 3, topts.reconnect_backoff_min_ms, 1000));
  Impl* raw = impl.get();
  Result<std::unique_ptr<net::Transport>> transport = net::Transport::start(
      topts, [raw](net::Frame f, ConnectionId conn) { return raw->on_frame(std::move(f), conn); });
  if (!transport) return transport.error();
  impl->transport = std::move(*transport);
  impl->transport_for_refusals = impl->transport.get();

  impl->book = options.peers;
  if (impl->book.count(options.self) == 0) {
    impl->book[options.self] = net::Endpoint{options.listen.host, impl->transport->listen_port()};
  }
  for (const auto& [id, at] : impl->book) {
    if (id != options.self) impl->transport->set_peer(id, at);
  }
  impl->learn_addresses();  // those the recovered snapshot holds
  impl->status.self = options.self;
  impl->publish();
  log::info(source, std::string(restarted ? "restarted" : "started for the first time") + " in view " +
                        to_string(impl->node->view()) + " with " + std::to_string(log_entries) +
                        " log entries, last " + to_string(impl->node->replica().last()) + ", listening on " +
                        options.listen.host + ":" + std::to_string(impl->transport->listen_port()));
  impl->protocol_thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<NodeRuntime>(new NodeRuntime(std::move(impl)));
}

NodeRuntime::NodeRuntime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

NodeRuntime::~NodeRuntime() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->protocol_thread.joinable()) impl_->protocol_thread.join();
  // The transport goes before the node it feeds; its handler uses impl_.
  impl_->transport_for_refusals = nullptr;
  impl_->transport.reset();
}

std::uint16_t NodeRuntime::listen_port() const { return impl_->transport->listen_port(); }

NodeRuntimeStatus NodeRuntime::status() const {
  std::lock_guard lock(impl_->mu);
  return impl_->status;
}

NodeRuntimeStats NodeRuntime::stats() const {
  NodeRuntimeStats out;
  {
    std::lock_guard lock(impl_->mu);
    out = impl_->stats;
  }
  const net::TransportStats t = impl_->transport->stats();
  out.frames_rejected = t.frames_rejected;
  out.replies_dropped = t.replies_dropped;
  return out;
}

}  // namespace synod::server
