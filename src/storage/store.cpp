#include "storage/store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "storage/big_endian.h"

namespace synod::storage {
namespace {

namespace fs = std::filesystem;

// Indexed by Family.
constexpr std::array<std::string_view, 4> kFamilyNames = {"paxos", "log", "state", "meta"};
static_assert(static_cast<std::size_t>(Family::kMeta) == 3);

rocksdb::Slice slice(BytesView b) { return rocksdb::Slice(b.data(), b.size()); }
BytesView view(const rocksdb::Slice& s) { return BytesView(s.data(), s.size()); }

// An open RocksDB and its column family handles, released in the order
// RocksDB requires: the handles, then the DB.
struct OpenDb {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<std::string> names;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;

  OpenDb() = default;
  OpenDb(const OpenDb&) = delete;
  OpenDb& operator=(const OpenDb&) = delete;
  ~OpenDb() {
    if (!db) return;
    for (rocksdb::ColumnFamilyHandle* h : handles)
      db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    // Every write was synced when it was made, so closing has nothing left to
    // make durable; its status would have no one to act on it.
    db->Close().PermitUncheckedError();
  }

  rocksdb::ColumnFamilyHandle* find(std::string_view name) const {
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] == name) return handles[i];
    }
    return nullptr;
  }
};

rocksdb::Status open_db(const std::string& path, const rocksdb::DBOptions& options,
                        const std::vector<std::string>& names, bool read_only, OpenDb& out) {
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s = read_only
                          ? rocksdb::DB::OpenForReadOnly(options, path, descriptors, &handles, &db)
                          : rocksdb::DB::Open(options, path, descriptors, &handles, &db);
  if (!s.ok()) return s;
  out.db.reset(db);
  out.names = names;
  out.handles = std::move(handles);
  return s;
}

// RocksDB reports a held LOCK as an IO error; these are its two wordings
// (another process, and another open in this process).
bool is_lock_conflict(const rocksdb::Status& s) {
  const std::string text = s.ToString();
  return s.IsIOError() && (text.find("While lock file") != std::string::npos ||
                           text.find("lock hold by current process") != std::string::npos);
}

Error in_use_error(const std::string& shown) {
  return Error{"data dir " + shown +
               " is in use by another synod process (RocksDB LOCK held); stop it or choose "
               "another --data"};
}

// --- What is in the dir before we touch it.

enum class DirKind { kMissing, kEmpty, kRocksDb, kForeign };

Result<DirKind> inspect(const fs::path& dir, const std::string& shown) {
  std::error_code ec;
  const fs::file_status st = fs::status(dir, ec);
  if (ec && st.type() != fs::file_type::not_found) {
    return Error{"cannot inspect data dir " + shown + ": " + ec.message()};
  }
  if (st.type() == fs::file_type::not_found) return DirKind::kMissing;
  if (!fs::is_directory(st))
    return Error{"data dir " + shown + " is not a directory; choose another --data"};
  fs::directory_iterator it(dir, ec);
  if (ec) return Error{"cannot list data dir " + shown + ": " + ec.message()};
  if (it == fs::directory_iterator()) return DirKind::kEmpty;
  if (fs::exists(dir / "CURRENT", ec)) return DirKind::kRocksDb;
  return DirKind::kForeign;
}

// A new dir's entry lives in its parent; without this fsync a crash could
// forget the dir that RocksDB has already synced files into.
Status create_dir(const std::string& shown) {
  std::error_code ec;
  fs::create_directories(shown, ec);
  if (ec) return Error{"cannot create data dir " + shown + ": " + ec.message()};
  const fs::path parent = fs::canonical(shown, ec).parent_path();
  if (ec) return Error{"cannot resolve data dir " + shown + ": " + ec.message()};
  const int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return Error{"cannot open " + parent.string() + " to sync it: " + std::strerror(errno)};
  const int rc = ::fsync(fd);
  const int fsync_errno = errno;
  ::close(fd);
  if (rc != 0) return Error{"cannot sync " + parent.string() + ": " + std::strerror(fsync_errno)};
  return Status::Ok();
}

// --- The dir's identity.

struct RawMeta {
  std::optional<Bytes> node;
  std::optional<Bytes> cluster;
  std::optional<Bytes> format;
};

