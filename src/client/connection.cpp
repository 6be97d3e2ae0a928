#include "client/connection.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <cstddef>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "net/endpoint.h"
#include "net/frame.h"

namespace synod::client {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr std::size_t kReadChunkBytes = 64 * 1024;
constexpr std::size_t kResolvedAddressesMax = 8;
// A client talks to the endpoints it was given and the primaries they name;
// past this many open connections the pool starts over.
constexpr std::size_t kConnectionsMax = 32;

// The state one asynchronous operation shares with its handler. Shared, so
// that a handler that runs after its wait gave up (timed out, interrupted)
// touches only this and never a dead stack frame.
struct OpState {
  bool done = false;
  error_code ec;
  std::size_t bytes = 0;
};

std::uint64_t cluster_of_header(std::string_view header) {
  std::uint64_t cluster = 0;
  for (int i = 0; i < 8; ++i) cluster |= std::uint64_t{static_cast<unsigned char>(header[8 + i])} << (8 * i);
  return cluster;
}

}  // namespace

struct ConnectionPool::Loop {
  asio::io_context io;
};

// One TCP connection to one node, driven by the pool's thread.
class ConnectionPool::Connection {
 public:
  Connection(ConnectionPool& pool, std::string address)
      : pool_(pool), address_(std::move(address)), socket_(pool.loop_->io), resolver_(pool.loop_->io),
        chunk_(std::make_shared<std::vector<char>>(kReadChunkBytes)) {}

  ~Connection() { close(); }

  // Open, and not closed by the peer since (a node restarted or killed
  // closes its end; writing into such a socket would look "sent").
  bool usable() {
    if (!socket_.is_open()) return false;
    if (decoder_ && decoder_cluster_ != pool_.cluster_.load() && pool_.cluster_.load() != 0) return false;
    error_code ec;
    socket_.non_blocking(true, ec);
    if (ec) return false;
    // Bounded: each turn drains a chunk of what is buffered, or stops.
    for (int turn = 0; turn < 64; ++turn) {
      const std::size_t n = socket_.read_some(asio::buffer(*chunk_), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) return true;
      if (ec) return false;
      if (!feed(std::string_view(chunk_->data(), n))) return false;
    }
    return true;
  }

  Status connect(Clock::time_point deadline) {
    Result<net::Endpoint> parsed = net::parse_endpoint(address_);
    if (!parsed) return Error{"bad address " + address_ + ": " + parsed.error().message};
    std::vector<tcp::endpoint> targets;
    error_code ec;
    const asio::ip::address ip = asio::ip::make_address(parsed->host, ec);
    if (!ec) {
      targets.emplace_back(ip, parsed->port);
    } else if (Status s = resolve(*parsed, deadline, targets); !s) {
      return s;
    }
    std::string last = "no address";
    for (const tcp::endpoint& target : targets) {
      close();
      auto st = std::make_shared<OpState>();
      socket_.async_connect(target, [st](const error_code& e) {
        st->done = true;
        st->ec = e;
      });
      if (!wait(*st, deadline)) {
        close();
        return Error{pool_.interrupted() ? "the client is closing"
                                         : "no connection to " + address_ + " before the deadline"};
      }
      if (!st->ec) {
        socket_.set_option(tcp::no_delay(true), ec);
        return Status::Ok();
      }
      last = st->ec.message();
    }
    close();
    return Error{"cannot connect to " + address_ + ": " + last};
  }

  Status send(const net::ClientMessage& message, Clock::time_point deadline) {
    const net::EncodedClientMessage e = net::encode_client_message(message);
    auto frame = std::make_shared<Bytes>(
        net::encode_frame(pool_.cluster_.load(), static_cast<std::uint16_t>(e.type), e.payload));
    auto st = std::make_shared<OpState>();
    asio::async_write(socket_, asio::buffer(*frame), [st, frame](const error_code& ec, std::size_t n) {
      st->done = true;
      st->ec = ec;
      st->bytes = n;
    });
    if (!wait(*st, deadline)) {
      close();
      return Error{pool_.interrupted() ? "the client is closing" : "sending to " + address_ + " timed out"};
    }
    if (st->ec) {
      close();
      return Error{"sending to " + address_ + " failed: " + st->ec.message()};
    }
    return Status::Ok();
  }

  Result<net::ClientMessage> receive(const Accept& accept, Clock::time_point deadline) {
    // Ends: every turn consumes buffered frames or reads more bytes; the
    // deadline bounds the reads.
    for (;;) {
      if (decoder_) {
        for (;;) {
          net::DecodeStep step = decoder_->next();
          if (auto* f = std::get_if<net::Frame>(&step)) {
            Result<net::ClientMessage> m = net::decode_client_message(f->type, f->payload);
            if (!m) return fail("an answer from " + address_ + " does not decode: " + m.error().message);
            // A frame that passed its checksum names the node's cluster: adopt it.
            std::uint64_t unknown = 0;
            pool_.cluster_.compare_exchange_strong(unknown, decoder_cluster_);
            if (accept(*m)) return std::move(*m);
            continue;  // an answer to an earlier attempt, or someone else's
          }
          if (auto* error = std::get_if<net::FrameError>(&step)) {
            return fail("bad frame from " + address_ + ": " + error->message);
          }
          break;
        }
      }
      auto st = std::make_shared<OpState>();
      socket_.async_read_some(asio::buffer(*chunk_), [st, chunk = chunk_](const error_code& ec, std::size_t n) {
        st->done = true;
        st->ec = ec;
        st->bytes = n;
      });
      if (!wait(*st, deadline)) {
        close();
        return Error{pool_.interrupted() ? "the client is closing"
                                         : "no answer from " + address_ + " before the deadline"};
      }
      if (st->ec == asio::error::eof) return fail(address_ + " closed the connection");
      if (st->ec) return fail("reading from " + address_ + " failed: " + st->ec.message());
      if (!feed(std::string_view(chunk_->data(), st->bytes))) {
        return fail("bad frame from " + address_ + " (not a synod node?)");
      }
    }
  }

