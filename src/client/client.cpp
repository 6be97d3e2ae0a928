// synod::Client: two lanes (writes, reads), each a thread with its own
// connections that carries out its calls one at a time, plus admin calls on
// the caller's thread. The rules of a call are in call_policy.h; this file
// drives them.

#include "synod/client.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <variant>

#include "client/call_policy.h"
#include "client/connection.h"
#include "net/endpoint.h"

namespace synod {

using client::Clock;
using std::chrono::milliseconds;

namespace {

// Attempts of one call; its deadline ends the loop long before.
constexpr int kAttemptsMax = 100'000;

LogPosition to_public(const Viewstamp& vs) { return LogPosition{vs.vid, vs.seq}; }

std::string millis(milliseconds ms) { return std::to_string(ms.count()) + " ms"; }

}  // namespace

const char* to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk: return "ok";
    case Outcome::kOutcomeUnknown: return "outcome_unknown";
    case Outcome::kUnavailable: return "unavailable";
    case Outcome::kSessionExpired: return "session_expired";
    case Outcome::kRejected: return "rejected";
  }
  return "?";
}

const char* to_string(MemberRole role) {
  switch (role) {
    case MemberRole::kPrimary: return "primary";
    case MemberRole::kBackup: return "backup";
    case MemberRole::kLearner: return "learner";
    case MemberRole::kFrozen: return "frozen";
    case MemberRole::kRebuilding: return "rebuilding";
  }
  return "?";
}

namespace {

// What the lanes and admin calls share.
struct Shared {
  std::vector<std::string> endpoints;
  ClientOptions options;
  std::atomic<std::uint64_t> client_id{0};
  std::atomic<std::uint64_t> cluster{0};
  // Writes and reads draw their numbers from one counter: the node matches
  // an answer to a waiting request by (client id, number), so the two kinds
  // must never share a number. Writes still number upward, as sessions need.
  std::atomic<std::uint64_t> next_number{1};
  std::atomic<std::uint64_t> next_admin_id{1};
  std::atomic<std::uint64_t> next_seed{1};

  mutable std::mutex mu;
  std::string primary_address;  // the latest primary any answer named; a hint

  std::string primary_hint() const {
    std::lock_guard lock(mu);
    return primary_address;
  }
  void learn_primary(const std::string& address) {
    if (address.empty()) return;
    std::lock_guard lock(mu);
    primary_address = address;
  }
  // kSessionExpired: later writes go out under a fresh session. Only the
  // first lane to see the expiry of `old_id` replaces it.
  void renew_session(std::uint64_t old_id) {
    client_id.compare_exchange_strong(old_id, client::random_nonzero_u64());
  }
  std::uint64_t seed() { return options.seed == 0 ? client::random_nonzero_u64() : options.seed + next_seed++; }
};

struct Call {
  bool write = false;
  std::string op;
  bool allow_stale = false;
  Clock::time_point deadline;
  milliseconds timeout{0};
  Client::Done done;
};

CallResult ended(Outcome outcome, std::string message) {
  CallResult r;
  r.outcome = outcome;
  r.message = std::move(message);
  return r;
}

// Carries out one kind of call (writes, or reads) one at a time, in order.
class Lane {
 public:
  Lane(Shared& shared, const char* kind) : shared_(shared), kind_(kind), pool_(shared.cluster) {
    thread_ = std::thread([this] { run(); });
  }

  ~Lane() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    pool_.interrupt();
    thread_.join();
  }

  // False when the queue is full (the call was not taken).
  bool enqueue(Call call) {
    {
      std::lock_guard lock(mu_);
      if (stopping_ || queue_.size() >= shared_.options.queued_calls_max) return false;
      queue_.push_back(std::move(call));
    }
    wake_.notify_one();
    return true;
  }

