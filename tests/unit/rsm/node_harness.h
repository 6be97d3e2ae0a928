#pragma once
// A harness for rsm::Node tests (node_test.cpp, node_membership_test.cpp):
// builders for views, requests and entries, and Cluster, which plays the
// runtime for several nodes at once. Each node's Ready loop is run by hand,
// its writes are persisted (or held, to test ordering), and rsm and Paxos
// messages are passed between nodes in an order the test chooses. No threads,
// no clocks, bounded loops.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "rsm/node.h"
#include "unit/rsm/rsm_test_print.h"

namespace synod::rsm::test {

// ---- Building blocks ---------------------------------------------------------

inline View make_view(ViewId vid, NodeId primary, std::vector<NodeId> backups) {
  Result<View> v = View::make(vid, std::move(primary), std::move(backups));
  EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().message);
  return std::move(v).value();
}

inline const std::vector<NodeId> kIds{"n1", "n2", "n3"};

// The three nodes in view `vid` under `primary`.
inline View view_of(ViewId vid, const NodeId& primary) {
  std::vector<NodeId> backups;
  for (const NodeId& id : kIds) {
    if (id != primary) backups.push_back(id);
  }
  return make_view(vid, primary, backups);
}

inline Viewstamp vs(ViewId vid, std::uint64_t seq) { return Viewstamp{vid, seq}; }

inline ClientRequest request(std::uint64_t client, std::uint64_t request_no) {
  return ClientRequest{client, request_no, "op" + std::to_string(client) + "." + std::to_string(request_no)};
}

inline LogEntry entry(ViewId vid, std::uint64_t seq) {
  return LogEntry{vs(vid, seq), 7, vid * 1000 + seq, "e" + std::to_string(vid) + "." + std::to_string(seq)};
}

inline NodeConfig node_config(NodeId self, std::uint64_t seed = 1) {
  NodeConfig c;
  c.replica.self = std::move(self);
  c.initial_view = view_of(1, "n1");
  c.seed = seed;
  return c;
}

inline std::vector<Viewstamp> stamps(const std::vector<LogEntry>& es) {
  std::vector<Viewstamp> out;
  for (const LogEntry& e : es) out.push_back(e.vs);
  return out;
}

inline std::string describe(const std::vector<LogEntry>& es) {
  std::ostringstream out;
  out << "[";
  for (std::size_t i = 0; i < es.size(); ++i) out << (i ? " " : "") << to_string(es[i].vs);
  out << "]";
  return out.str();
}

inline bool holds(const std::vector<LogEntry>& log, const LogEntry& e) {
  return std::find(log.begin(), log.end(), e) != log.end();
}

// Messages of body type T sent by `from` (any sender when empty) among `ms`.
template <typename T, typename M>
std::vector<M> of_type(const std::vector<M>& ms, const NodeId& from = "") {
  std::vector<M> out;
  for (const M& m : ms) {
    if (std::holds_alternative<T>(m.body) && (from.empty() || m.from == from)) out.push_back(m);
  }
  return out;
}

// ---- A harness for several nodes ------------------------------------------------

// Plays the runtime for n1, n2, n3 (and any node added later, which starts
// outside view 1 like a machine about to join): takes each node's Ready, keeps
// what it sends in flight, persists its writes to a model disk and reports
// them durable (unless the node's writes are held), and records what it
// commits, answers, grants and enters. Delivery is explicit; nodes in `down`
// (present or not) neither receive nor send, and the drop predicates cut
// single links.
class Cluster {
 public:
  struct Peer {
    std::unique_ptr<Node> node;
    paxos::DurableState paxos_disk;
    std::vector<LogEntry> log_disk;
    bool hold_writes = false;
    std::deque<NodeReady> unsynced;   // taken, not yet durable (hold_writes only)
    std::vector<LogEntry> committed;  // handed out for applying, in order
    std::vector<ClientNotice> notices;
    std::vector<ReadGrant> reads;     // granted reads, in order
    std::vector<View> views_entered;
  };

  explicit Cluster(const std::function<void(NodeConfig&)>& tune = {}) {
    for (const NodeId& id : kIds) add_node(id, tune);
  }

  // Starts node `id` on an empty disk with view 1 as its configuration; an id
  // outside view 1 is a node that may be added as a learner.
  void add_node(const NodeId& id, const std::function<void(NodeConfig&)>& tune = {}) {
    NodeConfig c = node_config(id);
    if (tune) tune(c);
    peers_[id].node = std::make_unique<Node>(c, Recovered{});
    ids_.push_back(id);
  }
  const std::vector<NodeId>& ids() const { return ids_; }

  Node& node(const NodeId& id) { return *peer(id).node; }
  Peer& peer(const NodeId& id) {
    auto it = peers_.find(id);
    if (it == peers_.end()) {
      ADD_FAILURE() << "no node " << id;
      std::abort();
    }
    return it->second;
  }

  // Runs the node's Ready loop until it has nothing more to say.
  void settle(const NodeId& id) {
    Peer& p = peer(id);
    int i = 0;
    for (; i < 100 && p.node->has_ready(); ++i) {
      NodeReady r = p.node->take_ready();
      for (Message& m : r.messages) {
        rsm_sent.push_back(m);
        rsm_in_flight.push_back(std::move(m));
      }
      for (paxos::Message& m : r.paxos_messages) {
        paxos_sent.push_back(m);
        paxos_in_flight.push_back(std::move(m));
      }
      p.notices.insert(p.notices.end(), r.notices.begin(), r.notices.end());
      p.reads.insert(p.reads.end(), r.reads.begin(), r.reads.end());
      p.committed.insert(p.committed.end(), r.committed.begin(), r.committed.end());
      p.views_entered.insert(p.views_entered.end(), r.views_entered.begin(), r.views_entered.end());
      if (r.write_id == 0) continue;
      if (p.hold_writes) {
        p.unsynced.push_back(std::move(r));
      } else {
        persist(p, r);
        p.node->on_durable(r.write_id);
      }
    }
    EXPECT_FALSE(p.node->has_ready()) << id << ": the Ready loop did not settle in " << i << " rounds";
  }

