#include "net/transport.h"

// Asio's headers expect <utility> to be in scope first in this Boost version.
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/log.h"

namespace synod::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Millis = std::chrono::milliseconds;

// One read can carry many small frames; 64 KiB keeps syscalls per frame low
// without much memory per connection.
constexpr std::size_t kReadChunkBytes = 64 * 1024;
// A write batch stops growing here (but always takes at least one frame):
// frames queued during a long write join the next batch instead of waiting
// behind an ever larger one.
constexpr std::size_t kWriteBatchBytesMax = std::size_t{1} << 20;
// Our peers are the other members of a small cluster; anything far beyond that
// is a misbehaving client, refused before it costs a read buffer.
constexpr std::size_t kInboundConnectionsMax = 512;
// Accept fails mostly when descriptors run out; retrying at once would spin.
constexpr std::uint32_t kAcceptRetryMs = 100;
// Replies handed over by other threads and not yet given to their connection.
// Beyond it they are dropped (and counted), like a full connection queue.
constexpr std::size_t kRepliesHandedOverMax = 8192;

// Error messages start with a capital; ours go mid-sentence.
std::string describe(const error_code& ec) {
  std::string text = ec.message();
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] - 'A' + 'a');
  return text;
}

std::string describe(const tcp::endpoint& at) {
  if (at.address().is_v6()) return "[" + at.address().to_string() + "]:" + std::to_string(at.port());
  return at.address().to_string() + ":" + std::to_string(at.port());
}

void bump(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) {
  counter.fetch_add(n, std::memory_order_relaxed);
}

std::uint64_t load(const std::atomic<std::uint64_t>& counter) {
  return counter.load(std::memory_order_relaxed);
}

struct Counters {
  std::atomic<std::uint64_t> frames_sent{0};
  std::atomic<std::uint64_t> frames_received{0};
  std::atomic<std::uint64_t> frames_dropped{0};
  std::atomic<std::uint64_t> frames_rejected{0};
  std::array<std::atomic<std::uint64_t>, kFrameErrorReasonCount> frames_rejected_by_reason{};
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connects_succeeded{0};
  std::atomic<std::uint64_t> connects_failed{0};
  std::atomic<std::uint64_t> connections_lost{0};
  std::atomic<std::uint64_t> replies_sent{0};
  std::atomic<std::uint64_t> replies_dropped{0};
};

// A peer as the sending side sees it: where it lives, what waits for it, and
// the one connection we dial to it.
struct Peer {
  Peer(asio::io_context& ctx, NodeId peer_id, Endpoint peer_at, std::uint32_t backoff_min_ms)
      : id(std::move(peer_id)),
        at(std::move(peer_at)),
        socket(ctx),
        resolver(ctx),
        connect_timer(ctx),
        backoff_timer(ctx),
        backoff_ms(backoff_min_ms) {}

  const NodeId id;

  // Guarded by Impl::mu: senders on other threads touch these.
  Endpoint at;
  std::deque<Bytes> queue;  // framed, not yet handed to the socket
  // in_flight.size(), mirrored here because queue_frames_max bounds queued
  // plus in-flight frames and senders cannot read in_flight.
  std::size_t in_flight_frames = 0;
  // At most one kick is posted per peer, so a burst of sends costs one
  // handler on the network thread rather than an unbounded pile of them.
  bool kick_posted = false;

  // Network thread only.
  enum class Link { down, dialing, up, waiting };
  Link link = Link::down;
  // Bumped whenever the connection is abandoned or a dial starts. Handlers
  // carry the value they were started under; an older one means the
  // connection they were about no longer exists, and they must not touch
  // link state.
  std::uint64_t generation = 0;
  tcp::socket socket;
  tcp::resolver resolver;
  asio::steady_timer connect_timer;
  asio::steady_timer backoff_timer;
  std::uint32_t backoff_ms;
  Endpoint dialed;  // the address of the current connection; written under mu
  // At most one write is outstanding; in_flight owns the bytes it points at
  // until its handler runs, even if the socket was closed meanwhile.
  bool writing = false;
  std::vector<Bytes> in_flight;
  std::vector<asio::const_buffer> gather;
  // The peer never writes on a connection we dialed; a read is outstanding
  // only so that its close is noticed before the next write is lost into it.
  std::array<char, 64> discard{};
  // Unreachability is logged once per outage, not once per backoff step.
  bool reported_unreachable = false;
};