Result<std::optional<Bytes>> read_key(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* family,
                                      std::string_view key, const std::string& shown) {
  std::string value;
  rocksdb::Status s = db.Get(rocksdb::ReadOptions(), family, slice(key), &value);
  if (s.IsNotFound()) return std::optional<Bytes>();
  if (!s.ok()) return Error{"cannot read from data dir " + shown + ": " + s.ToString()};
  return std::optional<Bytes>(std::move(value));
}

Result<RawMeta> read_meta(const OpenDb& db, const std::string& shown) {
  RawMeta meta;
  rocksdb::ColumnFamilyHandle* family =
      db.find(kFamilyNames[static_cast<std::size_t>(Family::kMeta)]);
  if (family == nullptr) return meta;
  for (auto [key, field] :
       {std::pair{kMetaNodeIdKey, &meta.node}, std::pair{kMetaClusterIdKey, &meta.cluster},
        std::pair{kMetaFormatVersionKey, &meta.format}}) {
    Result<std::optional<Bytes>> value = read_key(*db.db, family, key, shown);
    if (!value) return value.error();
    *field = std::move(*value);
  }
  return meta;
}

// True when any family holds a key, or a family exists that synod never made.
Result<bool> holds_foreign_or_any_data(const OpenDb& db, const std::string& shown) {
  for (std::size_t i = 0; i < db.names.size(); ++i) {
    const bool ours =
        db.names[i] == rocksdb::kDefaultColumnFamilyName ||
        std::find(kFamilyNames.begin(), kFamilyNames.end(), db.names[i]) != kFamilyNames.end();
    if (!ours) return true;
    std::unique_ptr<rocksdb::Iterator> it(
        db.db->NewIterator(rocksdb::ReadOptions(), db.handles[i]));
    it->SeekToFirst();
    if (it->Valid()) return true;
    if (!it->status().ok())
      return Error{"cannot read data dir " + shown + ": " + it->status().ToString()};
  }
  return false;
}

// How an existing database relates to this open: it is this node's, or it was
// never claimed (a first start that crashed between creating the database and
// writing its identity leaves exactly that, and must not need hand repair).
enum class Claim { kOurs, kUnclaimed };

Result<Claim> judge(const RawMeta& meta, bool holds_data, const StoreOptions& options,
                    const std::string& shown) {
  const std::string dir = "data dir " + shown;
  if (!meta.node && !meta.cluster && !meta.format) {
    if (!holds_data) return Claim::kUnclaimed;
    return Error{dir +
                 " holds a RocksDB database with no synod identity; refusing to adopt it: "
                 "choose an empty or new dir for --data"};
  }
  if (!meta.node || !meta.cluster || !meta.format) {
    return Error{dir +
                 " has an incomplete synod identity (node id, cluster id and format version "
                 "must all be present); it is damaged: do not start a node on it"};
  }
  const std::optional<std::uint32_t> format = read_big_endian<std::uint32_t>(*meta.format);
  const std::optional<std::uint64_t> cluster = read_big_endian<std::uint64_t>(*meta.cluster);
  if (!format || !cluster || *format == 0) {
    return Error{dir + " has a malformed synod identity; it is damaged: do not start a node on it"};
  }
  if (*format > kFormatVersion) {
    return Error{dir + " was written by a newer synod (format version " + std::to_string(*format) +
                 "; this binary reads up to " + std::to_string(kFormatVersion) +
                 "); run a newer synod binary or choose another --data"};
  }
  if (*meta.node != options.node) {
    return Error{dir + " belongs to node " + *meta.node + ", not " + options.node +
                 "; start with --id " + *meta.node + " or use another --data"};
  }
  if (*cluster != options.cluster) {
    return Error{dir + " belongs to cluster " + std::to_string(*cluster) + ", not cluster " +
                 std::to_string(options.cluster) +
                 "; start this node with its own cluster's dir or use another --data"};
  }
  return Claim::kOurs;
}