  void close() {
    error_code ignored;
    resolver_.cancel();
    if (socket_.is_open()) socket_.close(ignored);
    pending_.clear();
    decoder_.reset();
    decoder_cluster_ = 0;
  }

 private:
  Status resolve(const net::Endpoint& endpoint, Clock::time_point deadline, std::vector<tcp::endpoint>& out) {
    struct ResolveState {
      bool done = false;
      error_code ec;
      std::vector<tcp::endpoint> found;
    };
    auto rs = std::make_shared<ResolveState>();
    auto st = std::make_shared<OpState>();
    resolver_.async_resolve(endpoint.host, std::to_string(endpoint.port),
                            [rs, st](const error_code& ec, const tcp::resolver::results_type& results) {
                              st->done = true;
                              st->ec = ec;
                              for (const auto& r : results) {
                                if (rs->found.size() < kResolvedAddressesMax) rs->found.push_back(r.endpoint());
                              }
                            });
    if (!wait(*st, deadline)) {
      resolver_.cancel();
      return Error{"cannot resolve " + endpoint.host + " before the deadline"};
    }
    if (st->ec || rs->found.empty()) {
      return Error{"cannot resolve " + endpoint.host + ": " + (st->ec ? st->ec.message() : "no address")};
    }
    out = std::move(rs->found);
    return Status::Ok();
  }

  // Runs the loop until `st` completes. False when the deadline passed or
  // the pool was interrupted first; the caller then closes the socket, which
  // aborts the operation (its handler only touches `st`).
  bool wait(const OpState& st, Clock::time_point deadline) {
    asio::io_context& io = pool_.loop_->io;
    io.restart();
    // Ends: the deadline bounds the waits, and an interrupt wakes them.
    while (!st.done) {
      if (pool_.interrupted() || Clock::now() >= deadline) return false;
      if (io.run_one_until(deadline) == 0 && io.stopped() && !st.done) {
        // No work left although the operation has not completed: cannot
        // happen while it is pending; never spin if it does.
        io.restart();
        return false;
      }
    }
    return true;
  }

  // Takes bytes from the node. The first header names the node's cluster;
  // a node of another cluster than the one already learned fails the
  // decoder (wrong_cluster_id). False when the stream is not synod frames.
  bool feed(std::string_view bytes) {
    if (decoder_) {
      decoder_->feed(bytes);
      return !decoder_->failed();
    }
    pending_.append(bytes);
    if (pending_.size() < 16) return true;
    const std::uint64_t known = pool_.cluster_.load();
    decoder_cluster_ = known != 0 ? known : cluster_of_header(pending_);
    decoder_ = std::make_unique<net::FrameDecoder>(decoder_cluster_, net::kFrameBytesMaxDefault);
    decoder_->feed(pending_);
    pending_.clear();
    return true;  // a bad header shows as a FrameError from next(), with its reason
  }

  Result<net::ClientMessage> fail(std::string why) {
    close();
    return Error{std::move(why)};
  }

  ConnectionPool& pool_;
  std::string address_;
  tcp::socket socket_;
  tcp::resolver resolver_;
  std::shared_ptr<std::vector<char>> chunk_;
  Bytes pending_;  // bytes before the first 16, when the cluster id is still to be read
  std::unique_ptr<net::FrameDecoder> decoder_;
  std::uint64_t decoder_cluster_ = 0;
};

ConnectionPool::ConnectionPool(std::atomic<std::uint64_t>& cluster)
    : cluster_(cluster), loop_(std::make_unique<Loop>()) {}

ConnectionPool::~ConnectionPool() {
  connections_.clear();  // before the io_context they use
}

ConnectionPool::Connection& ConnectionPool::connection(const std::string& at) {
  auto it = connections_.find(at);
  if (it != connections_.end()) return *it->second;
  if (connections_.size() >= kConnectionsMax) connections_.clear();
  return *connections_.emplace(at, std::make_unique<Connection>(*this, at)).first->second;
}

void ConnectionPool::drop(const std::string& at) { connections_.erase(at); }

void ConnectionPool::close_all() { connections_.clear(); }

void ConnectionPool::interrupt() {
  interrupted_ = true;
  asio::post(loop_->io, [] {});  // wakes a wait blocked in run_one_until
}

Exchange ConnectionPool::exchange(const std::string& at, const net::ClientMessage& request, const Accept& accept,
                                  Clock::time_point deadline) {
  Exchange out;
  if (interrupted()) {
    out.error = "the client is closing";
    return out;
  }
  Connection& c = connection(at);
  if (!c.usable()) {
    c.close();
    if (Status s = c.connect(deadline); !s) {
      out.error = s.error().message;
      drop(at);
      return out;
    }
  }
  if (Status s = c.send(request, deadline); !s) {
    out.error = s.error().message;
    drop(at);
    return out;
  }
  out.sent_in_full = true;
  Result<net::ClientMessage> m = c.receive(accept, deadline);
  if (!m) {
    out.error = m.error().message;
    drop(at);
    return out;
  }
  out.reply = std::move(*m);
  return out;
}

}  // namespace synod::client
