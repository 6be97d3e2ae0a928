#pragma once
// A test harness that plays the runtime for several Paxos Nodes at once: it
// keeps each node's network output in one in-flight pool, each node's
// unsynced writes apart from its disk, and what each node delivered. The test
// decides the order of events (deliver, sync, tick, crash); nothing here
// sleeps or reads a clock.
//
// Invariants checked (check_invariants() reports the first one broken):
// - Agreement: no two nodes know, persist or deliver different values for one
//   instance, and no two values are ever chosen (accepted by a majority of the
//   instance's acceptors under one number) for one instance.
// - Delivery: each node delivers instances consecutively, only once durable.
// - Durability at release: a Promise, Accepted or Reject leaves only when the
//   acceptor state it reveals is on the sender's disk; a Prepare leaves only
//   when its round is on disk and above every round the node used before its
//   last restart.
// - Uniqueness: no two Accepts carry one (instance, number) with two values.

#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "paxos/node.h"
#include "unit/paxos/paxos_test_util.h"

namespace synod::paxos::test {

class Cluster {
 public:
  Cluster(std::vector<NodeId> ids, const View& initial_view, const Config& base) {
    for (const NodeId& id : ids) {
      Config c = base;
      c.self = id;
      c.initial_view = initial_view;
      peers_.emplace(id, Peer{c, Node(c, DurableState{})});
    }
  }

  Node& node(const NodeId& id) { return peer(id).node; }
  const DurableState& disk(const NodeId& id) { return peer(id).disk; }
  const std::vector<Decision>& delivered(const NodeId& id) { return peer(id).delivered; }
  std::vector<NodeId> ids() const {
    std::vector<NodeId> out;
    for (const auto& [id, _] : peers_) out.push_back(id);
    return out;
  }

  // Every message any node released to the network, in release order.
  const std::vector<Message>& log() const { return log_; }
  void clear_log() { log_.clear(); }
  std::deque<Message>& in_flight() { return in_flight_; }

  // Takes every Ready the node has: messages go in flight, writes wait for
  // sync(), learned decisions are recorded as delivered.
  void collect(const NodeId& id) {
    Peer& p = peer(id);
    for (int i = 0; i < kReadyLoopsMax && p.node.has_ready(); ++i) {
      Ready r = p.node.take_ready();
      for (Message& m : r.messages) {
        check_release(p, m);
        log_.push_back(m);
        if (peers_.count(m.to) != 0) in_flight_.push_back(std::move(m));
      }
      if (r.write_id != 0) p.unsynced.emplace_back(r.write_id, std::move(r.writes));
      record_delivered(p, r.learned);
    }
    EXPECT_FALSE(p.node.has_ready()) << id << " still has a Ready after " << kReadyLoopsMax << " takes";
  }

  // Makes every write the node issued durable, in write_id order, and runs
  // the Ready loop until the node has nothing left to persist.
  void sync(const NodeId& id) {
    Peer& p = peer(id);
    collect(id);
    for (int i = 0; i < kReadyLoopsMax && !p.unsynced.empty(); ++i) {
      std::uint64_t last = 0;
      for (auto& [write_id, writes] : p.unsynced) {
        for (const Write& w : writes) p.disk.apply(w);
        last = write_id;
      }
      p.unsynced.clear();
      p.node.on_durable(last);
      collect(id);
    }
    EXPECT_TRUE(p.unsynced.empty()) << id << " kept issuing writes after " << kReadyLoopsMax << " syncs";
  }

  // Makes only the oldest unsynced batch durable: a crash right after it
  // loses the later ones.
  void sync_oldest(const NodeId& id) {
    Peer& p = peer(id);
    collect(id);
    if (p.unsynced.empty()) return;
    auto [write_id, writes] = std::move(p.unsynced.front());
    p.unsynced.erase(p.unsynced.begin());
    for (const Write& w : writes) p.disk.apply(w);
    p.node.on_durable(write_id);
    collect(id);
  }