Result<Claim> identify(const OpenDb& db, const StoreOptions& options, const std::string& shown) {
  Result<RawMeta> meta = read_meta(db, shown);
  if (!meta) return meta.error();
  bool holds_data = false;  // only matters to a dir without an identity
  if (!meta->node && !meta->cluster && !meta->format) {
    Result<bool> holds = holds_foreign_or_any_data(db, shown);
    if (!holds) return holds.error();
    holds_data = *holds;
  }
  return judge(*meta, holds_data, options, shown);
}

// RocksDB's own lock on the dir (Env::LockFile, which also knows the dirs
// locked by this process), held while the dir is judged. Taking it before any
// read-write open matters: that open rotates the LOG file before it notices
// the lock is taken, which would change the dir of a running node. It also
// keeps writers out while we read (RocksDB leaves a read-only open beside a
// writer undefined).
class DirLock {
 public:
  rocksdb::Status acquire(const std::string& path) {
    return rocksdb::Env::Default()->LockFile(path + "/LOCK", &lock_);
  }
  ~DirLock() {
    if (lock_ != nullptr) rocksdb::Env::Default()->UnlockFile(lock_).PermitUncheckedError();
  }

 private:
  rocksdb::FileLock* lock_ = nullptr;
};

// Decides on an existing database without writing to it: under the lock, a
// read-only open (which creates no files, LOG included).
Status check_existing(const std::string& path, const StoreOptions& options,
                      const std::string& shown) {
  DirLock lock;
  if (rocksdb::Status s = lock.acquire(path); !s.ok()) {
    if (is_lock_conflict(s)) return in_use_error(shown);
    return Error{"cannot lock data dir " + shown + " (" + s.ToString() +
                 "); check its permissions"};
  }
  const rocksdb::DBOptions read_options;
  std::vector<std::string> names;
  if (rocksdb::Status s = rocksdb::DB::ListColumnFamilies(read_options, path, &names); !s.ok()) {
    return Error{"data dir " + shown + " is not a readable RocksDB database (" + s.ToString() +
                 "); choose another --data"};
  }
  OpenDb db;
  if (rocksdb::Status s = open_db(path, read_options, names, /*read_only=*/true, db); !s.ok()) {
    return Error{"cannot read data dir " + shown + " (" + s.ToString() +
                 "); choose another --data"};
  }
  Result<Claim> claim = identify(db, options, shown);
  if (!claim) return claim.error();
  return Status::Ok();
}

Batch identity_batch(const StoreOptions& options) {
  Bytes cluster;
  append_big_endian(cluster, options.cluster);
  Bytes format;
  append_big_endian(format, kFormatVersion);
  Batch batch;
  batch.put(Family::kMeta, kMetaNodeIdKey, options.node);
  batch.put(Family::kMeta, kMetaClusterIdKey, cluster);
  batch.put(Family::kMeta, kMetaFormatVersionKey, format);
  return batch;
}

}  // namespace

// --- Batch

void Batch::put(Family family, BytesView key, BytesView value) {
  ops_.push_back(Op{family, Kind::kPut, Bytes(key), Bytes(value)});
  bytes_ += key.size() + value.size();
}

void Batch::del(Family family, BytesView key) {
  ops_.push_back(Op{family, Kind::kDelete, Bytes(key), Bytes()});
  bytes_ += key.size();
}

void Batch::del_range(Family family, BytesView begin, BytesView end) {
  // RocksDB refuses a range whose end is before its begin; an empty range
  // deletes nothing, so it is simply left out.
  if (begin >= end) return;
  ops_.push_back(Op{family, Kind::kDeleteRange, Bytes(begin), Bytes(end)});
  bytes_ += begin.size() + end.size();
}

// --- Store