// A connection the listener accepted. Read, and written only with replies to
// what arrived on it (a peer's answers go out on our own outbound connection
// to it; a client's come back here). Shared with the handlers of its
// outstanding read and write, so that closing it while a write is in flight
// leaves them a live object that says it is closed.
struct Inbound {
  Inbound(Transport::ConnectionId conn_id, tcp::socket s, const TransportOptions& options)
      : id(conn_id), socket(std::move(s)), decoder(options.cluster, options.frame_bytes_max, options.client_types) {
    error_code ec;
    tcp::endpoint remote_at = socket.remote_endpoint(ec);
    remote = ec ? std::string("an unknown address") : describe(remote_at);
  }

  const Transport::ConnectionId id;
  tcp::socket socket;
  std::string remote;
  FrameDecoder decoder;
  std::array<char, kReadChunkBytes> buffer;
  bool closed = false;
  // Replies: framed, waiting; at most one write outstanding, whose bytes
  // in_flight owns until its handler runs.
  std::deque<Bytes> queue;
  bool writing = false;
  std::vector<Bytes> in_flight;
  std::vector<asio::const_buffer> gather;
};

}  // namespace

struct Transport::Impl {
  Impl(TransportOptions o, Transport::OnFrameFrom f)
      : options(std::move(o)),
        on_frame(std::move(f)),
        acceptor(ctx),
        accept_retry_timer(ctx),
        work(asio::make_work_guard(ctx)) {}

  // Stops the loop before any socket is destroyed: after run() returns no
  // handler can observe a half-destroyed Impl. Pending handlers are destroyed
  // unrun with the io_context, which is declared first and so goes last.
  ~Impl() {
    if (thread.joinable()) {
      ctx.stop();
      thread.join();
    }
  }

  Status listen();
  void log(const std::string& line, log::Level level = log::Level::kWarn) const;

  // Inbound side.
  void accept();
  void read(const std::shared_ptr<Inbound>& conn);
  void reject(Inbound* conn, const FrameError& error);
  void close_inbound(Inbound* conn);
  // Replies: reply() on any thread, the rest on the network thread.
  void reply(Transport::ConnectionId to, std::uint16_t type, Bytes payload);
  void take_replies();
  void write_replies(const std::shared_ptr<Inbound>& conn);

  // Outbound side, network thread only except send/set_peer.
  void send(const NodeId& to, std::uint16_t type, Bytes payload);
  void set_peer(const NodeId& id, const Endpoint& at);
  bool has_queued(Peer* peer);
  bool address_changed(Peer* peer);
  void kick(Peer* peer);
  void readdress(Peer* peer);
  void dial(Peer* peer);
  void connect(Peer* peer, std::uint64_t gen, std::vector<tcp::endpoint> candidates);
  void on_connected(Peer* peer);
  void connect_failed(Peer* peer, const error_code& ec);
  void connection_lost(Peer* peer, std::uint64_t gen, const error_code& ec);
  void abandon_connection(Peer* peer);
  void wait_then_redial(Peer* peer);
  void watch_for_close(Peer* peer, std::uint64_t gen);
  void write(Peer* peer);
  void on_written(Peer* peer, std::uint64_t gen, const error_code& ec);

  asio::io_context ctx;
  const TransportOptions options;
  const Transport::OnFrameFrom on_frame;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry_timer;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::uint16_t port = 0;
  Counters counters;

  mutable std::mutex mu;
  // Guarded by mu. Entries are never removed, so a Peer* handed to the
  // network thread stays valid for the life of the transport.
  std::map<NodeId, std::unique_ptr<Peer>> peers;

  // Guarded by mu: replies other threads handed over, for take_replies().
  std::deque<std::pair<Transport::ConnectionId, Bytes>> replies;
  bool replies_posted = false;  // one take_replies() posted at a time

