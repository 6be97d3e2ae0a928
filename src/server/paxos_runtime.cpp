#include "server/paxos_runtime.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>
#include <variant>

#include "net/codec.h"
#include "net/transport.h"
#include "storage/paxos_store.h"
#include "storage/store.h"

namespace synod::server {

namespace {
struct ProposeRequest {
  Instance instance;
  View value;
  std::promise<Status> done;
};
using Inbound = std::variant<paxos::Message, ProposeRequest>;

// Bounds the queue between the network thread and the protocol thread: past
// it, messages are dropped like a lossy network would, and Paxos retries.
constexpr std::size_t kInboundQueueMax = 10000;
}  // namespace

struct PaxosRuntime::Impl {
  PaxosRuntimeOptions options;
  OnDecision on_decision;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<storage::PaxosStore> paxos_store;
  std::unique_ptr<paxos::Node> node;
  std::vector<paxos::Decision> recovered;
  std::unique_ptr<net::Transport> transport;

  mutable std::mutex mu;
  std::condition_variable wake;
  std::deque<Inbound> inbound;
  bool stopping = false;
  View latest_view;            // copy for other threads, under mu
  PaxosRuntimeStats stats;     // under mu
  std::thread protocol_thread;

  Status on_frame(net::Frame frame);
  void run();
  void drive();
};

Status PaxosRuntime::Impl::on_frame(net::Frame frame) {
  Result<paxos::Message> m = net::decode_message(frame.type, frame.payload);
  std::lock_guard lock(mu);
  if (!m) {
    ++stats.messages_undecodable;
    return Error{"message of type " + std::to_string(frame.type) + " does not decode: " + m.error().message};
  }
  if (m->to != options.self) {
    ++stats.messages_undecodable;
    return Error{"message for " + m->to + " arrived at " + options.self + "; check the peer addresses"};
  }
  if (inbound.size() >= kInboundQueueMax) return Status::Ok();  // dropped, as a lossy network would
  ++stats.messages_in;
  inbound.emplace_back(std::move(*m));
  wake.notify_one();
  return Status::Ok();
}

void PaxosRuntime::Impl::drive() {
  while (node->has_ready()) {
    paxos::Ready r = node->take_ready();
    for (const paxos::Message& m : r.messages) {
      net::EncodedMessage e = net::encode_message(m);
      transport->send(m.to, static_cast<std::uint16_t>(e.type), std::move(e.payload));
    }
    if (r.write_id != 0) {
      Status s = paxos_store->persist(r.writes);
      if (!s) {
        // A write the protocol depends on failed: going on could break a
        // promise. Stop the node loudly; the operator sees why.
        std::cerr << "synod[" << options.self << "]: fatal: cannot persist Paxos state: " << s.error().message
                  << "\n";
        std::abort();
      }
      {
        std::lock_guard lock(mu);
        ++stats.batches_persisted;
        stats.writes_persisted += r.writes.size();
      }
      node->on_durable(r.write_id);
    }
    for (const paxos::Decision& d : r.learned) {
      {
        std::lock_guard lock(mu);
        latest_view = node->latest_view();
      }
      if (on_decision) on_decision(d);
    }
  }
}

void PaxosRuntime::Impl::run() {
  using Clock = std::chrono::steady_clock;
  const auto tick = std::chrono::milliseconds(options.tick_ms);
  auto next_tick = Clock::now() + tick;
  while (true) {
    std::deque<Inbound> work;
    {
      std::unique_lock lock(mu);
      wake.wait_until(lock, next_tick, [&] { return stopping || !inbound.empty(); });
      if (stopping) return;
      work.swap(inbound);
    }
    for (Inbound& item : work) {
      if (auto* m = std::get_if<paxos::Message>(&item)) {
        node->step(*m);
      } else {
        auto& req = std::get<ProposeRequest>(item);
        req.done.set_value(node->propose(req.instance, std::move(req.value)));
      }
      drive();
    }
    // Catch up on ticks missed while busy, but never burst more than a few.
    auto now = Clock::now();
    for (int i = 0; i < 5 && now >= next_tick; ++i) {
      node->tick();
      drive();
      next_tick += tick;
    }
    if (now >= next_tick) next_tick = now + tick;
  }
}

Result<std::unique_ptr<PaxosRuntime>> PaxosRuntime::start(PaxosRuntimeOptions options, OnDecision on_decision) {
  if (Status s = options.initial_view.validate(); !s) return Error{"initial view: " + s.error().message};
  if (options.initial_view.vid != 1) return Error{"the initial view must be view 1"};
  if (options.tick_ms == 0) return Error{"tick_ms must be at least 1"};

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->on_decision = std::move(on_decision);

  Result<std::unique_ptr<storage::Store>> store =
      storage::Store::open(storage::StoreOptions{options.data_dir, options.self, options.cluster});
  if (!store) return store.error();
  impl->store = std::move(*store);
  impl->paxos_store = std::make_unique<storage::PaxosStore>(*impl->store);
  Result<paxos::DurableState> durable = impl->paxos_store->load();
  if (!durable) return Error{"cannot recover Paxos state from " + options.data_dir + ": " + durable.error().message};

  paxos::Config config;
  config.self = options.self;
  config.initial_view = options.initial_view;
  config.seed = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  config.round_timeout_ticks = options.round_timeout_ticks;
  config.backoff_ticks_max = options.backoff_ticks_max;
  config.learn_interval_ticks = options.learn_interval_ticks;
  impl->node = std::make_unique<paxos::Node>(config, *durable);
  for (Instance i = 2; i <= impl->node->delivered_through(); ++i) {
    impl->recovered.push_back(paxos::Decision{i, *impl->node->decision(i)});
  }
  impl->latest_view = impl->node->latest_view();

  net::TransportOptions topts;
  topts.self = options.self;
  topts.cluster = options.cluster;
  topts.listen = options.listen;
  Impl* raw = impl.get();
  Result<std::unique_ptr<net::Transport>> transport =
      net::Transport::start(topts, [raw](net::Frame f) { return raw->on_frame(std::move(f)); });
  if (!transport) return transport.error();
  impl->transport = std::move(*transport);
  for (const auto& [id, at] : options.peers) {
    if (id != options.self) impl->transport->set_peer(id, at);
  }
  impl->protocol_thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<PaxosRuntime>(new PaxosRuntime(std::move(impl)));
}

PaxosRuntime::PaxosRuntime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PaxosRuntime::~PaxosRuntime() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->protocol_thread.joinable()) impl_->protocol_thread.join();
  // The transport goes before the core it feeds.
  impl_->transport.reset();
  for (Inbound& item : impl_->inbound) {
    if (auto* req = std::get_if<ProposeRequest>(&item)) req->done.set_value(Error{"node is stopping"});
  }
}

std::future<Status> PaxosRuntime::propose(Instance instance, View value) {
  std::promise<Status> done;
  std::future<Status> result = done.get_future();
  std::lock_guard lock(impl_->mu);
  if (impl_->stopping) {
    done.set_value(Error{"node is stopping"});
    return result;
  }
  impl_->inbound.emplace_back(ProposeRequest{instance, std::move(value), std::move(done)});
  impl_->wake.notify_one();
  return result;
}

const std::vector<paxos::Decision>& PaxosRuntime::recovered() const { return impl_->recovered; }

View PaxosRuntime::latest_view() const {
  std::lock_guard lock(impl_->mu);
  return impl_->latest_view;
}

std::uint16_t PaxosRuntime::listen_port() const { return impl_->transport->listen_port(); }

PaxosRuntimeStats PaxosRuntime::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

}  // namespace synod::server
