// One port for peers and clients: client frames may carry cluster id 0 and
// are answered on the connection they came on; peer frames still need ours.

#include <utility>  // Asio's headers expect it first in this Boost version

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/frame.h"
#include "net/transport.h"

namespace synod::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr ClusterId kCluster = 42;
constexpr std::uint16_t kPing = 70;   // a "client" type in these tests
constexpr std::uint16_t kPong = 71;
constexpr std::uint16_t kPeerType = 1;

bool client_type(std::uint16_t type) { return type >= kPing; }

bool wait_until(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// A transport whose handler answers every kPing with kPong + the payload, on
// the connection the ping came on.
class Echo {
 public:
  Echo() {
    TransportOptions o;
    o.self = "n1";
    o.cluster = kCluster;
    o.listen = Endpoint{"127.0.0.1", 0};
    o.client_types = &client_type;
    auto started = Transport::start(o, [this](Frame f, Transport::ConnectionId from) -> Status {
      if (f.type != kPing) return Status::Ok();
      {
        std::lock_guard lock(mu_);
        connections_.push_back(from);
      }
      transport_.load()->reply(from, kPong, "pong:" + f.payload);
      return Status::Ok();
    });
    EXPECT_TRUE(started) << started.error().message;
    owned_ = std::move(started).value();
    transport_ = owned_.get();
  }

  Transport& transport() { return *owned_; }
  std::vector<Transport::ConnectionId> connections() {
    std::lock_guard lock(mu_);
    return connections_;
  }

 private:
  std::atomic<Transport*> transport_{nullptr};
  std::unique_ptr<Transport> owned_;
  std::mutex mu_;
  std::vector<Transport::ConnectionId> connections_;
};

// A blocking client: writes frames, reads frames back with our cluster id.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) : socket_(io_), decoder_(kCluster) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }

  void write(const Bytes& bytes) { asio::write(socket_, asio::buffer(bytes)); }

  // The next frame, or a FrameError / closed connection as nullopt.
  std::optional<Frame> read_frame() {
    for (int i = 0; i < 1000; ++i) {
      DecodeStep step = decoder_.next();
      if (auto* f = std::get_if<Frame>(&step)) return std::move(*f);
      if (std::holds_alternative<FrameError>(step)) return std::nullopt;
      std::array<char, 4096> buf{};
      boost::system::error_code ec;
      std::size_t n = socket_.read_some(asio::buffer(buf), ec);
      if (ec) return std::nullopt;
      decoder_.feed(BytesView(buf.data(), n));
    }
    return std::nullopt;
  }

  void close() { socket_.close(); }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  FrameDecoder decoder_;
};

TEST(FrameDecoder, AcceptsClusterZeroOnlyForTheTypesItIsTold) {
  FrameDecoder open(kCluster, kFrameBytesMaxDefault, &client_type);
  open.feed(encode_frame(0, kPing, "a"));
  open.feed(encode_frame(kCluster, kPing, "b"));
  EXPECT_EQ(std::get<Frame>(open.next()), (Frame{kPing, "a"}));
  EXPECT_EQ(std::get<Frame>(open.next()), (Frame{kPing, "b"}));

  FrameDecoder peer_zero(kCluster, kFrameBytesMaxDefault, &client_type);
  peer_zero.feed(encode_frame(0, kPeerType, "x"));
  ASSERT_TRUE(std::holds_alternative<FrameError>(peer_zero.next()));

  FrameDecoder client_other(kCluster, kFrameBytesMaxDefault, &client_type);
  client_other.feed(encode_frame(kCluster + 1, kPing, "x"));
  ASSERT_TRUE(std::holds_alternative<FrameError>(client_other.next()));

  FrameDecoder closed(kCluster);  // the default: every frame needs our id
  closed.feed(encode_frame(0, kPing, "x"));
  ASSERT_TRUE(std::holds_alternative<FrameError>(closed.next()));
}

TEST(Transport, AnswersAClientFrameWithClusterZeroOnItsOwnConnectionInOrder) {
  Echo echo;
  RawClient client(echo.transport().listen_port());
  client.write(encode_frame(0, kPing, "1") + encode_frame(kCluster, kPing, "2") + encode_frame(0, kPing, "3"));
  for (const char* n : {"1", "2", "3"}) {
    std::optional<Frame> f = client.read_frame();  // decoded with OUR cluster id: the reply carries it
    ASSERT_TRUE(f.has_value()) << "reply " << n;
    EXPECT_EQ(*f, (Frame{kPong, std::string("pong:") + n}));
  }
  std::vector<Transport::ConnectionId> conns = echo.connections();
  ASSERT_EQ(conns.size(), 3u);
  EXPECT_NE(conns[0], 0u);
  EXPECT_EQ(conns[0], conns[1]);
  EXPECT_EQ(conns[1], conns[2]);
  EXPECT_TRUE(wait_until([&] { return echo.transport().stats().replies_sent == 3; }));
}

TEST(Transport, GivesEachConnectionItsOwnRepliesAndId) {
  Echo echo;
  RawClient a(echo.transport().listen_port());
  RawClient b(echo.transport().listen_port());
  a.write(encode_frame(0, kPing, "a"));
  b.write(encode_frame(0, kPing, "b"));
  EXPECT_EQ(b.read_frame(), (Frame{kPong, "pong:b"}));
  EXPECT_EQ(a.read_frame(), (Frame{kPong, "pong:a"}));
  std::vector<Transport::ConnectionId> conns = echo.connections();
  ASSERT_EQ(conns.size(), 2u);
  EXPECT_NE(conns[0], conns[1]);
}

TEST(Transport, StillClosesAConnectionSendingAPeerFrameWithClusterZero) {
  Echo echo;
  RawClient client(echo.transport().listen_port());
  client.write(encode_frame(0, kPeerType, "x"));
  EXPECT_FALSE(client.read_frame().has_value());
  EXPECT_TRUE(wait_until([&] { return echo.transport().stats().rejected(FrameErrorReason::wrong_cluster_id) == 1; }));
  // The listener still serves others.
  RawClient other(echo.transport().listen_port());
  other.write(encode_frame(0, kPing, "still here"));
  EXPECT_EQ(other.read_frame(), (Frame{kPong, "pong:still here"}));
}

TEST(Transport, DropsAndCountsRepliesToAConnectionThatIsGone) {
  Echo echo;
  echo.transport().reply(987654, kPong, "nobody");
  EXPECT_TRUE(wait_until([&] { return echo.transport().stats().replies_dropped == 1; }));

  RawClient client(echo.transport().listen_port());
  client.write(encode_frame(0, kPing, "x"));
  ASSERT_TRUE(client.read_frame().has_value());
  const Transport::ConnectionId conn = echo.connections().at(0);
  client.close();
  // Once the transport saw the close, replies to it are dropped, not queued.
  EXPECT_TRUE(wait_until([&] {
    echo.transport().reply(conn, kPong, "late");
    return echo.transport().stats().replies_dropped >= 2;
  }));
}

}  // namespace
}  // namespace synod::net
