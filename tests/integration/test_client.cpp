#include "integration/test_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>
#include <utility>
#include <variant>

#include "net/endpoint.h"

namespace synod::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// One attempt at one node: beyond it the client tries elsewhere.
constexpr milliseconds kAttemptMax{1500};
constexpr milliseconds kBusyPause{20};
constexpr milliseconds kNoPrimaryPause{50};
constexpr int kAttemptsMax = 100000;  // the budget ends the loop long before

int millis_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
}

ClusterId cluster_of_header(const std::string& bytes) {
  ClusterId cluster = 0;
  for (int i = 0; i < 8; ++i) cluster |= ClusterId{static_cast<unsigned char>(bytes[8 + i])} << (8 * i);
  return cluster;
}

}  // namespace

TestClient::TestClient(std::vector<std::string> endpoints, std::uint64_t client_id)
    : endpoints_(std::move(endpoints)), client_id_(client_id) {}

TestClient::~TestClient() { disconnect(); }

void TestClient::disconnect() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  connected_to_.clear();
  buffer_.clear();
  decoder_.reset();
}

bool TestClient::connect_to(const std::string& at, Clock::time_point deadline) {
  disconnect();
  Result<net::Endpoint> e = net::parse_endpoint(at);
  if (!e) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(e->port);
  if (inet_pton(AF_INET, e->host.c_str(), &addr.sin_addr) != 1) return false;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      ::close(fd);
      return false;
    }
    pollfd p{fd, POLLOUT, 0};
    int error = 0;
    socklen_t length = sizeof error;
    if (poll(&p, 1, millis_left(deadline)) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 ||
        error != 0) {
      ::close(fd);
      return false;
    }
  }
  fd_ = fd;
  connected_to_ = at;
  return true;
}

std::optional<net::ClientMessage> TestClient::exchange(const std::string& at, const net::ClientMessage& request,
                                                       Clock::time_point deadline,
                                                       const std::function<bool(const net::ClientMessage&)>& accept) {
  if (connected_to_ != at && !connect_to(at, deadline)) return std::nullopt;
  net::EncodedClientMessage e = net::encode_client_message(request);
  const Bytes frame = net::encode_frame(cluster_, static_cast<std::uint16_t>(e.type), e.payload);
  for (std::size_t sent = 0; sent < frame.size();) {
    ssize_t n = ::send(fd_, frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    pollfd p{fd_, POLLOUT, 0};
    if ((n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) || poll(&p, 1, millis_left(deadline)) != 1) {
      disconnect();
      return std::nullopt;
    }
  }
  // Ends: every turn reads bytes or returns; the deadline bounds the waits.
  while (true) {
    if (decoder_) {
      for (;;) {
        net::DecodeStep step = decoder_->next();
        if (auto* f = std::get_if<net::Frame>(&step)) {
          Result<net::ClientMessage> m = net::decode_client_message(f->type, f->payload);
          if (!m) {
            disconnect();
            return std::nullopt;
          }
          if (accept(*m)) return std::move(*m);
          continue;  // an answer to an earlier attempt
        }
        if (std::holds_alternative<net::FrameError>(step)) {
          disconnect();
          return std::nullopt;
        }
        break;
      }
    }
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, millis_left(deadline)) != 1) return std::nullopt;  // silent: keep the connection
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      disconnect();
      return std::nullopt;
    }
    if (decoder_) {
      decoder_->feed(BytesView(chunk, static_cast<std::size_t>(n)));
      continue;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    if (buffer_.size() < 16) continue;
    // The node answers with its cluster id: adopt it on first contact, and
    // refuse a node of another cluster afterwards.
    const ClusterId seen = cluster_of_header(buffer_);
    if (cluster_ == 0) cluster_ = seen;
    decoder_ = std::make_unique<net::FrameDecoder>(cluster_, net::kFrameBytesMaxDefault);
    decoder_->feed(buffer_);
    buffer_.clear();
  }
}

Result<net::ClientReply> TestClient::call(const net::ClientMessage& request, std::uint64_t number, bool read,
                                          milliseconds budget, const std::string& fixed_target) {
  const auto deadline = Clock::now() + budget;
  auto accept = [&](const net::ClientMessage& m) {
    const auto* r = std::get_if<net::ClientReply>(&m);
    return r != nullptr && r->client_id == client_id_ && r->request_no == number && r->read == read;
  };
  std::string last = "no attempt";
  for (int attempt = 0; attempt < kAttemptsMax && Clock::now() < deadline; ++attempt) {
    std::string at = fixed_target;
    if (at.empty()) at = !target_.empty() ? target_ : endpoints_[next_endpoint_++ % endpoints_.size()];
    const auto attempt_deadline = std::min(deadline, Clock::now() + kAttemptMax);
    std::optional<net::ClientMessage> m = exchange(at, request, attempt_deadline, accept);
    if (!m) {
      last = "no answer from " + at;
      disconnect();
      target_.clear();  // try the next endpoint
      ++redirects_;
      if (!fixed_target.empty()) std::this_thread::sleep_for(kNoPrimaryPause);
      continue;
    }
    net::ClientReply reply = std::get<net::ClientReply>(std::move(*m));
    last = std::string(net::to_string(reply.status)) + " from " + at + ": " + reply.message;
    switch (reply.status) {
      case net::ClientStatus::kOk:
        target_ = at;
        return reply;
      case net::ClientStatus::kNotPrimary:
        if (!fixed_target.empty()) return Error{last};
        ++redirects_;
        if (!reply.primary_address.empty() && reply.primary_address != at) {
          target_ = reply.primary_address;
        } else {
          target_.clear();  // it does not know where the primary is: ask another
          std::this_thread::sleep_for(kNoPrimaryPause);
        }
        break;
      case net::ClientStatus::kBusy:
        std::this_thread::sleep_for(kBusyPause);
        break;
      case net::ClientStatus::kSessionExpired:
      case net::ClientStatus::kError:
        return Error{last};
    }
  }
  return Error{"out of time after " + std::to_string(budget.count()) + " ms; last: " + last};
}

Result<net::ClientReply> TestClient::submit(const std::string& op, milliseconds budget) {
  const std::uint64_t number = next_request_no_++;
  return call(net::ClientOpRequest{client_id_, number, op}, number, false, budget, "");
}

Result<net::ClientReply> TestClient::read(const std::string& op, bool allow_stale, milliseconds budget,
                                          const std::string& at) {
  const std::uint64_t number = next_request_no_++;
  return call(net::ClientReadRequest{client_id_, number, op, allow_stale}, number, true, budget, at);
}

Result<net::AdminReply> TestClient::admin(const std::string& at, net::AdminRequest request, milliseconds budget) {
  request.request_id = next_admin_id_++;
  const std::uint64_t id = request.request_id;
  std::optional<net::ClientMessage> m =
      exchange(at, request, Clock::now() + budget, [&](const net::ClientMessage& reply) {
        const auto* r = std::get_if<net::AdminReply>(&reply);
        return r != nullptr && r->request_id == id;
      });
  if (!m) {
    disconnect();
    return Error{"no admin answer from " + at};
  }
  return std::get<net::AdminReply>(std::move(*m));
}

}  // namespace synod::testing
