#include "kv/kv_store.h"

#include <cassert>
#include <limits>
#include <optional>
#include <utility>
#include <variant>

#include "kv/kv_snapshot.h"

namespace synod::kv {
namespace {

KvEntry to_entry(const Bytes& key, const KvRecord& r) {
  return KvEntry{key, r.value, r.version, r.create_revision, r.mod_revision};
}

// A key's version for a condition: 0 when the key does not exist.
template <class Iterator, class Keys>
std::uint64_t version_of(Iterator it, const Keys& keys) {
  return it == keys.end() ? 0 : it->second.version;
}

}  // namespace

// --- StateMachine

std::string KvStateMachine::apply(std::string_view op, OpPosition /*at*/) {
  Result<KvRequest> request = decode_request(op);
  if (!request) return encode(invalid(request.error().message));
  return encode(execute(*request));
}

std::string KvStateMachine::query(std::string_view op) const {
  Result<KvRequest> request = decode_request(op);
  if (!request) return encode(invalid(request.error().message));
  return encode(read(*request));
}

void KvStateMachine::write_snapshot(std::ostream& out) const { kv::write_snapshot(out, state_); }

bool KvStateMachine::restore_snapshot(std::istream& in) {
  Result<KvState> restored = kv::read_snapshot(in);
  if (!restored) {
    restore_error_ = restored.error().message;
    return false;
  }
  state_ = std::move(*restored);
  restore_error_.clear();
  return true;
}

// --- Typed API

KvReply KvStateMachine::execute(const KvRequest& request) {
  if (Status s = validate(request); !s) return invalid(s.error().message);
  struct Visitor {
    KvStateMachine& m;
    KvReply operator()(const Put& r) const { return m.put(r); }
    KvReply operator()(const Get& r) const { return m.get(r); }
    KvReply operator()(const Delete& r) const { return m.erase(r); }
    KvReply operator()(const List& r) const { return m.list(r); }
    KvReply operator()(const Cas& r) const { return m.cas(r); }
  };
  return std::visit(Visitor{*this}, request);
}

KvReply KvStateMachine::read(const KvRequest& request) const {
  if (!is_read_only(request)) {
    return invalid(std::string(op_name(request)) +
                   " changes the store: send it as an op to be ordered (apply), not as a query");
  }
  if (Status s = validate(request); !s) return invalid(s.error().message);
  if (const Get* g = std::get_if<Get>(&request)) return get(*g);
  return list(std::get<List>(request));
}

// --- The ops

KvReply KvStateMachine::put(const Put& r) {
  auto it = state_.keys.find(r.key);
  if (r.expected_version && *r.expected_version != version_of(it, state_.keys)) {
    KvReply failed = reply(KvStatus::kConditionFailed);
    if (it != state_.keys.end()) failed.entry = to_entry(it->first, it->second);
    return failed;
  }
  it = put_record(it, r.key, r.value);
  KvReply ok = reply(KvStatus::kOk);
  ok.entry = to_entry(it->first, it->second);
  return ok;
}

KvReply KvStateMachine::get(const Get& r) const {
  const auto it = state_.keys.find(r.key);
  if (it == state_.keys.end()) return reply(KvStatus::kNotFound);
  KvReply ok = reply(KvStatus::kOk);
  ok.entry = to_entry(it->first, it->second);
  return ok;
}

// The condition first, as for a put: a missing key has version 0, so a
// delete expecting 0 of a missing key passes it and then finds nothing.
KvReply KvStateMachine::erase(const Delete& r) {
  const auto it = state_.keys.find(r.key);
  if (r.expected_version && *r.expected_version != version_of(it, state_.keys)) {
    KvReply failed = reply(KvStatus::kConditionFailed);
    if (it != state_.keys.end()) failed.entry = to_entry(it->first, it->second);
    return failed;
  }
  if (it == state_.keys.end()) return reply(KvStatus::kNotFound);
  KvEntry before = to_entry(it->first, it->second);
  erase_record(it);
  KvReply ok = reply(KvStatus::kOk);  // after erase_record: the revision of the delete
  ok.entry = std::move(before);
  return ok;
}

// Walks the prefix's range in key order and stops at the first entry that
// would pass the count or the byte bound; `more` says whether one was left.
KvReply KvStateMachine::list(const List& r) const {
  const std::uint64_t limit = effective_list_limit(r.limit);
  KvReply ok = reply(KvStatus::kOk);
  std::size_t bytes = 0;
  for (auto it = state_.keys.lower_bound(r.prefix);
       it != state_.keys.end() && it->first.starts_with(r.prefix); ++it) {
    const std::size_t entry_bytes = it->first.size() + it->second.value.size();
    if (ok.entries.size() == limit || bytes + entry_bytes > kListReplyBytesMax) {
      ok.more = true;
      break;
    }
    bytes += entry_bytes;
    ok.entries.push_back(to_entry(it->first, it->second));
  }
  // The loop runs at most limit + 1 times; a list always makes progress
  // (kv_ops.h: any one entry fits the byte bound).
  assert(ok.entries.size() <= limit && bytes <= kListReplyBytesMax);
  assert(!ok.more || !ok.entries.empty());
  return ok;
}

KvReply KvStateMachine::cas(const Cas& r) {
  auto it = state_.keys.find(r.key);
  if (it == state_.keys.end()) return reply(KvStatus::kNotFound);
  if (it->second.value != r.expected_value) {
    KvReply failed = reply(KvStatus::kConditionFailed);
    failed.entry = to_entry(it->first, it->second);
    return failed;
  }
  it = put_record(it, r.key, r.new_value);
  KvReply ok = reply(KvStatus::kOk);
  ok.entry = to_entry(it->first, it->second);
  return ok;
}

// --- The two writers

KvStateMachine::Keys::iterator KvStateMachine::put_record(Keys::iterator at, BytesView key, Bytes value) {
  // 2^64 changes would take centuries at a million per second.
  assert(state_.revision < std::numeric_limits<std::uint64_t>::max());
  const std::uint64_t revision = ++state_.revision;
  if (at == state_.keys.end()) {
    return state_.keys.emplace_hint(at, Bytes(key), KvRecord{std::move(value), 1, revision, revision});
  }
  assert(at->first == key);
  KvRecord& record = at->second;
  record.value = std::move(value);
  ++record.version;
  record.mod_revision = revision;
  return at;
}

void KvStateMachine::erase_record(Keys::iterator at) {
  assert(at != state_.keys.end());
  assert(state_.revision < std::numeric_limits<std::uint64_t>::max());
  ++state_.revision;
  state_.keys.erase(at);
}

// --- Replies

KvReply KvStateMachine::reply(KvStatus status) const {
  KvReply r;
  r.status = status;
  r.revision = state_.revision;
  return r;
}

// The message is cut to the bound the reply decoder enforces.
KvReply KvStateMachine::invalid(std::string message) const {
  KvReply r = reply(KvStatus::kInvalid);
  if (message.size() > kMessageBytesMax) message.resize(kMessageBytesMax);
  r.message = std::move(message);
  return r;
}

}  // namespace synod::kv
