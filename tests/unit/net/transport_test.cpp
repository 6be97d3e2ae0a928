#include "net/transport.h"

// Asio's headers expect <utility> to be in scope first in this Boost version.
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/endpoint.h"
#include "net/frame.h"

namespace synod::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr ClusterId kCluster = 42;
// Generous: these are local TCP round trips, but sanitizer builds on a busy
// two-core machine can be slow.
constexpr auto kWaitLimit = 10s;

// Frames one transport delivered, handed over from its network thread.
// The receivers in these tests refuse payloads of this type, as a runtime
// refuses a payload that does not decode.
constexpr std::uint16_t kRefusedType = 999;

class Inbox {
 public:
  Transport::OnFrame handler() {
    return [this](Frame frame) -> Status {
      if (frame.type == kRefusedType) return Error{"payload refused by the test receiver"};
      std::lock_guard lock(mu_);
      frames_.push_back(std::move(frame));
      cv_.notify_all();
      return Status::Ok();
    };
  }

  bool wait_for_count(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWaitLimit, [&] { return frames_.size() >= n; });
  }

  std::size_t size() {
    std::lock_guard lock(mu_);
    return frames_.size();
  }

  std::vector<Frame> frames() {
    std::lock_guard lock(mu_);
    return frames_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Frame> frames_;
};

std::string describe(const TransportStats& s) {
  std::string out = "sent=" + std::to_string(s.frames_sent) +
                    " received=" + std::to_string(s.frames_received) +
                    " dropped=" + std::to_string(s.frames_dropped) +
                    " rejected=" + std::to_string(s.frames_rejected) +
                    " accepted=" + std::to_string(s.connections_accepted) +
                    " connects_ok=" + std::to_string(s.connects_succeeded) +
                    " connects_failed=" + std::to_string(s.connects_failed) +
                    " lost=" + std::to_string(s.connections_lost);
  for (std::size_t i = 0; i < kFrameErrorReasonCount; ++i) {
    out += " " + std::string(to_string(static_cast<FrameErrorReason>(i))) + "=" +
           std::to_string(s.frames_rejected_by_reason[i]);
  }
  return out;
}

// Counters have no condition variable to wait on, so this polls them; the
// bound makes a missing event a failure rather than a hang.
bool wait_until(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

std::unique_ptr<Transport> start_node(const NodeId& id, Inbox& inbox, TransportOptions options = {}) {
  options.self = id;
  options.cluster = kCluster;
  if (options.listen.host.empty()) options.listen = Endpoint{"127.0.0.1", 0};
  auto started = Transport::start(options, inbox.handler());
  if (!started) {
    ADD_FAILURE() << "starting " << id << ": " << started.error().message;
    return nullptr;
  }
  return std::move(started).value();
}

Endpoint local(const Transport& t) { return Endpoint{"127.0.0.1", t.listen_port()}; }

// A port nothing listens on: a listener's, after it has closed.
std::uint16_t unused_port() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

// Writes bytes on a fresh connection to `port` and reports whether the other
// side closed it (end of stream or reset) within the wait limit.
bool raw_client_is_disconnected_after_sending(std::uint16_t port, const Bytes& bytes) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::write(socket, asio::buffer(bytes));
  std::array<char, 64> buffer{};
  bool closed = false;
  // The listener never writes, so the first completion is the close.
  socket.async_read_some(asio::buffer(buffer), [&](const boost::system::error_code& ec, std::size_t) {
    closed = static_cast<bool>(ec);
  });
  io.run_for(kWaitLimit);
  return closed;
}

// Destroys the transport on another thread and reports whether it returned
// within the wait limit. A hang aborts: the transport would otherwise outlive
// the test's objects.
bool destroys_promptly(std::unique_ptr<Transport> transport) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  std::thread destroyer([t = std::move(transport), done]() mutable {
    t.reset();
    done->set_value();
  });
  if (finished.wait_for(kWaitLimit) != std::future_status::ready) {
    std::cerr << "~Transport did not return within the wait limit\n";
    std::abort();
  }
  destroyer.join();
  return true;
}