 private:
  void run() {
    for (;;) {
      Call call;
      {
        std::unique_lock lock(mu_);
        wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) break;
        call = std::move(queue_.front());
        queue_.pop_front();
      }
      call.done(carry_out(call));
    }
    // Closing: what never started was never sent.
    std::deque<Call> left;
    {
      std::lock_guard lock(mu_);
      left.swap(queue_);
    }
    for (Call& call : left) call.done(ended(Outcome::kUnavailable, "the client was closed; nothing was sent"));
  }

  // Sleeps up to `pause`, never past the deadline; false when closing.
  bool pause(milliseconds pause_ms, Clock::time_point deadline) {
    std::unique_lock lock(mu_);
    wake_.wait_until(lock, std::min(deadline, Clock::now() + pause_ms), [&] { return stopping_; });
    return !stopping_;
  }

  bool closing() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  CallResult carry_out(const Call& call);

  Shared& shared_;
  const char* kind_;
  client::ConnectionPool pool_;  // only this lane's thread uses it
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Call> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

// One write or read, to its end: the loop of call_policy.h with real
// attempts. Every turn makes one attempt or pauses; the deadline ends it.
CallResult Lane::carry_out(const Call& call) {
  if (Clock::now() >= call.deadline) {
    return ended(Outcome::kUnavailable, std::string("out of time after ") + millis(call.timeout) +
                                            " waiting behind earlier " + kind_ + " of this client; nothing was sent");
  }
  const std::uint64_t client_id = shared_.client_id.load();
  const std::uint64_t number = shared_.next_number++;
  net::ClientMessage request;
  if (call.write) {
    request = net::ClientOpRequest{client_id, number, call.op};
  } else {
    request = net::ClientReadRequest{client_id, number, call.op, call.allow_stale};
  }
  const bool read = !call.write;
  const client::Accept accept = [&](const net::ClientMessage& m) {
    const auto* r = std::get_if<net::ClientReply>(&m);
    return r != nullptr && r->client_id == client_id && r->request_no == number && r->read == read;
  };

  client::TargetPlanner planner(shared_.endpoints, shared_.primary_hint());
  client::Backoff backoff(client::kBackoffInitial, client::kBackoffMax, shared_.seed());
  CallResult result;  // the last answer's view and primary, whatever comes
  bool sent_in_full_once = false;
  std::string last = "no attempt was made";
  for (int attempt = 0; attempt < kAttemptsMax && Clock::now() < call.deadline && !closing(); ++attempt) {
    const std::string at = planner.next();
    const auto attempt_deadline = std::min(call.deadline, Clock::now() + shared_.options.attempt_timeout);
    client::Exchange x = pool_.exchange(at, request, accept, attempt_deadline);
    sent_in_full_once = sent_in_full_once || x.sent_in_full;
    if (!x.reply) {
      last = x.error;
      if (planner.on_failure(at) && !pause(backoff.next(), call.deadline)) break;
      continue;
    }
    planner.on_answer();
    const net::ClientReply& reply = std::get<net::ClientReply>(*x.reply);
    result.view = reply.view;
    result.primary = reply.primary;
    result.primary_address = reply.primary_address;
    result.answered_by = at;
    shared_.learn_primary(reply.primary_address);
    last = std::string(net::to_string(reply.status)) + " from " + at + (reply.message.empty() ? "" : ": ") +
           reply.message;
    const client::Verdict verdict = client::judge(reply.status, reply.message);
    switch (verdict.step) {
      case client::Step::kDone:
        result.outcome = verdict.outcome;
        if (verdict.outcome == Outcome::kOk) {
          result.payload = reply.payload;
          result.as_of = to_public(reply.as_of);
          if (!call.allow_stale) shared_.learn_primary(at);  // only the primary answers these
        } else {
          result.message = last;
          if (verdict.outcome == Outcome::kSessionExpired) shared_.renew_session(client_id);
        }
        return result;
      case client::Step::kRedirect:
        if (!planner.on_redirect(at, reply.primary_address) && !pause(backoff.next(), call.deadline)) break;
        continue;
      case client::Step::kRetryLater:
        if (!pause(backoff.next(), call.deadline)) break;
        continue;
      case client::Step::kTryElsewhere:
        if (planner.on_failure(at) && !pause(backoff.next(), call.deadline)) break;
        continue;
    }
    break;  // closing
  }
  result.outcome = client::out_of_time_outcome(call.write, sent_in_full_once);
  const std::string what = closing() ? "the client was closed" : "out of time after " + millis(call.timeout);
  if (result.outcome == Outcome::kOutcomeUnknown) {
    result.message = what + "; the write was sent and may or may not have applied; last: " + last;
  } else if (call.write) {
    result.message = what + "; the write reached no node; last: " + last;
  } else {
    result.message = what + "; last: " + last;
  }
  return result;
}

}  // namespace