  // Makes every held write of the node durable, in order.
  void sync(const NodeId& id) {
    Peer& p = peer(id);
    for (int i = 0; i < 100 && !p.unsynced.empty(); ++i) {
      NodeReady r = std::move(p.unsynced.front());
      p.unsynced.pop_front();
      persist(p, r);
      p.node->on_durable(r.write_id);
      settle(id);
    }
  }

  // Makes only the oldest held write of the node durable (later ones stay
  // held while hold_writes is set).
  void sync_first(const NodeId& id) {
    Peer& p = peer(id);
    if (p.unsynced.empty()) {
      ADD_FAILURE() << id << " holds no write";
      return;
    }
    NodeReady r = std::move(p.unsynced.front());
    p.unsynced.pop_front();
    persist(p, r);
    p.node->on_durable(r.write_id);
    settle(id);
  }

  void tick(const NodeId& id) {
    node(id).tick();
    settle(id);
  }

  void step(const Message& m) {
    node(m.to).step(m);
    settle(m.to);
  }
  void step(const paxos::Message& m) {
    node(m.to).step(m);
    settle(m.to);
  }

  // Delivers what is in flight now (not what that provokes); false when
  // nothing was in flight.
  bool deliver_round() {
    if (rsm_in_flight.empty() && paxos_in_flight.empty()) return false;
    std::vector<Message> rsm = std::exchange(rsm_in_flight, {});
    std::vector<paxos::Message> px = std::exchange(paxos_in_flight, {});
    for (const Message& m : rsm) {
      if (cut(m.from, m.to) || (drop_rsm && drop_rsm(m))) continue;
      step(m);
    }
    for (const paxos::Message& m : px) {
      if (cut(m.from, m.to) || (drop_paxos && drop_paxos(m))) continue;
      step(m);
    }
    return true;
  }

  // Delivers until nothing is in flight (bounded).
  void deliver_all() {
    for (int round = 0; round < 200; ++round) {
      if (!deliver_round()) return;
    }
    ADD_FAILURE() << "messages still in flight after 200 rounds";
  }

  // One tick of every node that is up, then everything delivered.
  void tick_all_and_deliver() {
    for (const NodeId& id : ids_) {
      if (down.count(id) == 0) tick(id);
    }
    deliver_all();
  }

  // Ticks and delivers until `done` holds; false if it did not within `ticks_max`.
  bool run_until(const std::function<bool()>& done, int ticks_max) {
    for (int t = 0; t < ticks_max; ++t) {
      if (done()) return true;
      tick_all_and_deliver();
    }
    return done();
  }

  std::set<NodeId> down;
  std::function<bool(const Message&)> drop_rsm;
  std::function<bool(const paxos::Message&)> drop_paxos;
  std::vector<Message> rsm_in_flight;
  std::vector<paxos::Message> paxos_in_flight;
  std::vector<Message> rsm_sent;          // every rsm message any node released
  std::vector<paxos::Message> paxos_sent;  // every Paxos message any node released

 private:
  bool cut(const NodeId& from, const NodeId& to) const { return down.count(from) != 0 || down.count(to) != 0; }

  static void persist(Peer& p, const NodeReady& r) {
    for (const paxos::Write& w : r.paxos_writes) p.paxos_disk.apply(w);
    if (r.truncate_after) {
      std::erase_if(p.log_disk, [&](const LogEntry& e) { return e.vs > *r.truncate_after; });
    }
    p.log_disk.insert(p.log_disk.end(), r.appends.begin(), r.appends.end());
  }

  std::map<NodeId, Peer> peers_;
  std::vector<NodeId> ids_;  // in the order they were started
};

// Everything one Node said until it settled, for tests that drive a single node.
struct Said {
  std::vector<std::uint64_t> write_ids;
  std::vector<LogEntry> appends;
  std::vector<paxos::Write> paxos_writes;
  std::vector<Message> messages;
  std::vector<paxos::Message> paxos_messages;
  std::vector<ClientNotice> notices;
};

// Runs the node's Ready loop; with `sync` every write is durable at once,
// otherwise writes stay in flight (the caller reports them later).
inline Said drain(Node& n, bool sync) {
  Said s;
  int i = 0;
  for (; i < 100 && n.has_ready(); ++i) {
    NodeReady r = n.take_ready();
    s.appends.insert(s.appends.end(), r.appends.begin(), r.appends.end());
    s.paxos_writes.insert(s.paxos_writes.end(), r.paxos_writes.begin(), r.paxos_writes.end());
    s.messages.insert(s.messages.end(), r.messages.begin(), r.messages.end());
    s.paxos_messages.insert(s.paxos_messages.end(), r.paxos_messages.begin(), r.paxos_messages.end());
    s.notices.insert(s.notices.end(), r.notices.begin(), r.notices.end());
    if (r.write_id != 0) {
      s.write_ids.push_back(r.write_id);
      if (sync) n.on_durable(r.write_id);
    }
  }
  EXPECT_FALSE(n.has_ready()) << n.self() << ": the Ready loop did not settle in " << i << " rounds";
  return s;
}

inline std::set<NodeId> recipients(const std::vector<paxos::Message>& ms) {
  std::set<NodeId> out;
  for (const paxos::Message& m : ms) out.insert(m.to);
  return out;
}

}  // namespace synod::rsm::test