  // Network thread only. Each has exactly one read outstanding; the handler
  // that sees the end of a connection (or a write that failed) erases it.
  std::unordered_map<Transport::ConnectionId, std::shared_ptr<Inbound>> inbound;
  Transport::ConnectionId last_connection_id = 0;

  std::thread thread;
};

void Transport::Impl::log(const std::string& line, log::Level level) const {
  log::write(level, options.self + " net", line);
}

Status Transport::Impl::listen() {
  const std::string where = "cannot listen on " + to_string(options.listen) + ": ";
  error_code ec;
  tcp::endpoint local;
  asio::ip::address address = asio::ip::make_address(options.listen.host, ec);
  if (!ec) {
    local = tcp::endpoint(address, options.listen.port);
  } else {
    // Blocking is fine here: start() runs before the network thread exists.
    tcp::resolver resolver(ctx);
    auto found = resolver.resolve(options.listen.host, std::to_string(options.listen.port),
                                  tcp::resolver::passive, ec);
    if (ec) return Error{where + "cannot resolve the host: " + describe(ec)};
    if (found.empty()) return Error{where + "the host has no address"};
    local = found.begin()->endpoint();
  }
  if (acceptor.open(local.protocol(), ec); ec) return Error{where + describe(ec)};
  // A restarted node must rebind its port while connections of its previous
  // run linger in TIME_WAIT. Linux still refuses a second live listener.
  if (acceptor.set_option(tcp::acceptor::reuse_address(true), ec); ec) {
    return Error{where + describe(ec)};
  }
  if (acceptor.bind(local, ec); ec) return Error{where + describe(ec)};
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return Error{where + describe(ec)};
  }
  tcp::endpoint bound = acceptor.local_endpoint(ec);
  if (ec) return Error{where + describe(ec)};
  port = bound.port();
  return Status::Ok();
}

// ---- Inbound ---------------------------------------------------------------

void Transport::Impl::accept() {
  acceptor.async_accept([this](const error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      log("accept failed: " + describe(ec) + "; retrying in " + std::to_string(kAcceptRetryMs) +
          " ms");
      accept_retry_timer.expires_after(Millis(kAcceptRetryMs));
      accept_retry_timer.async_wait([this](const error_code& wait_ec) {
        if (!wait_ec) accept();
      });
      return;
    }
    if (inbound.size() >= kInboundConnectionsMax) {
      error_code ignored;
      log("refusing a connection from " + describe(socket.remote_endpoint(ignored)) + ": already " +
          std::to_string(inbound.size()) + " inbound connections");
      socket.close(ignored);
      accept();
      return;
    }
    bump(counters.connections_accepted);
    error_code ignored;
    // Replies are small and a client waits for each.
    socket.set_option(tcp::no_delay(true), ignored);
    auto conn = std::make_shared<Inbound>(++last_connection_id, std::move(socket), options);
    inbound.emplace(conn->id, conn);
    read(conn);
    accept();
  });
}

void Transport::Impl::read(const std::shared_ptr<Inbound>& conn) {
  conn->socket.async_read_some(
      asio::buffer(conn->buffer), [this, conn](const error_code& ec, std::size_t bytes) {
        if (conn->closed) return;
        // End of stream or a reset: the sender went away, which is routine.
        if (ec) return close_inbound(conn.get());
        conn->decoder.feed(BytesView(conn->buffer.data(), bytes));
        // Ends: every frame returned consumes bytes of a finite buffer.
        for (;;) {
          DecodeStep step = conn->decoder.next();
          if (auto* frame = std::get_if<Frame>(&step)) {
            bump(counters.frames_received);
            if (Status s = on_frame(std::move(*frame), conn->id); !s) {
              return reject(conn.get(), FrameError{FrameErrorReason::undecodable_payload, s.error().message});
            }
          } else if (auto* error = std::get_if<FrameError>(&step)) {
            return reject(conn.get(), *error);
          } else {
            break;
          }
        }
        read(conn);
      });
}

void Transport::Impl::reject(Inbound* conn, const FrameError& error) {
  bump(counters.frames_rejected);
  bump(counters.frames_rejected_by_reason[static_cast<std::size_t>(error.reason)]);
  log("closing the connection from " + conn->remote + " (" + std::string(to_string(error.reason)) +
      "): " + error.message);
  close_inbound(conn);
}