  void deliver(const Message& m) {
    node(m.to).step(m);
    collect(m.to);
  }

  void tick(const NodeId& id) {
    node(id).tick();
    collect(id);
  }

  Status propose(const NodeId& id, Instance instance, const View& value) {
    Status s = node(id).propose(instance, value);
    collect(id);
    return s;
  }

  // The node loses its unsynced writes and its memory, and restarts from its
  // disk. Messages it already released stay in flight.
  void crash_and_restart(const NodeId& id) {
    Peer& p = peer(id);
    p.unsynced.clear();
    p.node = Node(p.config, p.disk);
    p.delivered_through = p.node.delivered_through();
    p.round_before_restart = p.round_sent_max;
  }

  // Delivers messages first-in first-out, syncing the receiver after each,
  // until `done` holds. False when the network went quiet first or after
  // `steps_max` deliveries.
  bool run_fifo_until(const std::function<bool()>& done, int steps_max) {
    for (const NodeId& id : ids()) sync(id);
    for (int step = 0; step < steps_max; ++step) {
      if (done()) return true;
      if (in_flight_.empty()) return false;
      Message m = std::move(in_flight_.front());
      in_flight_.pop_front();
      deliver(m);
      sync(m.to);
    }
    return done();
  }

  bool all_delivered_through(Instance instance) {
    for (const auto& [id, p] : peers_) {
      if (p.node.delivered_through() < instance) return false;
    }
    return true;
  }

  // Empty when every invariant in the header comment holds; otherwise the
  // first violation found.
  std::string check_invariants() {
    if (!violation_.empty()) return violation_;
    std::map<Instance, std::pair<std::string, View>> known;
    auto agree = [&](const std::string& who, Instance i, const View& v) -> std::string {
      auto [it, inserted] = known.try_emplace(i, who, v);
      if (inserted || it->second.second == v) return "";
      return "instance " + std::to_string(i) + ": " + it->second.first + " has " + to_string(it->second.second) +
             ", " + who + " has " + to_string(v);
    };
    for (auto& [id, p] : peers_) {
      if (p.node.conflicting_decisions() != 0) {
        return id + " counted " + std::to_string(p.node.conflicting_decisions()) + " conflicting decisions";
      }
      for (const Decision& d : p.delivered) {
        if (std::string e = agree(id + " (delivered)", d.instance, d.value); !e.empty()) return e;
      }
      for (const auto& [i, v] : p.disk.decided) {
        if (std::string e = agree(id + " (disk)", i, v); !e.empty()) return e;
      }
      for (Instance i = 2; i <= p.node.latest_view().vid; ++i) {
        std::optional<View> v = p.node.decision(i);
        if (!v) return id + " has no decision for " + std::to_string(i) + " below its latest view";
        if (std::string e = agree(id + " (memory)", i, *v); !e.empty()) return e;
      }
    }
    // Chosen values, from what acceptors answered; the acceptors of instance
    // i are the members of the agreed view i-1.
    for (const auto& [key, from] : accepted_by_) {
      const auto& [instance, n] = key;
      const View* previous = nullptr;
      if (instance == 2) previous = &peers_.begin()->second.config.initial_view;
      if (auto it = known.find(instance - 1); it != known.end()) previous = &it->second.second;
      if (previous == nullptr) continue;
      std::size_t votes = 0;
      for (const NodeId& m : previous->members()) votes += from.count(m);
      if (votes < previous->majority()) continue;
      auto value = accept_values_.find(key);
      if (value == accept_values_.end()) return "Accepted for " + to_string(n) + " that no Accept carried";
      if (std::string e = agree("chosen at " + to_string(n), instance, value->second); !e.empty()) return e;
    }
    return "";
  }

  std::string describe_state() {
    std::string out;
    for (auto& [id, p] : peers_) {
      out += "\n" + id + ": latest view " + to_string(p.node.latest_view()) + ", delivered through " +
             std::to_string(p.node.delivered_through()) + (p.node.proposing() ? ", proposing" : "") +
             ", unsynced batches " + std::to_string(p.unsynced.size());
    }
    out += "\nin flight: " + std::to_string(in_flight_.size());
    return out;
  }

