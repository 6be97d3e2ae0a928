#pragma once
// A test harness that plays the runtime for several Paxos Nodes at once: it
// keeps each node's network output in one in-flight pool, each node's
// unsynced writes apart from its disk, and what each node delivered. The test
// decides the order of events (deliver, sync, tick, crash); nothing here
// sleeps or reads a clock.
//
// Invariant kept (and checked by check_agreement): no two nodes ever know or
// deliver different values for one instance, and each node delivers
// instances consecutively.

#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <optional>
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
  bool has_unsynced(const NodeId& id) { return !peer(id).unsynced.empty(); }

  // Takes every Ready the node has: messages go in flight, writes wait for
  // sync(), learned decisions are recorded as delivered.
  void collect(const NodeId& id) {
    Peer& p = peer(id);
    for (int i = 0; i < kReadyLoopsMax && p.node.has_ready(); ++i) {
      Ready r = p.node.take_ready();
      for (Message& m : r.messages) {
        log_.push_back(m);
        if (peers_.count(m.to) != 0) in_flight_.push_back(std::move(m));
      }
      if (r.write_id != 0) p.unsynced.emplace_back(r.write_id, std::move(r.writes));
      record_delivered(id, r.learned);
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

  // Empty when every node agrees with every other; otherwise the first
  // disagreement found.
  std::string check_agreement() {
    std::map<Instance, std::pair<NodeId, View>> known;
    auto agree = [&](const NodeId& id, Instance i, const View& v) -> std::string {
      auto [it, inserted] = known.try_emplace(i, id, v);
      if (inserted || it->second.second == v) return "";
      return "instance " + std::to_string(i) + ": " + it->second.first + " has " +
             to_string(it->second.second) + ", " + id + " has " + to_string(v);
    };
    for (auto& [id, p] : peers_) {
      if (p.node.conflicting_decisions() != 0) {
        return id + " counted " + std::to_string(p.node.conflicting_decisions()) + " conflicting decisions";
      }
      for (const Decision& d : p.delivered) {
        if (std::string e = agree(id, d.instance, d.value); !e.empty()) return "delivered " + e;
      }
      for (const auto& [i, v] : p.disk.decided) {
        if (std::string e = agree(id, i, v); !e.empty()) return "on disk " + e;
      }
      for (Instance i = 2; i <= p.node.latest_view().vid; ++i) {
        std::optional<View> v = p.node.decision(i);
        if (!v) return id + " has no decision for " + std::to_string(i) + " below its latest view";
        if (std::string e = agree(id, i, *v); !e.empty()) return "in memory " + e;
      }
      if (!p.order_error.empty()) return p.order_error;
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
    std::string order_error;
  };

  Peer& peer(const NodeId& id) {
    auto it = peers_.find(id);
    if (it == peers_.end()) {
      ADD_FAILURE() << "the test names node " << id << ", which is not in the cluster";
      std::abort();
    }
    return it->second;
  }

  void record_delivered(const NodeId& id, const std::vector<Decision>& learned) {
    Peer& p = peer(id);
    for (const Decision& d : learned) {
      if (d.instance != p.delivered_through + 1 && p.order_error.empty()) {
        p.order_error = id + " delivered instance " + std::to_string(d.instance) + " after " +
                        std::to_string(p.delivered_through);
      }
      if (p.disk.decided.count(d.instance) == 0 && p.order_error.empty()) {
        p.order_error = id + " delivered instance " + std::to_string(d.instance) + " before it was durable";
      }
      p.delivered_through = d.instance;
      p.delivered.push_back(d);
    }
  }

  std::map<NodeId, Peer> peers_;
  std::deque<Message> in_flight_;
  std::vector<Message> log_;
};

}  // namespace synod::paxos::test