void Transport::Impl::close_inbound(Inbound* conn) {
  if (conn->closed) return;
  conn->closed = true;
  bump(counters.replies_dropped, conn->queue.size() + conn->in_flight.size());
  conn->queue.clear();
  error_code ignored;
  conn->socket.close(ignored);
  // Last: this may destroy *conn when no handler holds it (hence the copy).
  const Transport::ConnectionId id = conn->id;
  inbound.erase(id);
}

// ---- Replies on inbound connections ------------------------------------------

void Transport::Impl::reply(Transport::ConnectionId to, std::uint16_t type, Bytes payload) {
  if (kFrameHeaderBytes + payload.size() > options.frame_bytes_max) {
    bump(counters.replies_dropped);
    log("dropping a reply of type " + std::to_string(type) + ": " +
        std::to_string(kFrameHeaderBytes + payload.size()) + " bytes exceed frame_bytes_max " +
        std::to_string(options.frame_bytes_max));
    return;
  }
  Bytes frame = encode_frame(options.cluster, type, payload);
  bool post = false;
  {
    std::lock_guard lock(mu);
    if (replies.size() >= kRepliesHandedOverMax) {
      bump(counters.replies_dropped);
      return;
    }
    replies.emplace_back(to, std::move(frame));
    post = !std::exchange(replies_posted, true);
  }
  if (post) asio::post(ctx, [this] { take_replies(); });
}

void Transport::Impl::take_replies() {
  std::deque<std::pair<Transport::ConnectionId, Bytes>> taken;
  {
    std::lock_guard lock(mu);
    taken.swap(replies);
    replies_posted = false;
  }
  std::vector<std::shared_ptr<Inbound>> touched;
  for (auto& [id, frame] : taken) {
    auto it = inbound.find(id);
    if (it == inbound.end()) {
      bump(counters.replies_dropped);  // the client went away: routine
      continue;
    }
    Inbound& conn = *it->second;
    if (conn.queue.size() + conn.in_flight.size() >= options.reply_queue_frames_max) {
      bump(counters.replies_dropped);
      continue;
    }
    conn.queue.push_back(std::move(frame));
    touched.push_back(it->second);
  }
  for (const std::shared_ptr<Inbound>& conn : touched) write_replies(conn);
}

void Transport::Impl::write_replies(const std::shared_ptr<Inbound>& conn) {
  if (conn->closed || conn->writing || conn->queue.empty()) return;
  std::size_t batch_bytes = 0;
  while (!conn->queue.empty() &&
         (conn->in_flight.empty() || batch_bytes + conn->queue.front().size() <= kWriteBatchBytesMax)) {
    batch_bytes += conn->queue.front().size();
    conn->in_flight.push_back(std::move(conn->queue.front()));
    conn->queue.pop_front();
  }
  // Built after in_flight stops growing: the buffers point into its strings.
  conn->gather.clear();
  for (const Bytes& frame : conn->in_flight) conn->gather.push_back(asio::buffer(frame));
  conn->writing = true;
  asio::async_write(conn->socket, conn->gather, [this, conn](const error_code& ec, std::size_t) {
    const std::size_t frames = conn->in_flight.size();
    conn->in_flight.clear();
    conn->gather.clear();
    conn->writing = false;
    if (conn->closed) return;  // counted as dropped when it closed
    if (ec) {
      bump(counters.replies_dropped, frames);
      return close_inbound(conn.get());
    }
    bump(counters.replies_sent, frames);
    write_replies(conn);
  });
}

// ---- Outbound: callers' threads ---------------------------------------------