 private:
  static constexpr int kReadyLoopsMax = 100;

  struct Peer {
    Peer(Config c, Node n) : config(std::move(c)), node(std::move(n)) {}
    Config config;
    Node node;
    DurableState disk;
    std::vector<std::pair<std::uint64_t, std::vector<Write>>> unsynced;
    std::vector<Decision> delivered;      // across incarnations
    Instance delivered_through = 1;       // of this incarnation, as seen in Ready::learned
    std::uint64_t round_sent_max = 0;      // highest round in a Prepare this node released
    std::uint64_t round_before_restart = 0;
  };

  Peer& peer(const NodeId& id) {
    auto it = peers_.find(id);
    if (it == peers_.end()) {
      ADD_FAILURE() << "the test names node " << id << ", which is not in the cluster";
      std::abort();
    }
    return it->second;
  }

  void fail(const std::string& what) {
    if (violation_.empty()) violation_ = what;
  }

  // What a released message reveals must already be on its sender's disk.
  void check_release(Peer& p, const Message& m) {
    const NodeId& id = p.config.self;
    auto acceptor = [&](Instance i) {
      auto it = p.disk.acceptors.find(i);
      return it == p.disk.acceptors.end() ? AcceptorState{} : it->second;
    };
    if (const auto* promise = std::get_if<Promise>(&m.body)) {
      if (acceptor(promise->instance).promised < promise->n) {
        fail(id + " released " + describe(m) + " before the promise was durable");
      }
    } else if (const auto* accepted = std::get_if<Accepted>(&m.body)) {
      AcceptorState s = acceptor(accepted->instance);
      if (s.accepted_n < accepted->n || s.promised < accepted->n) {
        fail(id + " released " + describe(m) + " before the acceptance was durable");
      }
      accepted_by_[{accepted->instance, accepted->n}].insert(id);
    } else if (const auto* reject = std::get_if<Reject>(&m.body)) {
      if (acceptor(reject->instance).promised < reject->promised) {
        fail(id + " released " + describe(m) + " naming a promise that is not durable");
      }
    } else if (const auto* prepare = std::get_if<Prepare>(&m.body)) {
      if (p.disk.round < prepare->n.round) fail(id + " released " + describe(m) + " before its round was durable");
      if (prepare->n.round <= p.round_before_restart) {
        fail(id + " reused round " + std::to_string(prepare->n.round) + " after a restart");
      }
      p.round_sent_max = std::max(p.round_sent_max, prepare->n.round);
    } else if (const auto* accept = std::get_if<Accept>(&m.body)) {
      auto [it, inserted] = accept_values_.try_emplace({accept->instance, accept->n}, accept->value);
      if (!inserted && it->second != accept->value) {
        fail(id + " sent " + describe(m) + " but that number already carried " + to_string(it->second));
      }
    }
  }

  void record_delivered(Peer& p, const std::vector<Decision>& learned) {
    const NodeId& id = p.config.self;
    for (const Decision& d : learned) {
      if (d.instance != p.delivered_through + 1) {
        fail(id + " delivered instance " + std::to_string(d.instance) + " after " +
             std::to_string(p.delivered_through));
      }
      if (p.disk.decided.count(d.instance) == 0) {
        fail(id + " delivered instance " + std::to_string(d.instance) + " before it was durable");
      }
      p.delivered_through = d.instance;
      p.delivered.push_back(d);
    }
  }

  std::map<NodeId, Peer> peers_;
  std::deque<Message> in_flight_;
  std::vector<Message> log_;
  std::string violation_;
  std::map<std::pair<Instance, ProposalNumber>, View> accept_values_;
  std::map<std::pair<Instance, ProposalNumber>, std::set<NodeId>> accepted_by_;
};

}  // namespace synod::paxos::test
