#include "storage/paxos_store.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <variant>

#include "net/codec.h"
#include "storage/big_endian.h"
#include "storage/checksum.h"

namespace synod::storage {
namespace {

// Key kind bytes, readable in a raw dump of the family.
constexpr char kAcceptorKind = 'A';
constexpr char kDecidedKind = 'D';
constexpr char kRoundKind = 'R';

Bytes instance_key(char kind, Instance instance) {
  Bytes key(1, kind);
  append_big_endian(key, instance);
  return key;
}

const Bytes& round_key() {
  static const Bytes key(1, kRoundKind);
  return key;
}

Bytes key_of(const paxos::Write& w) {
  if (const auto* a = std::get_if<paxos::AcceptorRecord>(&w))
    return instance_key(kAcceptorKind, a->instance);
  if (const auto* d = std::get_if<paxos::DecidedRecord>(&w))
    return instance_key(kDecidedKind, d->instance);
  return round_key();
}

// "acceptor/42", "decided/7", "round", or hex for a key of no known shape.
std::string describe_key(BytesView key) {
  if (key == round_key()) return "round";
  if (key.size() == 1 + sizeof(Instance) && (key[0] == kAcceptorKind || key[0] == kDecidedKind)) {
    const Instance instance = *read_big_endian<Instance>(key.substr(1));
    return std::string(key[0] == kAcceptorKind ? "acceptor/" : "decided/") +
           std::to_string(instance);
  }
  std::string hex = "0x";
  for (char c : key) {
    char byte[3];
    std::snprintf(byte, sizeof byte, "%02x", static_cast<unsigned char>(c));
    hex += byte;
  }
  return hex;
}

Bytes seal(const paxos::Write& w) { return storage::seal(net::encode_record(w)); }

// The record under `key`, after checking that it is intact and belongs there.
Result<paxos::Write> unseal(BytesView key, BytesView value, const std::string& dir) {
  const std::string where = "paxos record " + describe_key(key) + " in data dir " + dir;
  const std::string damaged = "; the dir is damaged: do not start a node on it";
  Result<BytesView> record = storage::unseal(value);
  if (!record) return Error{where + " is corrupt (" + record.error().message + ")" + damaged};
  Result<paxos::Write> w = net::decode_record(*record);
  if (!w) return Error{where + " does not decode (" + w.error().message + ")" + damaged};
  if (key_of(*w) != key) {
    return Error{where + " holds the record of " + describe_key(key_of(*w)) + damaged};
  }
  return w;
}

}  // namespace

Status PaxosStore::persist(std::span<const paxos::Write> writes) {
  Batch batch;
  if (Status s = add_to(batch, writes); !s) return s;
  return store_.write(batch);
}

Status PaxosStore::add_to(Batch& batch, std::span<const paxos::Write> writes) const {
  // The stored round is read before anything is added, so that a failed read
  // leaves `batch` untouched.
  std::optional<std::uint64_t> round;
  for (const paxos::Write& w : writes) {
    if (const auto* r = std::get_if<paxos::RoundRecord>(&w))
      round = std::max(round.value_or(0), r->round);
  }
  if (round) {
    Result<std::optional<Bytes>> stored = store_.get(Family::kPaxos, round_key());
    if (!stored) return stored.error();
    if (*stored) {
      Result<paxos::Write> previous = unseal(round_key(), **stored, store_.dir());
      if (!previous) return previous.error();
      round = std::max(*round, std::get<paxos::RoundRecord>(*previous).round);
    }
  }
  for (const paxos::Write& w : writes) {
    if (!std::holds_alternative<paxos::RoundRecord>(w))
      batch.put(Family::kPaxos, key_of(w), seal(w));
  }
  if (round) batch.put(Family::kPaxos, round_key(), seal(paxos::RoundRecord{*round}));
  return Status::Ok();
}

Result<paxos::DurableState> PaxosStore::load() const {
  paxos::DurableState state;
  std::optional<Error> failure;
  Status scanned = store_.scan(Family::kPaxos, "", [&](BytesView key, BytesView value) {
    Result<paxos::Write> w = unseal(key, value, store_.dir());
    if (!w) {
      failure = w.error();
      return false;
    }
    state.apply(*w);
    return true;
  });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  return state;
}

}  // namespace synod::storage