struct Store::Impl {
  std::string shown;  // the dir as the operator wrote it
  OpenDb db;
  std::array<rocksdb::ColumnFamilyHandle*, kFamilyNames.size()> families{};  // owned by db
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const std::string& Store::dir() const { return impl_->shown; }

Result<std::unique_ptr<Store>> Store::open(const StoreOptions& options) {
  const std::string& shown = options.dir;
  if (shown.empty()) return Error{"no data dir given; pass --data DIR"};
  if (Status s = validate_node_id(options.node); !s) {
    return Error{"cannot open data dir " + shown + ": " + s.error().message};
  }
  Result<DirKind> kind = inspect(shown, shown);
  if (!kind) return kind.error();
  if (*kind == DirKind::kForeign) {
    return Error{"data dir " + shown +
                 " is not empty and holds no synod data; refusing to adopt it: "
                 "choose an empty or new dir for --data"};
  }
  if (*kind == DirKind::kMissing) {
    if (Status s = create_dir(shown); !s) return s.error();
  }
  // One spelling of the path per dir: RocksDB recognises a second open in this
  // process by the LOCK file's path string, and two spellings of one dir would
  // slip past it.
  std::error_code ec;
  const std::string path = fs::canonical(shown, ec).string();
  if (ec) return Error{"cannot resolve data dir " + shown + ": " + ec.message()};

  if (*kind == DirKind::kRocksDb) {
    if (Status s = check_existing(path, options, shown); !s) return s.error();
  }

  auto impl = std::make_unique<Impl>();
  impl->shown = shown;
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = *kind != DirKind::kRocksDb;
  db_options.create_missing_column_families = true;
  std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName};
  names.insert(names.end(), kFamilyNames.begin(), kFamilyNames.end());
  if (rocksdb::Status s = open_db(path, db_options, names, /*read_only=*/false, impl->db);
      !s.ok()) {
    if (is_lock_conflict(s)) return in_use_error(shown);
    return Error{"cannot open data dir " + shown + " (" + s.ToString() + ")"};
  }
  for (std::size_t i = 0; i < kFamilyNames.size(); ++i) {
    impl->families[i] = impl->db.find(kFamilyNames[i]);
    if (impl->families[i] == nullptr) {
      return Error{"data dir " + shown + " opened without column family " +
                   std::string(kFamilyNames[i])};
    }
  }

  // Checked again now that the lock is ours: another process may have created
  // or claimed the dir between the check above and the open.
  Result<Claim> claim = identify(impl->db, options, shown);
  if (!claim) return claim.error();
  std::unique_ptr<Store> store(new Store(std::move(impl)));
  if (*claim == Claim::kUnclaimed) {
    if (Status s = store->write(identity_batch(options)); !s) return s.error();
  }
  return store;
}

Status Store::write(const Batch& batch) {
  if (batch.empty()) return Status::Ok();
  rocksdb::WriteBatch rb;
  for (const Batch::Op& op : batch.ops_) {
    rocksdb::ColumnFamilyHandle* family = impl_->families[static_cast<std::size_t>(op.family)];
    rocksdb::Status s;
    switch (op.kind) {
      case Batch::Kind::kPut:
        s = rb.Put(family, slice(op.key), slice(op.value));
        break;
      case Batch::Kind::kDelete:
        s = rb.Delete(family, slice(op.key));
        break;
      case Batch::Kind::kDeleteRange:
        s = rb.DeleteRange(family, slice(op.key), slice(op.value));
        break;
    }
    if (!s.ok())
      return Error{"cannot build a write for data dir " + impl_->shown + ": " + s.ToString()};
  }
  rocksdb::WriteOptions sync;
  sync.sync = true;
  if (rocksdb::Status s = impl_->db.db->Write(sync, &rb); !s.ok()) {
    return Error{"synced write of " + std::to_string(batch.size()) + " updates to data dir " +
                 impl_->shown + " failed (" + s.ToString() +
                 "); stop this node: whether it reached disk is unknown"};
  }
  return Status::Ok();
}

Result<std::optional<Bytes>> Store::get(Family family, BytesView key) const {
  return read_key(*impl_->db.db, impl_->families[static_cast<std::size_t>(family)], key,
                  impl_->shown);
}

Status Store::scan(Family family, BytesView prefix,
                   const std::function<bool(BytesView key, BytesView value)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(impl_->db.db->NewIterator(
      rocksdb::ReadOptions(), impl_->families[static_cast<std::size_t>(family)]));
  for (it->Seek(slice(prefix)); it->Valid(); it->Next()) {
    const BytesView key = view(it->key());
    if (!key.starts_with(prefix)) break;
    if (!visit(key, view(it->value()))) break;
  }
  if (!it->status().ok()) {
    return Error{"cannot scan data dir " + impl_->shown + ": " + it->status().ToString()};
  }
  return Status::Ok();
}

}  // namespace synod::storage
