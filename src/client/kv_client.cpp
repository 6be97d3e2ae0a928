#include "synod/kv_client.h"

#include <memory>
#include <utility>

#include "kv/kv_ops.h"

namespace synod {
namespace {

KeyValue to_public(const kv::KvEntry& e) {
  return KeyValue{e.key, e.value, e.version, e.create_revision, e.mod_revision};
}

KvStatus to_public(kv::KvStatus s) {
  switch (s) {
    case kv::KvStatus::kOk: return KvStatus::kOk;
    case kv::KvStatus::kNotFound: return KvStatus::kNotFound;
    case kv::KvStatus::kConditionFailed: return KvStatus::kConditionFailed;
    case kv::KvStatus::kInvalid: return KvStatus::kInvalid;
  }
  return KvStatus::kInvalid;  // unreachable: the decoder checks the range
}

// The call's end, with the store's reply decoded when it answered.
KvResult to_kv_result(const CallResult& call) {
  KvResult r;
  r.outcome = call.outcome;
  r.message = call.message;
  r.as_of = call.as_of;
  r.primary = call.primary;
  if (call.outcome != Outcome::kOk) return r;
  Result<kv::KvReply> reply = kv::decode_reply(call.payload);
  if (!reply) {
    // The node answered something that is no KV reply: not the KV service.
    r.outcome = Outcome::kRejected;
    r.message = "the answer from " + call.answered_by + " is not a key-value reply (" + reply.error().message +
                "); is it a synod KV node?";
    return r;
  }
  r.status = to_public(reply->status);
  if (!reply->message.empty()) r.message = reply->message;
  r.revision = reply->revision;
  if (reply->entry) r.entry = to_public(*reply->entry);
  for (const kv::KvEntry& e : reply->entries) r.entries.push_back(to_public(e));
  r.more = reply->more;
  return r;
}

// A request that the store would refuse is refused here, with nothing sent.
std::optional<KvResult> refuse_invalid(const kv::KvRequest& request) {
  Status s = kv::validate(request);
  if (s) return std::nullopt;
  KvResult r;
  r.outcome = Outcome::kOk;  // nothing was sent, and nothing can happen
  r.status = KvStatus::kInvalid;
  r.message = s.error().message;
  return r;
}

std::future<KvResult> ready(KvResult r) {
  std::promise<KvResult> p;
  p.set_value(std::move(r));
  return p.get_future();
}

// Starts the call on the client's lane; the future is fulfilled from it.
std::future<KvResult> start(Client& client, const kv::KvRequest& request, ReadConsistency consistency,
                            Client::Timeout timeout) {
  if (std::optional<KvResult> invalid = refuse_invalid(request)) return ready(std::move(*invalid));
  auto promise = std::make_shared<std::promise<KvResult>>();
  std::future<KvResult> future = promise->get_future();
  auto done = [promise](CallResult call) { promise->set_value(to_kv_result(call)); };
  if (kv::is_read_only(request)) {
    client.read_async(kv::encode(request), consistency == ReadConsistency::kStale, timeout, std::move(done));
  } else {
    client.submit_async(kv::encode(request), timeout, std::move(done));
  }
  return future;
}

}  // namespace

const char* to_string(KvStatus status) {
  switch (status) {
    case KvStatus::kOk: return "ok";
    case KvStatus::kNotFound: return "not_found";
    case KvStatus::kConditionFailed: return "condition_failed";
    case KvStatus::kInvalid: return "invalid";
  }
  return "?";
}

KvClient::Created KvClient::create(std::vector<std::string> endpoints, ClientOptions options) {
  Client::Created c = Client::create(std::move(endpoints), options);
  if (!c) return Created{nullptr, c.error};
  return Created{std::make_unique<KvClient>(std::move(c.client)), ""};
}

KvClient::KvClient(std::unique_ptr<Client> client) : client_(std::move(client)) {}
KvClient::~KvClient() = default;

KvResult KvClient::put(const std::string& key, const std::string& value,
                       std::optional<std::uint64_t> expected_version, Timeout timeout) {
  return put_async(key, value, expected_version, timeout).get();
}

std::future<KvResult> KvClient::put_async(const std::string& key, const std::string& value,
                                          std::optional<std::uint64_t> expected_version, Timeout timeout) {
  return start(*client_, kv::Put{key, value, expected_version}, ReadConsistency::kLinearizable, timeout);
}

KvResult KvClient::get(const std::string& key, ReadConsistency consistency, Timeout timeout) {
  return get_async(key, consistency, timeout).get();
}

std::future<KvResult> KvClient::get_async(const std::string& key, ReadConsistency consistency, Timeout timeout) {
  return start(*client_, kv::Get{key}, consistency, timeout);
}

KvResult KvClient::del(const std::string& key, std::optional<std::uint64_t> expected_version, Timeout timeout) {
  return start(*client_, kv::Delete{key, expected_version}, ReadConsistency::kLinearizable, timeout).get();
}

KvResult KvClient::cas(const std::string& key, const std::string& expected_value, const std::string& new_value,
                       Timeout timeout) {
  return start(*client_, kv::Cas{key, expected_value, new_value}, ReadConsistency::kLinearizable, timeout).get();
}

KvResult KvClient::list(const std::string& prefix, std::uint64_t limit, ReadConsistency consistency,
                        Timeout timeout) {
  return start(*client_, kv::List{prefix, limit}, consistency, timeout).get();
}

}  // namespace synod