struct Client::Impl {
  Shared shared;
  std::unique_ptr<Lane> writes;
  std::unique_ptr<Lane> reads;

  milliseconds timeout_of(const Timeout& t) const { return t.value_or(shared.options.default_timeout); }

  void start(bool write, std::string op, bool allow_stale, const Timeout& timeout, Done done) {
    Call call;
    call.write = write;
    call.op = std::move(op);
    call.allow_stale = allow_stale;
    call.timeout = std::max(milliseconds(0), timeout_of(timeout));
    call.deadline = Clock::now() + call.timeout;
    call.done = std::move(done);
    Done keep = call.done;
    if (!(write ? writes : reads)->enqueue(std::move(call))) {
      keep(ended(Outcome::kUnavailable, std::string("this client already has ") +
                                            std::to_string(shared.options.queued_calls_max) + " " +
                                            (write ? "writes" : "reads") + " queued; nothing was sent"));
    }
  }

  AdminResult admin_at(const std::string& at, net::AdminRequest request, const Timeout& timeout);
  AdminResult admin_at_primary(net::AdminRequest request, const Timeout& timeout);
};

namespace {

AdminResult admin_result(const net::AdminReply& reply, const std::string& at) {
  AdminResult r;
  r.view = reply.view;
  r.primary = reply.primary;
  r.primary_address = reply.primary_address;
  r.answered_by = at;
  r.message = reply.message;
  for (const net::MemberInfo& m : reply.members) {
    r.members.push_back(MemberInfo{m.id, m.address, client::to_public(m.role)});
  }
  if (reply.node) {
    r.node = NodeStatus{reply.node->id, client::to_public(reply.node->role), reply.node->view,
                        to_public(reply.node->last), to_public(reply.node->commit)};
  }
  const client::Verdict verdict = client::judge(reply.status, reply.message);
  if (verdict.step == client::Step::kDone) {
    r.outcome = verdict.outcome;
  } else {
    // Redirects and "busy" are for the caller to act on; a one-node call
    // reports them as the node's refusal.
    r.outcome = Outcome::kRejected;
    r.message = std::string(net::to_string(reply.status)) + (reply.message.empty() ? "" : ": ") + reply.message;
  }
  return r;
}

AdminResult refused(std::string why) {
  AdminResult r;
  r.outcome = Outcome::kRejected;
  r.message = std::move(why);
  return r;
}

client::Accept admin_accept(std::uint64_t id) {
  return [id](const net::ClientMessage& m) {
    const auto* r = std::get_if<net::AdminReply>(&m);
    return r != nullptr && r->request_id == id;
  };
}

}  // namespace

// One request to one node; no retries.
AdminResult Client::Impl::admin_at(const std::string& at, net::AdminRequest request, const Timeout& timeout) {
  const milliseconds budget = timeout_of(timeout);
  request.request_id = shared.next_admin_id++;
  client::ConnectionPool pool(shared.cluster);
  client::Exchange x = pool.exchange(at, request, admin_accept(request.request_id), Clock::now() + budget);
  if (!x.reply) {
    AdminResult r;
    r.outcome = Outcome::kUnavailable;
    r.message = x.error;
    r.answered_by.clear();
    return r;
  }
  const net::AdminReply& reply = std::get<net::AdminReply>(*x.reply);
  shared.learn_primary(reply.primary_address);
  return admin_result(reply, at);
}

