#pragma once
// Typed calls to synod's key-value store, on top of synod::Client: the ops
// are encoded here (in the library), the results come back as the structs
// below. Only the standard library and synod/client.h.
//
// The store follows etcd's rules: every key has a version (1 when created,
// +1 per change), the store a revision that grows by 1 with every change.
// A condition on a version treats a missing key as version 0: expected
// version 0 means "only if the key does not exist".
//
// A result has two layers. `outcome` says whether the cluster answered (see
// client.h: kOk, or kOutcomeUnknown for a write that may have applied,
// kUnavailable, kSessionExpired, kRejected). When it did, `status` says what
// the store made of the op. An op the store would refuse as kInvalid (an
// empty key, a key or value over the store's limits) is refused here with
// kOk / kInvalid and nothing is sent. Note that a node also refuses ops
// larger than its op size limit (64 KiB by default) with kRejected.

#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "synod/client.h"

namespace synod {

enum class KvStatus : std::uint8_t {
  kOk = 0,
  kNotFound,         // the key does not exist (get, del, cas)
  kConditionFailed,  // the expected version or value did not match; nothing changed
  kInvalid,          // the op is malformed or out of bounds (`message` says how); nothing changed
};
// "ok", "not_found", "condition_failed", "invalid".
const char* to_string(KvStatus status);

// One key as the store holds it. Keys and values are bytes.
struct KeyValue {
  std::string key;
  std::string value;
  std::uint64_t version = 0;          // 1 on create, +1 per change
  std::uint64_t create_revision = 0;  // the store revision that created it
  std::uint64_t mod_revision = 0;     // the store revision that last changed it
  bool operator==(const KeyValue&) const = default;
};

struct KvResult {
  Outcome outcome = Outcome::kUnavailable;
  KvStatus status = KvStatus::kInvalid;  // meaningful when outcome is kOk
  std::string message;                   // why, when not ok
  std::uint64_t revision = 0;            // the store's revision after the op (a read: at the read)
  // put kOk: the key as written; put/del kConditionFailed: the key as it is
  // (none if absent); get kOk: the key; del kOk: the key as it was; cas kOk:
  // as written; cas kConditionFailed: as it is. Otherwise none.
  std::optional<KeyValue> entry;
  std::vector<KeyValue> entries;         // list: in key order
  bool more = false;                     // list: more keys match than were returned
  LogPosition as_of;                     // see CallResult::as_of
  std::string primary;                   // the primary named by the last answer
  // The call went through and the store did what was asked.
  bool ok() const { return outcome == Outcome::kOk && status == KvStatus::kOk; }
};

// How a read may be answered.
enum class ReadConsistency : std::uint8_t {
  kLinearizable = 0,  // by the primary, reflecting every write acknowledged before the call
  kStale,             // by any node, from what it has applied (as_of says how far)
};

class KvClient {
 public:
  struct Created;

  // As Client::create: nothing is sent until the first call.
  static Created create(std::vector<std::string> endpoints, ClientOptions options = {});
  explicit KvClient(std::unique_ptr<Client> client);
  ~KvClient();
  KvClient(const KvClient&) = delete;
  KvClient& operator=(const KvClient&) = delete;

  using Timeout = Client::Timeout;

  // Writes `value` under `key`; with expected_version, only if the key's
  // version is that (0: only if absent), else kConditionFailed.
  KvResult put(const std::string& key, const std::string& value,
               std::optional<std::uint64_t> expected_version = std::nullopt, Timeout timeout = std::nullopt);
  // The key, or kNotFound.
  KvResult get(const std::string& key, ReadConsistency consistency = ReadConsistency::kLinearizable,
               Timeout timeout = std::nullopt);
  // Removes `key` (kNotFound when absent); with expected_version, only if
  // the key's version is that.
  KvResult del(const std::string& key, std::optional<std::uint64_t> expected_version = std::nullopt,
               Timeout timeout = std::nullopt);
  // Replaces the value of `key` with `new_value` only if it is now
  // `expected_value` (else kConditionFailed); kNotFound when absent.
  KvResult cas(const std::string& key, const std::string& expected_value, const std::string& new_value,
               Timeout timeout = std::nullopt);
  // The keys starting with `prefix` (all when empty), in byte order, at most
  // `limit` (0: the store's default of 1000; it answers at most 10,000 and
  // about 2 MiB at once; `more` says when there is more).
  KvResult list(const std::string& prefix, std::uint64_t limit = 0,
                ReadConsistency consistency = ReadConsistency::kLinearizable, Timeout timeout = std::nullopt);

  // Non-blocking forms: the future is ready when the blocking call would return.
  std::future<KvResult> put_async(const std::string& key, const std::string& value,
                                  std::optional<std::uint64_t> expected_version = std::nullopt,
                                  Timeout timeout = std::nullopt);
  std::future<KvResult> get_async(const std::string& key, ReadConsistency consistency = ReadConsistency::kLinearizable,
                                  Timeout timeout = std::nullopt);

  // The underlying client, for admin calls.
  Client& client() { return *client_; }

 private:
  std::unique_ptr<Client> client_;
};

struct KvClient::Created {
  std::unique_ptr<KvClient> client;  // null on failure
  std::string error;
  explicit operator bool() const { return client != nullptr; }
};

}  // namespace synod
