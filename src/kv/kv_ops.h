#pragma once
// The operations of the key-value store and its replies: plain values here,
// their hardened codec in kv_codec.cpp (Boost stays there).
//
// Keys and values are bytes. Every key has a version (1 when created, +1 per
// modification) and the store a revision that grows by exactly 1 with every
// change: a put, a delete that deleted something, a successful cas. A read or
// a failed condition changes nothing, the revision included. Deleting a key
// and creating it again restarts its version at 1 with a new create_revision.
// These are etcd's rules; a client that knows etcd knows them.
//
// Conditions name a key's version, where a missing key has version 0 (as in
// etcd): `expected_version = 0` means "only if the key does not exist", any
// other value "only if the key exists at exactly this version". The condition
// is checked first; a delete whose condition holds but that finds no key
// answers kNotFound.
//
// Limits, so that one encoded op fits in a log entry (net::kOpBytesMax, 1 MiB)
// and one encoded reply in a client reply's payload
// (net::kClientPayloadBytesMax, 3 MiB); kv_codec.cpp checks both at compile
// time. validate() and the decoder refuse what exceeds them.

#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace synod::kv {

// A key is 1 to 4 KiB.
inline constexpr std::size_t kKeyBytesMax = std::size_t{4} << 10;
// 1 MiB less 8 KiB: room for the longest key and the fields around them in
// one op. A cas carries two values; together they must fit in this bound.
inline constexpr std::size_t kValueBytesMax = (std::size_t{1} << 20) - (std::size_t{8} << 10);
// A list answers at most this many entries (limit 0 asks for the default; a
// larger limit is lowered to the maximum, and `more` says there is more).
inline constexpr std::uint64_t kListLimitDefault = 1000;
inline constexpr std::uint64_t kListLimitMax = 10'000;
// A list also stops before its entries' keys and values together pass this
// many bytes. Any one entry fits, so a list always makes progress.
inline constexpr std::size_t kListReplyBytesMax = std::size_t{2} << 20;
// A reply's message is for a person; the store's own stay well below this.
inline constexpr std::size_t kMessageBytesMax = 1024;

static_assert(kKeyBytesMax + kValueBytesMax <= kListReplyBytesMax,
              "one entry must fit in a list reply, or a list could not progress");

// --- Requests

// Writes `value` under `key`. With expected_version, only if the key's current
// version (0 when absent) equals it.
struct Put {
  Bytes key;
  Bytes value;
  std::optional<std::uint64_t> expected_version;
  auto operator<=>(const Put&) const = default;
};

struct Get {
  Bytes key;
  auto operator<=>(const Get&) const = default;
};

// Removes `key`. With expected_version, only if the key's current version
// (0 when absent) equals it.
struct Delete {
  Bytes key;
  std::optional<std::uint64_t> expected_version;
  auto operator<=>(const Delete&) const = default;
};

// The keys starting with `prefix` (every key when empty), in byte order, at
// most `limit` of them (0: kListLimitDefault; above kListLimitMax: the max).
struct List {
  Bytes prefix;
  std::uint64_t limit = 0;
  auto operator<=>(const List&) const = default;
};

// Replaces the value of an existing key with `new_value` only if its current
// value equals `expected_value`. A missing key answers kNotFound (a missing
// key is not a key with an empty value).
struct Cas {
  Bytes key;
  Bytes expected_value;
  Bytes new_value;
  auto operator<=>(const Cas&) const = default;
};

// On the wire a request's kind is its index here: never reorder, only append.
using KvRequest = std::variant<Put, Get, Delete, List, Cas>;

// Get and List: answered by query() without going through the log.
bool is_read_only(const KvRequest& request);

// "put", "get", "delete", "list", "cas": for messages.
const char* op_name(const KvRequest& request);

// The limits above and a non-empty key. The message names the field, its
// size and the limit, e.g. "put: key of 5000 bytes exceeds the limit of 4096".
Status validate(const KvRequest& request);

// The effective number of entries a List may answer.
std::uint64_t effective_list_limit(std::uint64_t limit);

// --- Replies

// On the wire as one byte: never renumber, only append.
enum class KvStatus : std::uint8_t {
  kOk = 0,
  kNotFound,         // the key does not exist (get, delete, cas)
  kConditionFailed,  // expected_version or expected_value did not match; nothing changed
  kInvalid,          // the op was malformed or out of bounds; `message` says how; nothing changed
};
inline constexpr std::uint8_t kKvStatusLast = static_cast<std::uint8_t>(KvStatus::kInvalid);
const char* to_string(KvStatus status);

// One key as the store holds it.
struct KvEntry {
  Bytes key;
  Bytes value;
  std::uint64_t version = 0;          // 1 on create, +1 per modification
  std::uint64_t create_revision = 0;  // the store revision that created it
  std::uint64_t mod_revision = 0;     // the store revision that last changed it
  auto operator<=>(const KvEntry&) const = default;
};

// What `entry` holds:
//   put     kOk: the key as written; kConditionFailed: the key as it is (none if absent)
//   get     kOk: the key; kNotFound: none
//   delete  kOk: the key as it was just before; kConditionFailed: the key as it is (none if absent)
//   cas     kOk: the key as written; kConditionFailed: the key as it is; kNotFound: none
//   list    none (the keys are in `entries`; a reply never has both)
//   kInvalid: none
struct KvReply {
  KvStatus status = KvStatus::kOk;
  std::string message;             // kInvalid: what is wrong; empty otherwise
  std::uint64_t revision = 0;      // the store revision after the op (a read: at the read)
  std::optional<KvEntry> entry;
  std::vector<KvEntry> entries;    // list: in key order
  bool more = false;               // list: keys beyond `entries` match the prefix
  auto operator<=>(const KvReply&) const = default;
};

// --- Codec: Boost binary archive behind a format byte (kKvFormatVersion),
// then a kind byte (request: the KvRequest index; reply: the status).
// Decoding trusts nothing: a wrong format byte, an unknown kind or status, a
// short, long (bytes left over) or self-contradictory input, a length beyond
// the limits above or a request that validate() refuses comes back as an
// Error, never a crash or an allocation out of proportion to the input.
// encode() writes any value as it is; validate() first to be sure the store
// will accept it.

inline constexpr std::uint8_t kKvFormatVersion = 1;

Bytes encode(const KvRequest& request);
Result<KvRequest> decode_request(BytesView bytes);

Bytes encode(const KvReply& reply);
Result<KvReply> decode_reply(BytesView bytes);

}  // namespace synod::kv