void Transport::Impl::send(const NodeId& to, std::uint16_t type, Bytes payload) {
  if (kFrameHeaderBytes + payload.size() > options.frame_bytes_max) {
    // The receiver would reject it and close the connection, losing the frames
    // behind it too; the sender has a bug to fix.
    bump(counters.frames_dropped);
    log("dropping a frame of type " + std::to_string(type) + " to " + to + ": " +
        std::to_string(kFrameHeaderBytes + payload.size()) + " bytes exceed frame_bytes_max " +
        std::to_string(options.frame_bytes_max));
    return;
  }
  Bytes frame = encode_frame(options.cluster, type, payload);
  Peer* peer = nullptr;
  bool post_kick = false;
  {
    std::lock_guard lock(mu);
    auto it = peers.find(to);
    if (it == peers.end()) {
      bump(counters.frames_dropped);
      return;
    }
    peer = it->second.get();
    if (peer->queue.size() + peer->in_flight_frames >= options.queue_frames_max) {
      bump(counters.frames_dropped);
      return;
    }
    peer->queue.push_back(std::move(frame));
    post_kick = !std::exchange(peer->kick_posted, true);
  }
  if (post_kick) asio::post(ctx, [this, peer] { kick(peer); });
}

void Transport::Impl::set_peer(const NodeId& id, const Endpoint& at) {
  Peer* moved = nullptr;
  {
    std::lock_guard lock(mu);
    auto it = peers.find(id);
    if (it == peers.end()) {
      peers.emplace(id, std::make_unique<Peer>(ctx, id, at, options.reconnect_backoff_min_ms));
      return;
    }
    if (it->second->at == at) return;
    it->second->at = at;
    moved = it->second.get();
  }
  asio::post(ctx, [this, moved] { readdress(moved); });
}

// ---- Outbound: network thread -----------------------------------------------

bool Transport::Impl::has_queued(Peer* peer) {
  std::lock_guard lock(mu);
  return !peer->queue.empty();
}

void Transport::Impl::kick(Peer* peer) {
  {
    std::lock_guard lock(mu);
    peer->kick_posted = false;
  }
  switch (peer->link) {
    case Peer::Link::down: return dial(peer);
    case Peer::Link::up: return write(peer);
    // The queue waits for the dial or the backoff to finish; both look at it.
    case Peer::Link::dialing:
    case Peer::Link::waiting: return;
  }
}

bool Transport::Impl::address_changed(Peer* peer) {
  std::lock_guard lock(mu);
  return !(peer->dialed == peer->at);
}

void Transport::Impl::readdress(Peer* peer) {
  if (peer->link == Peer::Link::down) return;  // the next dial reads the new address
  // write() may have moved already, on seeing the new address first.
  if (!address_changed(peer)) return;
  abandon_connection(peer);
  peer->backoff_timer.cancel();
  peer->link = Peer::Link::down;
  peer->backoff_ms = options.reconnect_backoff_min_ms;
  if (has_queued(peer)) dial(peer);
}

void Transport::Impl::dial(Peer* peer) {
  peer->link = Peer::Link::dialing;
  const std::uint64_t gen = ++peer->generation;
  {
    std::lock_guard lock(mu);
    peer->dialed = peer->at;
  }
  // Covers name resolution too: a resolver that never answers must not wedge
  // the peer forever.
  peer->connect_timer.expires_after(Millis(options.connect_timeout_ms));
  peer->connect_timer.async_wait([this, peer, gen](const error_code& ec) {
    if (ec || gen != peer->generation || peer->link != Peer::Link::dialing) return;
    connect_failed(peer, asio::error::timed_out);
  });

  error_code ec;
  asio::ip::address address = asio::ip::make_address(peer->dialed.host, ec);
  if (!ec) return connect(peer, gen, {tcp::endpoint(address, peer->dialed.port)});
  peer->resolver.async_resolve(
      peer->dialed.host, std::to_string(peer->dialed.port),
      [this, peer, gen](const error_code& resolve_ec, const tcp::resolver::results_type& found) {
        if (gen != peer->generation) return;
        if (resolve_ec) return connect_failed(peer, resolve_ec);
        std::vector<tcp::endpoint> candidates;
        for (const auto& entry : found) candidates.push_back(entry.endpoint());
        connect(peer, gen, std::move(candidates));
      });
}

void Transport::Impl::connect(Peer* peer, std::uint64_t gen, std::vector<tcp::endpoint> candidates) {
  asio::async_connect(peer->socket, candidates,
                      [this, peer, gen](const error_code& ec, const tcp::endpoint&) {
                        if (gen != peer->generation) return;
                        if (ec) return connect_failed(peer, ec);
                        on_connected(peer);
                      });
}

