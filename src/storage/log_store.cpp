#include "storage/log_store.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include "storage/big_endian.h"
#include "storage/checksum.h"

namespace synod::storage {
namespace {

constexpr std::size_t kKeyBytes = 2 * sizeof(std::uint64_t);
// vid, seq, client_id, request_no; the op follows.
constexpr std::size_t kFixedRecordBytes = 4 * sizeof(std::uint64_t);

Bytes key_of(Viewstamp vs) {
  Bytes key;
  key.reserve(kKeyBytes);
  append_big_endian(key, vs.vid);
  append_big_endian(key, vs.seq);
  return key;
}

std::optional<Viewstamp> viewstamp_of(BytesView key) {
  if (key.size() != kKeyBytes) return std::nullopt;
  return Viewstamp{*read_big_endian<std::uint64_t>(key.substr(0, 8)),
                   *read_big_endian<std::uint64_t>(key.substr(8, 8))};
}

// "(3,7)", or hex for a key of no known shape.
std::string describe_key(BytesView key) {
  if (std::optional<Viewstamp> vs = viewstamp_of(key)) return to_string(*vs);
  std::string hex = "0x";
  for (char c : key) {
    char byte[3];
    std::snprintf(byte, sizeof byte, "%02x", static_cast<unsigned char>(c));
    hex += byte;
  }
  return hex;
}

// Keys above every log key: all of them are kKeyBytes long, so one 0xff byte
// more sorts after the highest.
const Bytes& end_of_log_keys() {
  static const Bytes key(kKeyBytes + 1, '\xff');
  return key;
}

// The same rule as rsm::follows (which lives in the RSM core's library, above
// this one): the next seq of the same view, or seq 1 of a later view.
bool follows(Viewstamp prev, Viewstamp next) {
  if (next.vid == prev.vid) return next.seq == prev.seq + 1;
  return next.vid > prev.vid && next.seq == 1;
}

bool is_entry_viewstamp(Viewstamp vs) { return vs.vid != 0 && vs.seq != 0; }

Bytes encode(const rsm::LogEntry& e) {
  Bytes record;
  record.reserve(kFixedRecordBytes + e.op.size());
  append_big_endian(record, e.vs.vid);
  append_big_endian(record, e.vs.seq);
  append_big_endian(record, e.client_id);
  append_big_endian(record, e.request_no);
  record += e.op;
  return record;
}

Result<rsm::LogEntry> decode(BytesView record) {
  if (record.size() < kFixedRecordBytes) {
    return Error{std::to_string(record.size()) + " bytes, the fixed fields take " +
                 std::to_string(kFixedRecordBytes)};
  }
  const auto field = [&](std::size_t i) {
    return *read_big_endian<std::uint64_t>(record.substr(8 * i, 8));
  };
  rsm::LogEntry e;
  e.vs = Viewstamp{field(0), field(1)};
  e.client_id = field(2);
  e.request_no = field(3);
  e.op = Bytes(record.substr(kFixedRecordBytes));
  return e;
}

// The entry under `key`, after checking that it is intact and belongs there.
Result<rsm::LogEntry> unseal_entry(BytesView key, BytesView value, const std::string& dir) {
  const std::string where = "log entry " + describe_key(key) + " in data dir " + dir;
  const std::string damaged = "; the dir is damaged: do not start a node on it";
  const std::optional<Viewstamp> vs = viewstamp_of(key);
  if (!vs || !is_entry_viewstamp(*vs)) {
    return Error{where + " has a key that is no entry's viewstamp (" + std::to_string(key.size()) +
                 " bytes)" + damaged};
  }
  Result<BytesView> record = unseal(value);
  if (!record) return Error{where + " is corrupt (" + record.error().message + ")" + damaged};
  Result<rsm::LogEntry> e = decode(*record);
  if (!e) return Error{where + " does not decode (" + e.error().message + ")" + damaged};
  if (e->vs != *vs) return Error{where + " holds the entry of " + to_string(e->vs) + damaged};
  return e;
}

}  // namespace

Status LogStore::persist(std::optional<Viewstamp> truncate_after,
                         std::span<const rsm::LogEntry> appends) {
  Batch batch;
  if (Status s = add_to(batch, truncate_after, appends); !s) return s;
  return store_.write(batch);
}

Status LogStore::add_to(Batch& batch, std::optional<Viewstamp> truncate_after,
                        std::span<const rsm::LogEntry> appends) const {
  // Checked before anything is added, so that a refusal leaves `batch` as it was.
  for (std::size_t i = 0; i < appends.size(); ++i) {
    const Viewstamp vs = appends[i].vs;
    if (!is_entry_viewstamp(vs)) {
      return Error{"refusing to write log entry " + to_string(vs) + " to data dir " +
                   store_.dir() + ": an entry's vid and seq start at 1"};
    }
    if (i > 0 && !follows(appends[i - 1].vs, vs)) {
      return Error{"refusing to write log entry " + to_string(vs) + " to data dir " +
                   store_.dir() + ": it does not follow " + to_string(appends[i - 1].vs) +
                   ", the entry before it in the same batch"};
    }
  }
  if (truncate_after) {
    // The keys above the truncation point's: a 16-byte key sorts after it
    // exactly when it sorts at or after the point's key with a 0 byte added.
    Bytes after = key_of(*truncate_after);
    after.push_back('\0');
    batch.del_range(Family::kLog, after, end_of_log_keys());
  }
  for (const rsm::LogEntry& e : appends) batch.put(Family::kLog, key_of(e.vs), seal(encode(e)));
  return Status::Ok();
}

void LogStore::add_compaction(Batch& batch, Viewstamp through) const {
  // Every log key sorts before the key of `through` with a 0 byte added
  // exactly when it is at or below `through` (see add_to).
  Bytes end = key_of(through);
  end.push_back('\0');
  batch.del_range(Family::kLog, Bytes(), end);
}

Result<std::vector<rsm::LogEntry>> LogStore::load_log(Viewstamp skip_through) const {
  std::vector<rsm::LogEntry> log;
  std::optional<Error> failure;
  Status scanned = store_.scan(Family::kLog, "", [&](BytesView key, BytesView value) {
    Result<rsm::LogEntry> e = unseal_entry(key, value, store_.dir());
    if (!e) {
      failure = e.error();
      return false;
    }
    if (e->vs <= skip_through) return true;
    if (!log.empty() && !follows(log.back().vs, e->vs)) {
      failure = Error{"log entry " + to_string(e->vs) + " in data dir " + store_.dir() +
                      " is stored next after " + to_string(log.back().vs) +
                      ", which it does not follow: entries between them are missing (a gap); "
                      "the dir is damaged: do not start a node on it"};
      return false;
    }
    log.push_back(std::move(*e));
    return true;
  });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  return log;
}

}  // namespace synod::storage
