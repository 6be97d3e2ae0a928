#pragma once
// Moves frames between nodes over TCP. It knows nothing of Paxos: it delivers
// what arrives intact and drops what it cannot send, because the protocol
// above already retries (a lost frame costs a retry, an unbounded queue costs
// the node).
//
// Connection model: for every peer we dial ONE outbound connection and only
// write to it; connections the listener accepts are read, and written only
// to answer what arrived on them (reply()). Peers never get replies that way:
// each pair of nodes holds two connections, one per direction, and there is
// never a race over which of two simultaneous dials survives. Clients, which
// have no listener, dial us and get their answers on the same connection.
//
// One port serves both. Frame types that TransportOptions::client_types names
// may carry cluster id 0 (a client does not know the cluster id at first);
// every other frame must carry ours, and replies carry ours.
//
// Threads: one network thread owns every socket. send(), reply() and
// set_peer() may be called from any thread and never block on the network.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "common/bytes.h"
#include "common/ids.h"
#include "common/result.h"
#include "net/endpoint.h"
#include "net/frame.h"

namespace synod::net {

struct TransportOptions {
  NodeId self;
  ClusterId cluster = 0;
  Endpoint listen;  // port 0 asks the system for a free port; see listen_port()
  std::size_t frame_bytes_max = kFrameBytesMaxDefault;
  // Per peer, counting frames queued and frames being written. Beyond it new
  // frames are dropped and counted.
  std::size_t queue_frames_max = 1024;
  std::uint32_t reconnect_backoff_min_ms = 20;
  std::uint32_t reconnect_backoff_max_ms = 1000;
  std::uint32_t connect_timeout_ms = 1000;
  // Frame types clients send: accepted with cluster id 0 as well as ours.
  // nullptr: none (every frame must carry our cluster id).
  FrameDecoder::AcceptsClusterZero client_types = nullptr;
  // Per inbound connection, counting replies queued and being written.
  // Beyond it new replies are dropped and counted: a client that does not
  // read its answers does not hold the node's memory.
  std::size_t reply_queue_frames_max = 256;
};

// Monotonic counters since start().
struct TransportStats {
  std::uint64_t frames_sent = 0;      // written to a peer's socket in full
  std::uint64_t frames_received = 0;  // valid frames handed to OnFrame
  // Never put on the wire: queue full, peer unknown, larger than
  // frame_bytes_max, or in flight on a connection that broke.
  std::uint64_t frames_dropped = 0;
  // Inbound connections closed because of a FrameError, in total and by reason.
  std::uint64_t frames_rejected = 0;
  std::array<std::uint64_t, kFrameErrorReasonCount> frames_rejected_by_reason{};
  std::uint64_t connections_accepted = 0;
  std::uint64_t connects_succeeded = 0;
  std::uint64_t connects_failed = 0;
  std::uint64_t connections_lost = 0;  // outbound connections that broke after connecting
  std::uint64_t replies_sent = 0;      // written in full on an inbound connection
  // Never put on the wire: the connection had closed, its reply queue was
  // full, the frame exceeded frame_bytes_max, or the write failed.
  std::uint64_t replies_dropped = 0;

  std::uint64_t rejected(FrameErrorReason reason) const {
    return frames_rejected_by_reason[static_cast<std::size_t>(reason)];
  }
};

class Transport {
 public:
  // Called on the network thread for every valid frame. The receiver copies
  // it to its own thread; it must not block and must not throw. It returns
  // an Error when the payload does not decode: the sender is then broken or
  // hostile, so that connection is closed like one with a bad frame
  // (counted as undecodable_payload).
  using OnFrame = std::function<Status(Frame frame)>;

  // Names an inbound connection, for reply(). Never reused by a transport; 0
  // names none.
  using ConnectionId = std::uint64_t;
  // OnFrame that also learns which inbound connection the frame came on.
  using OnFrameFrom = std::function<Status(Frame frame, ConnectionId from)>;

  // Binds and listens, then starts the network thread. Fails with a sentence
  // such as "cannot listen on 127.0.0.1:7001: address already in use".
  static Result<std::unique_ptr<Transport>> start(TransportOptions options, OnFrame on_frame);
  static Result<std::unique_ptr<Transport>> start(TransportOptions options, OnFrameFrom on_frame);

  // Stops the network thread and closes every socket; returns promptly even
  // with connections open or dials in progress. Must not be called from
  // OnFrame.
  ~Transport();

  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Adds a peer or moves it to a new address (the old connection is dropped).
  void set_peer(const NodeId& id, const Endpoint& at);

  // Frames the payload and queues it for the peer; dials on first use. Never
  // blocks; drops (and counts) the frame if the peer is unknown or its queue
  // is full.
  void send(const NodeId& to, std::uint16_t type, Bytes payload);

  // Frames the payload (with our cluster id) and queues it for writing on the
  // inbound connection `to`, in the order of the calls. Never blocks; drops
  // (and counts) the frame if that connection has closed or its reply queue
  // is full.
  void reply(ConnectionId to, std::uint16_t type, Bytes payload);

  std::uint16_t listen_port() const;
  TransportStats stats() const;

 private:
  struct Impl;
  explicit Transport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace synod::net