void Transport::Impl::on_connected(Peer* peer) {
  peer->connect_timer.cancel();
  peer->link = Peer::Link::up;
  error_code ignored;
  // Protocol messages are small and latency-bound; batching is done by
  // gathering queued frames into one write, not by Nagle.
  peer->socket.set_option(tcp::no_delay(true), ignored);
  bump(counters.connects_succeeded);
  peer->backoff_ms = options.reconnect_backoff_min_ms;
  if (std::exchange(peer->reported_unreachable, false)) {
    log("connected to " + peer->id + " at " + to_string(peer->dialed) + " again", log::Level::kInfo);
  }
  watch_for_close(peer, peer->generation);
  write(peer);
}

void Transport::Impl::connect_failed(Peer* peer, const error_code& ec) {
  bump(counters.connects_failed);
  if (!std::exchange(peer->reported_unreachable, true)) {
    log("cannot reach " + peer->id + " at " + to_string(peer->dialed) + ": " + describe(ec) +
        "; retrying with backoff up to " + std::to_string(options.reconnect_backoff_max_ms) +
        " ms, keeping at most " + std::to_string(options.queue_frames_max) + " frames");
  }
  abandon_connection(peer);
  wait_then_redial(peer);
}

void Transport::Impl::connection_lost(Peer* peer, std::uint64_t gen, const error_code& ec) {
  if (gen != peer->generation || peer->link != Peer::Link::up) return;
  bump(counters.connections_lost);
  peer->reported_unreachable = true;
  log("lost the connection to " + peer->id + " at " + to_string(peer->dialed) + ": " +
      describe(ec) + "; redialing");
  abandon_connection(peer);
  wait_then_redial(peer);
}

void Transport::Impl::abandon_connection(Peer* peer) {
  ++peer->generation;
  error_code ignored;
  peer->socket.close(ignored);
  peer->resolver.cancel();
  peer->connect_timer.cancel();
}

void Transport::Impl::wait_then_redial(Peer* peer) {
  peer->link = Peer::Link::waiting;
  const std::uint64_t gen = peer->generation;
  peer->backoff_timer.expires_after(Millis(peer->backoff_ms));
  peer->backoff_ms = static_cast<std::uint32_t>(std::min<std::uint64_t>(
      std::uint64_t{peer->backoff_ms} * 2, options.reconnect_backoff_max_ms));
  peer->backoff_timer.async_wait([this, peer, gen](const error_code& ec) {
    if (ec || gen != peer->generation || peer->link != Peer::Link::waiting) return;
    peer->link = Peer::Link::down;
    // Dialing is lazy: with nothing to send the next send() dials.
    if (has_queued(peer)) dial(peer);
  });
}

void Transport::Impl::watch_for_close(Peer* peer, std::uint64_t gen) {
  peer->socket.async_read_some(asio::buffer(peer->discard),
                               [this, peer, gen](const error_code& ec, std::size_t) {
                                 if (gen != peer->generation) return;
                                 if (ec) return connection_lost(peer, gen, ec);
                                 watch_for_close(peer, gen);
                               });
}

void Transport::Impl::write(Peer* peer) {
  if (peer->link != Peer::Link::up || peer->writing) return;
  // A frame sent after set_peer() returned must not leave on the connection to
  // the old address, even when this write runs before the posted readdress.
  if (address_changed(peer)) return readdress(peer);
  {
    std::lock_guard lock(mu);
    std::size_t batch_bytes = 0;
    while (!peer->queue.empty() &&
           (peer->in_flight.empty() || batch_bytes + peer->queue.front().size() <= kWriteBatchBytesMax)) {
      batch_bytes += peer->queue.front().size();
      peer->in_flight.push_back(std::move(peer->queue.front()));
      peer->queue.pop_front();
    }
    peer->in_flight_frames = peer->in_flight.size();
  }
  if (peer->in_flight.empty()) return;
  // Built after in_flight stops growing: the buffers point into its strings.
  peer->gather.clear();
  for (const Bytes& frame : peer->in_flight) peer->gather.push_back(asio::buffer(frame));
  peer->writing = true;
  const std::uint64_t gen = peer->generation;
  asio::async_write(peer->socket, peer->gather,
                    [this, peer, gen](const error_code& ec, std::size_t) { on_written(peer, gen, ec); });
}