// ---- Endpoint -----------------------------------------------------------------

TEST(Endpoint, ParsesIpv4HostNameAndBracketedIpv6) {
  auto v4 = parse_endpoint("127.0.0.1:7001");
  ASSERT_TRUE(v4.ok()) << v4.error().message;
  EXPECT_EQ(*v4, (Endpoint{"127.0.0.1", 7001}));
  auto name = parse_endpoint("localhost:65535");
  ASSERT_TRUE(name.ok()) << name.error().message;
  EXPECT_EQ(*name, (Endpoint{"localhost", 65535}));
  auto v6 = parse_endpoint("[::1]:1");
  ASSERT_TRUE(v6.ok()) << v6.error().message;
  EXPECT_EQ(*v6, (Endpoint{"::1", 1}));
}

TEST(Endpoint, ToStringInvertsParse) {
  for (const char* text : {"127.0.0.1:7001", "node-1.example:80", "[::1]:7001", "[fe80::1]:9"}) {
    auto parsed = parse_endpoint(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.error().message;
    EXPECT_EQ(to_string(*parsed), text);
  }
}

TEST(Endpoint, RejectsAMissingPortWithAnExample) {
  for (const char* text : {"127.0.0.1", "localhost:", "[::1]", "[::1]:"}) {
    auto parsed = parse_endpoint(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_NE(parsed.error().message.find("no port"), std::string::npos) << parsed.error().message;
  }
}

TEST(Endpoint, RejectsPortZeroAndPortsAbove65535) {
  for (const char* text : {"127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:99999999999"}) {
    auto parsed = parse_endpoint(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_NE(parsed.error().message.find("1 to 65535"), std::string::npos) << parsed.error().message;
  }
}

TEST(Endpoint, RejectsGarbage) {
  for (const char* text : {"", ":", ":7001", "a b:7001", "host:70x1", "host:-1", "::1:7001",
                           "[::1", "[]:7001", "[zz::1]:7001", "[::1]7001", "-host:7001",
                           "host/x:7001"}) {
    auto parsed = parse_endpoint(text);
    EXPECT_FALSE(parsed.ok()) << "'" << text << "' parsed as " << to_string(parsed.value());
    if (!parsed.ok()) {
      EXPECT_FALSE(parsed.error().message.empty());
    }
  }
}

// ---- Transport ----------------------------------------------------------------

TEST(Transport, DeliversEveryFrameInOrderBothWays) {
  constexpr int kFrames = 5000;
  TransportOptions roomy;
  roomy.queue_frames_max = kFrames;  // this test is about delivery, not the bound
  Inbox inbox_a, inbox_b;
  auto a = start_node("a", inbox_a, roomy);
  auto b = start_node("b", inbox_b, roomy);
  ASSERT_TRUE(a && b);
  a->set_peer("b", local(*b));
  b->set_peer("a", local(*a));

  std::thread a_sender([&] {
    for (int i = 0; i < kFrames; ++i) a->send("b", 1, "a" + std::to_string(i));
  });
  for (int i = 0; i < kFrames; ++i) b->send("a", 2, "b" + std::to_string(i));
  a_sender.join();

  ASSERT_TRUE(inbox_b.wait_for_count(kFrames))
      << "b received " << inbox_b.size() << "; a: " << describe(a->stats());
  ASSERT_TRUE(inbox_a.wait_for_count(kFrames))
      << "a received " << inbox_a.size() << "; b: " << describe(b->stats());
  std::vector<Frame> at_b = inbox_b.frames();
  std::vector<Frame> at_a = inbox_a.frames();
  ASSERT_EQ(at_b.size(), std::size_t{kFrames});
  ASSERT_EQ(at_a.size(), std::size_t{kFrames});
  for (int i = 0; i < kFrames; ++i) {
    ASSERT_EQ(at_b[i], (Frame{1, "a" + std::to_string(i)})) << "frame " << i << " at b";
    ASSERT_EQ(at_a[i], (Frame{2, "b" + std::to_string(i)})) << "frame " << i << " at a";
  }
  EXPECT_EQ(a->stats().frames_dropped, 0u);
  EXPECT_EQ(b->stats().frames_dropped, 0u);
  EXPECT_EQ(a->stats().connects_succeeded, 1u);
  EXPECT_EQ(b->stats().frames_received, std::uint64_t{kFrames});
}

TEST(Transport, DialsPeersByHostName) {
  Inbox inbox_a, inbox_b;
  auto a = start_node("a", inbox_a);
  auto b = start_node("b", inbox_b);
  ASSERT_TRUE(a && b);
  a->set_peer("b", Endpoint{"localhost", b->listen_port()});
  a->send("b", 5, "by name");
  ASSERT_TRUE(inbox_b.wait_for_count(1)) << "a: " << describe(a->stats());
  EXPECT_EQ(inbox_b.frames()[0], (Frame{5, "by name"}));
}

// Each bad stream must cost only its own connection: a node keeps serving its
// well-behaved peers, on the connections they already have.
void expect_only_the_bad_connection_closes(const Bytes& bad, FrameErrorReason reason) {
  Inbox inbox_b, inbox_c;
  auto b = start_node("b", inbox_b);
  auto c = start_node("c", inbox_c);
  ASSERT_TRUE(b && c);
  c->set_peer("b", local(*b));
  c->send("b", 1, "before");
  ASSERT_TRUE(inbox_b.wait_for_count(1)) << "c: " << describe(c->stats());

  EXPECT_TRUE(raw_client_is_disconnected_after_sending(b->listen_port(), bad))
      << "b kept a connection that sent " << to_string(reason) << " bytes open";
  EXPECT_TRUE(wait_until([&] { return b->stats().rejected(reason) == 1; }))
      << "b: " << describe(b->stats());
  EXPECT_EQ(b->stats().frames_rejected, 1u) << describe(b->stats());

  c->send("b", 1, "after");
  ASSERT_TRUE(inbox_b.wait_for_count(2)) << "c: " << describe(c->stats());
  EXPECT_EQ(inbox_b.frames()[1], (Frame{1, "after"}));
  EXPECT_EQ(c->stats().connects_succeeded, 1u) << "c's connection should have survived";
  EXPECT_EQ(c->stats().connections_lost, 0u);
}

TEST(Transport, ClosesOnlyAConnectionSendingGarbage) {
  expect_only_the_bad_connection_closes("GET / HTTP/1.1\r\nHost: b\r\n\r\n", FrameErrorReason::bad_magic);
}

TEST(Transport, ClosesOnlyAConnectionAnnouncingAnOversizedFrame) {
  Bytes header = encode_frame(kCluster, 1, "");
  for (int i = 16; i < 20; ++i) header[i] = '\xFF';  // payload length 0xFFFFFFFF
  expect_only_the_bad_connection_closes(header, FrameErrorReason::oversized_length);
}

TEST(Transport, ClosesOnlyAConnectionFromAnotherCluster) {
  expect_only_the_bad_connection_closes(encode_frame(kCluster + 1, 1, "hello"),
                                        FrameErrorReason::wrong_cluster_id);
}

TEST(Transport, ClosesOnlyAConnectionWhosePayloadTheReceiverRefuses) {
  expect_only_the_bad_connection_closes(encode_frame(kCluster, kRefusedType, "x"),
                                        FrameErrorReason::undecodable_payload);
}

TEST(Transport, StartFailsWithAClearErrorWhenThePortIsInUse) {
  Inbox inbox;
  auto a = start_node("a", inbox);
  ASSERT_TRUE(a);
  TransportOptions options;
  options.self = "b";
  options.cluster = kCluster;
  options.listen = local(*a);
  auto second = Transport::start(options, inbox.handler());
  ASSERT_FALSE(second.ok()) << "two listeners on port " << a->listen_port();
  const std::string& message = second.error().message;
  EXPECT_NE(message.find("cannot listen on 127.0.0.1:" + std::to_string(a->listen_port())),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("in use"), std::string::npos) << message;
}

TEST(Transport, RejectsOptionsThatCannotWork) {
  Inbox inbox;
  TransportOptions no_queue;
  no_queue.listen = Endpoint{"127.0.0.1", 0};
  no_queue.queue_frames_max = 0;
  EXPECT_FALSE(Transport::start(no_queue, inbox.handler()).ok());
  TransportOptions no_host = no_queue;
  no_host.queue_frames_max = 1;
  no_host.listen.host.clear();
  auto refused = Transport::start(no_host, inbox.handler());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("0.0.0.0"), std::string::npos) << refused.error().message;
  TransportOptions backwards = no_queue;
  backwards.queue_frames_max = 1;
  backwards.reconnect_backoff_min_ms = 500;
  backwards.reconnect_backoff_max_ms = 100;
  EXPECT_FALSE(Transport::start(backwards, inbox.handler()).ok());
}

TEST(Transport, DropsAndCountsFramesForAnUnknownPeer) {
  Inbox inbox;
  auto a = start_node("a", inbox);
  ASSERT_TRUE(a);
  a->send("nobody", 1, "lost");
  EXPECT_EQ(a->stats().frames_dropped, 1u);
}

TEST(Transport, DropsAFrameOverTheSizeLimitAndKeepsTheConnectionUsable) {
  TransportOptions small;
  small.frame_bytes_max = 1024;
  Inbox inbox_a, inbox_b;
  auto a = start_node("a", inbox_a, small);
  auto b = start_node("b", inbox_b, small);
  ASSERT_TRUE(a && b);
  a->set_peer("b", local(*b));
  a->send("b", 1, Bytes(1024, 'x'));  // 1048 bytes framed
  EXPECT_EQ(a->stats().frames_dropped, 1u);
  a->send("b", 2, "fits");
  ASSERT_TRUE(inbox_b.wait_for_count(1)) << "a: " << describe(a->stats());
  EXPECT_EQ(inbox_b.frames()[0], (Frame{2, "fits"}));
  EXPECT_EQ(b->stats().frames_rejected, 0u);
}

TEST(Transport, SendingToADownPeerNeverBlocksAndDropsBeyondTheQueueBound) {
  TransportOptions bounded;
  bounded.queue_frames_max = 8;
  Inbox inbox;
  auto a = start_node("a", inbox, bounded);
  ASSERT_TRUE(a);
  a->set_peer("down", Endpoint{"127.0.0.1", unused_port()});

  const auto began = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) a->send("down", 1, "frame " + std::to_string(i));
  const auto took = std::chrono::steady_clock::now() - began;
  // A send that waited for the network would take at least one failed dial
  // per frame; a thousand queue operations take microseconds each.
  EXPECT_LT(took, 2s);

  // Nothing can be in flight to a peer that never answered, so exactly the
  // frames beyond the bound are dropped.
  EXPECT_EQ(a->stats().frames_dropped, 1000u - 8u) << describe(a->stats());
  EXPECT_TRUE(wait_until([&] { return a->stats().connects_failed >= 2; }))
      << "expected repeated dials with backoff; " << describe(a->stats());
  EXPECT_EQ(a->stats().frames_sent, 0u);
  EXPECT_EQ(a->stats().connects_succeeded, 0u);
}

TEST(Transport, ReconnectsAndDeliversQueuedFramesAfterThePeerRestarts) {
  TransportOptions quick;
  quick.reconnect_backoff_max_ms = 200;
  Inbox inbox_a, inbox_b1, inbox_b2;
  auto a = start_node("a", inbox_a, quick);
  auto b = start_node("b", inbox_b1);
  ASSERT_TRUE(a && b);
  const Endpoint b_at = local(*b);
  a->set_peer("b", b_at);
  a->send("b", 1, "first");
  ASSERT_TRUE(inbox_b1.wait_for_count(1)) << "a: " << describe(a->stats());

  ASSERT_TRUE(destroys_promptly(std::move(b)));
  ASSERT_TRUE(wait_until([&] { return a->stats().connections_lost == 1; }))
      << "a did not notice b going away; " << describe(a->stats());
  for (int i = 0; i < 3; ++i) a->send("b", 1, "queued " + std::to_string(i));
  ASSERT_TRUE(wait_until([&] { return a->stats().connects_failed >= 1; }))
      << "a did not try to redial; " << describe(a->stats());

  TransportOptions same_port;
  same_port.listen = b_at;
  auto b2 = start_node("b", inbox_b2, same_port);
  ASSERT_TRUE(b2);
  ASSERT_TRUE(inbox_b2.wait_for_count(3)) << "restarted b received " << inbox_b2.size() << "; a: "
                                          << describe(a->stats());
  std::vector<Frame> got = inbox_b2.frames();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(got[i], (Frame{1, "queued " + std::to_string(i)}));

  a->send("b", 1, "after");
  ASSERT_TRUE(inbox_b2.wait_for_count(4)) << "a: " << describe(a->stats());
  EXPECT_EQ(a->stats().connects_succeeded, 2u) << describe(a->stats());
}

TEST(Transport, FollowsAPeerThatMovesToANewAddress) {
  Inbox inbox_a, inbox_old, inbox_new;
  auto a = start_node("a", inbox_a);
  auto old_b = start_node("b", inbox_old);
  auto new_b = start_node("b", inbox_new);
  ASSERT_TRUE(a && old_b && new_b);
  a->set_peer("b", local(*old_b));
  a->send("b", 1, "to the old address");
  ASSERT_TRUE(inbox_old.wait_for_count(1)) << "a: " << describe(a->stats());

  a->set_peer("b", local(*new_b));
  a->send("b", 1, "to the new address");
  ASSERT_TRUE(inbox_new.wait_for_count(1)) << "a: " << describe(a->stats());
  EXPECT_EQ(inbox_new.frames()[0], (Frame{1, "to the new address"}));
  EXPECT_EQ(inbox_old.size(), 1u);
  EXPECT_EQ(a->stats().connects_succeeded, 2u) << describe(a->stats());
}

TEST(Transport, DestructorReturnsPromptlyWithConnectionsOpen) {
  Inbox inbox_a, inbox_b;
  auto a = start_node("a", inbox_a);
  auto b = start_node("b", inbox_b);
  ASSERT_TRUE(a && b);
  a->set_peer("b", local(*b));
  b->set_peer("a", local(*a));
  a->send("b", 1, "ping");
  b->send("a", 1, "pong");
  ASSERT_TRUE(inbox_b.wait_for_count(1)) << "a: " << describe(a->stats());
  ASSERT_TRUE(inbox_a.wait_for_count(1)) << "b: " << describe(b->stats());

  // A reader stuck mid-frame and a dial that keeps failing, on top of the
  // two established connections.
  asio::io_context io;
  tcp::socket half(io);
  half.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), a->listen_port()));
  asio::write(half, asio::buffer(encode_frame(kCluster, 1, "partial").substr(0, 12)));
  a->set_peer("down", Endpoint{"127.0.0.1", unused_port()});
  a->send("down", 1, "never");
  ASSERT_TRUE(wait_until([&] { return a->stats().connections_accepted == 2; }))
      << describe(a->stats());

  EXPECT_TRUE(destroys_promptly(std::move(a)));
  EXPECT_TRUE(destroys_promptly(std::move(b)));
}

}  // namespace
}  // namespace synod::net