// A request for the primary: follows redirects, retries "busy", and tries
// other nodes while nothing has been sent in full. Once a request left whole
// and no answer came, it is not repeated (admin requests have no session
// number): the outcome is unknown.
AdminResult Client::Impl::admin_at_primary(net::AdminRequest request, const Timeout& timeout) {
  const milliseconds budget = timeout_of(timeout);
  const auto deadline = Clock::now() + budget;
  client::TargetPlanner planner(shared.endpoints, shared.primary_hint());
  client::Backoff backoff(client::kBackoffInitial, client::kBackoffMax, shared.seed());
  client::ConnectionPool pool(shared.cluster);
  auto sleep = [&](milliseconds ms) { std::this_thread::sleep_for(std::min<Clock::duration>(ms, deadline - Clock::now())); };
  std::string last = "no attempt was made";
  for (int attempt = 0; attempt < kAttemptsMax && Clock::now() < deadline; ++attempt) {
    const std::string at = planner.next();
    request.request_id = shared.next_admin_id++;
    const auto attempt_deadline = std::min(deadline, Clock::now() + shared.options.attempt_timeout);
    client::Exchange x = pool.exchange(at, request, admin_accept(request.request_id), attempt_deadline);
    if (!x.reply && x.sent_in_full && request.kind != net::AdminKind::kListMembers) {
      AdminResult r;
      r.outcome = Outcome::kOutcomeUnknown;
      r.message = "sent to " + at + " but no answer came (" + x.error +
                  "); the change may or may not have started: check the member list";
      return r;
    }
    if (!x.reply) {
      last = x.error;
      if (planner.on_failure(at)) sleep(backoff.next());
      continue;
    }
    planner.on_answer();
    const net::AdminReply& reply = std::get<net::AdminReply>(*x.reply);
    shared.learn_primary(reply.primary_address);
    last = std::string(net::to_string(reply.status)) + " from " + at + (reply.message.empty() ? "" : ": ") +
           reply.message;
    const client::Verdict verdict = client::judge(reply.status, reply.message);
    switch (verdict.step) {
      case client::Step::kDone: {
        AdminResult r = admin_result(reply, at);
        if (r.outcome != Outcome::kOk) r.message = last;
        return r;
      }
      case client::Step::kRedirect:
        if (!planner.on_redirect(at, reply.primary_address)) sleep(backoff.next());
        break;
      case client::Step::kRetryLater:
        sleep(backoff.next());
        break;
      case client::Step::kTryElsewhere:
        if (planner.on_failure(at)) sleep(backoff.next());
        break;
    }
  }
  AdminResult r;
  r.outcome = Outcome::kUnavailable;
  r.message = "out of time after " + millis(budget) + "; nothing was done; last: " + last;
  return r;
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() {
  // Each lane finishes (or abandons) its call in flight and ends its queue.
  impl_->writes.reset();
  impl_->reads.reset();
}

Client::Created Client::create(std::vector<std::string> endpoints, ClientOptions options) {
  if (endpoints.empty()) return Created{nullptr, "no endpoints: give at least one \"host:port\" of a node"};
  if (options.default_timeout < milliseconds(1)) return Created{nullptr, "default_timeout must be at least 1 ms"};
  if (options.attempt_timeout < milliseconds(1)) return Created{nullptr, "attempt_timeout must be at least 1 ms"};
  if (options.queued_calls_max == 0) return Created{nullptr, "queued_calls_max must be at least 1"};
  auto impl = std::make_unique<Impl>();
  for (const std::string& e : endpoints) {
    Result<net::Endpoint> parsed = net::parse_endpoint(e);
    if (!parsed) return Created{nullptr, "endpoint \"" + e + "\": " + parsed.error().message};
    // The spelling nodes use in their answers, so that a redirect to a
    // given endpoint is recognised as one.
    const std::string canonical = net::to_string(*parsed);
    if (std::find(impl->shared.endpoints.begin(), impl->shared.endpoints.end(), canonical) ==
        impl->shared.endpoints.end()) {
      impl->shared.endpoints.push_back(canonical);
    }
  }
  impl->shared.options = options;
  impl->shared.client_id = options.client_id != 0 ? options.client_id : client::random_nonzero_u64();
  impl->shared.cluster = options.cluster_id;
  impl->writes = std::make_unique<Lane>(impl->shared, "writes");
  impl->reads = std::make_unique<Lane>(impl->shared, "reads");
  return Created{std::unique_ptr<Client>(new Client(std::move(impl))), ""};
}

Client::Created Client::connect(std::vector<std::string> endpoints, ClientOptions options, Timeout timeout) {
  Created created = create(std::move(endpoints), options);
  if (!created) return created;
  AdminResult members = created.client->list_members(timeout);
  if (!members.ok()) return Created{nullptr, "no node answered: " + members.message};
  return created;
}

CallResult Client::submit(std::string op, Timeout timeout) { return submit_async(std::move(op), timeout).get(); }

std::future<CallResult> Client::submit_async(std::string op, Timeout timeout) {
  auto promise = std::make_shared<std::promise<CallResult>>();
  std::future<CallResult> future = promise->get_future();
  submit_async(std::move(op), timeout, [promise](CallResult r) { promise->set_value(std::move(r)); });
  return future;
}

void Client::submit_async(std::string op, Timeout timeout, Done done) {
  impl_->start(true, std::move(op), false, timeout, std::move(done));
}

CallResult Client::read(std::string op, bool allow_stale, Timeout timeout) {
  return read_async(std::move(op), allow_stale, timeout).get();
}

std::future<CallResult> Client::read_async(std::string op, bool allow_stale, Timeout timeout) {
  auto promise = std::make_shared<std::promise<CallResult>>();
  std::future<CallResult> future = promise->get_future();
  read_async(std::move(op), allow_stale, timeout, [promise](CallResult r) { promise->set_value(std::move(r)); });
  return future;
}

void Client::read_async(std::string op, bool allow_stale, Timeout timeout, Done done) {
  impl_->start(false, std::move(op), allow_stale, timeout, std::move(done));
}

AdminResult Client::status(const std::string& endpoint, Timeout timeout) {
  Result<net::Endpoint> parsed = net::parse_endpoint(endpoint);
  if (!parsed) return refused("endpoint \"" + endpoint + "\": " + parsed.error().message);
  net::AdminRequest request;
  request.kind = net::AdminKind::kStatus;
  return impl_->admin_at(net::to_string(*parsed), request, timeout);
}

AdminResult Client::list_members(Timeout timeout) {
  const auto deadline = Clock::now() + impl_->timeout_of(timeout);
  net::AdminRequest request;
  request.kind = net::AdminKind::kListMembers;
  AdminResult first = impl_->admin_at_primary(request, timeout);
  // Any node answers with its view; the primary's is the newest, and only it
  // knows a learner being added. Ask it too when someone else answered.
  if (!first.ok() || first.primary_address.empty() || first.primary_address == first.answered_by) return first;
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
  if (left <= milliseconds(0)) return first;
  AdminResult at_primary = impl_->admin_at(first.primary_address, request, left);
  return at_primary.ok() ? at_primary : first;
}

AdminResult Client::add_member(const std::string& id, const std::string& address, Timeout timeout) {
  net::AdminRequest request;
  request.kind = net::AdminKind::kAddMember;
  request.node = id;
  request.address = address;
  return impl_->admin_at_primary(request, timeout);
}

AdminResult Client::cancel_add(const std::string& id, Timeout timeout) {
  net::AdminRequest request;
  request.kind = net::AdminKind::kCancelAdd;
  request.node = id;
  return impl_->admin_at_primary(request, timeout);
}

AdminResult Client::remove_member(const std::string& id, Timeout timeout) {
  net::AdminRequest request;
  request.kind = net::AdminKind::kRemoveMember;
  request.node = id;
  return impl_->admin_at_primary(request, timeout);
}

AdminResult Client::transfer_primary(const std::string& id, Timeout timeout) {
  net::AdminRequest request;
  request.kind = net::AdminKind::kTransferPrimary;
  request.node = id;
  return impl_->admin_at_primary(request, timeout);
}

AdminResult Client::snapshot_now(const std::string& endpoint, Timeout timeout) {
  Result<net::Endpoint> parsed = net::parse_endpoint(endpoint);
  if (!parsed) return refused("endpoint \"" + endpoint + "\": " + parsed.error().message);
  net::AdminRequest request;
  request.kind = net::AdminKind::kSnapshotNow;
  return impl_->admin_at(net::to_string(*parsed), request, timeout);
}

std::uint64_t Client::client_id() const { return impl_->shared.client_id.load(); }
std::uint64_t Client::cluster_id() const { return impl_->shared.cluster.load(); }
const std::vector<std::string>& Client::endpoints() const { return impl_->shared.endpoints; }

}  // namespace synod