void Transport::Impl::on_written(Peer* peer, std::uint64_t gen, const error_code& ec) {
  const std::size_t frames = peer->in_flight.size();
  peer->in_flight.clear();
  peer->gather.clear();
  peer->writing = false;
  {
    std::lock_guard lock(mu);
    peer->in_flight_frames = 0;
  }
  if (ec) {
    // Part of the batch may have arrived; resending could duplicate it, and
    // the protocol retries what it still needs anyway.
    bump(counters.frames_dropped, frames);
    connection_lost(peer, gen, ec);
  } else {
    bump(counters.frames_sent, frames);
  }
  // Continues on whatever connection is up now, which may be a newer one.
  write(peer);
}

// ---- Transport ----------------------------------------------------------------

Result<std::unique_ptr<Transport>> Transport::start(TransportOptions options, OnFrame on_frame) {
  if (!on_frame) return Error{"transport needs a frame handler"};
  return start(std::move(options),
               OnFrameFrom([f = std::move(on_frame)](Frame frame, ConnectionId) { return f(std::move(frame)); }));
}

Result<std::unique_ptr<Transport>> Transport::start(TransportOptions options, OnFrameFrom on_frame) {
  if (!on_frame) return Error{"transport needs a frame handler"};
  if (options.frame_bytes_max < kFrameHeaderBytes) {
    return Error{"frame_bytes_max " + std::to_string(options.frame_bytes_max) +
                 " is smaller than a frame header (" + std::to_string(kFrameHeaderBytes) + " bytes)"};
  }
  if (options.queue_frames_max == 0) return Error{"queue_frames_max must be at least 1"};
  if (options.reply_queue_frames_max == 0) return Error{"reply_queue_frames_max must be at least 1"};
  if (options.reconnect_backoff_min_ms == 0 ||
      options.reconnect_backoff_min_ms > options.reconnect_backoff_max_ms) {
    return Error{"reconnect backoff must satisfy 0 < min <= max (min " +
                 std::to_string(options.reconnect_backoff_min_ms) + " ms, max " +
                 std::to_string(options.reconnect_backoff_max_ms) + " ms)"};
  }
  if (options.connect_timeout_ms == 0) return Error{"connect_timeout_ms must be at least 1"};
  if (options.listen.host.empty()) {
    return Error{"listen address has no host; use 0.0.0.0 to listen on every interface"};
  }

  auto impl = std::make_unique<Impl>(std::move(options), std::move(on_frame));
  if (Status s = impl->listen(); !s) return s.error();
  impl->accept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->ctx.run(); });
  return std::unique_ptr<Transport>(new Transport(std::move(impl)));
}

Transport::Transport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Transport::~Transport() = default;

void Transport::set_peer(const NodeId& id, const Endpoint& at) { impl_->set_peer(id, at); }

void Transport::send(const NodeId& to, std::uint16_t type, Bytes payload) {
  impl_->send(to, type, std::move(payload));
}

void Transport::reply(ConnectionId to, std::uint16_t type, Bytes payload) {
  impl_->reply(to, type, std::move(payload));
}

std::uint16_t Transport::listen_port() const { return impl_->port; }

TransportStats Transport::stats() const {
  const Counters& c = impl_->counters;
  TransportStats out;
  out.frames_sent = load(c.frames_sent);
  out.frames_received = load(c.frames_received);
  out.frames_dropped = load(c.frames_dropped);
  out.frames_rejected = load(c.frames_rejected);
  for (std::size_t i = 0; i < kFrameErrorReasonCount; ++i) {
    out.frames_rejected_by_reason[i] = load(c.frames_rejected_by_reason[i]);
  }
  out.connections_accepted = load(c.connections_accepted);
  out.connects_succeeded = load(c.connects_succeeded);
  out.connects_failed = load(c.connects_failed);
  out.connections_lost = load(c.connections_lost);
  out.replies_sent = load(c.replies_sent);
  out.replies_dropped = load(c.replies_dropped);
  return out;
}

}  // namespace synod::net
