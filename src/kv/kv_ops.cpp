#include "kv/kv_ops.h"

#include <algorithm>
#include <string>
#include <type_traits>

namespace synod::kv {
namespace {

// The kinds' wire numbers are their indices in KvRequest; op_name and the
// codec's switch follow this order.
static_assert(std::is_same_v<std::variant_alternative_t<0, KvRequest>, Put>);
static_assert(std::is_same_v<std::variant_alternative_t<1, KvRequest>, Get>);
static_assert(std::is_same_v<std::variant_alternative_t<2, KvRequest>, Delete>);
static_assert(std::is_same_v<std::variant_alternative_t<3, KvRequest>, List>);
static_assert(std::is_same_v<std::variant_alternative_t<4, KvRequest>, Cas>);
static_assert(std::variant_size_v<KvRequest> == 5, "a new request needs a name, a validation and a codec case");

Status too_long(const char* op, const char* field, std::size_t bytes, std::size_t max) {
  return Error{std::string(op) + ": " + field + " of " + std::to_string(bytes) + " bytes exceeds the limit of " +
               std::to_string(max) + " bytes"};
}

Status check_key(const char* op, const Bytes& key) {
  if (key.empty()) return Error{std::string(op) + ": key is empty (a key is 1 to " + std::to_string(kKeyBytesMax) + " bytes)"};
  if (key.size() > kKeyBytesMax) return too_long(op, "key", key.size(), kKeyBytesMax);
  return Status::Ok();
}

Status check(const Put& r) {
  if (Status s = check_key("put", r.key); !s) return s;
  if (r.value.size() > kValueBytesMax) return too_long("put", "value", r.value.size(), kValueBytesMax);
  return Status::Ok();
}

Status check(const Get& r) { return check_key("get", r.key); }

Status check(const Delete& r) { return check_key("delete", r.key); }

// An empty prefix lists every key.
Status check(const List& r) {
  if (r.prefix.size() > kKeyBytesMax) return too_long("list", "prefix", r.prefix.size(), kKeyBytesMax);
  return Status::Ok();
}

Status check(const Cas& r) {
  if (Status s = check_key("cas", r.key); !s) return s;
  // Both travel in the same op, so they share one value's room.
  const std::size_t values_bytes = r.expected_value.size() + r.new_value.size();
  if (values_bytes > kValueBytesMax) {
    return Error{"cas: expected and new value of " + std::to_string(values_bytes) +
                 " bytes together exceed the limit of " + std::to_string(kValueBytesMax) + " bytes"};
  }
  return Status::Ok();
}

}  // namespace

bool is_read_only(const KvRequest& request) {
  return std::holds_alternative<Get>(request) || std::holds_alternative<List>(request);
}

const char* op_name(const KvRequest& request) {
  switch (request.index()) {
    case 0: return "put";
    case 1: return "get";
    case 2: return "delete";
    case 3: return "list";
    case 4: return "cas";
  }
  return "?";  // valueless_by_exception: only after a throwing assignment
}

Status validate(const KvRequest& request) {
  return std::visit([](const auto& r) { return check(r); }, request);
}

std::uint64_t effective_list_limit(std::uint64_t limit) {
  if (limit == 0) return kListLimitDefault;
  return std::min(limit, kListLimitMax);
}

const char* to_string(KvStatus status) {
  switch (status) {
    case KvStatus::kOk: return "ok";
    case KvStatus::kNotFound: return "not_found";
    case KvStatus::kConditionFailed: return "condition_failed";
    case KvStatus::kInvalid: return "invalid";
  }
  return "unknown";
}

}  // namespace synod::kv
