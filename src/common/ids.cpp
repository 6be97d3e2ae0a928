#include "common/ids.h"

namespace synod {

Status validate_node_id(std::string_view id) {
  if (id.empty()) return Error{"node id is empty; use a short name such as n1"};
  if (id.size() > kNodeIdLengthMax) {
    return Error{"node id '" + std::string(id.substr(0, 16)) + "...' is longer than " +
                 std::to_string(kNodeIdLengthMax) + " characters"};
  }
  for (char c : id) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '-' || c == '.';
    if (!allowed) {
      return Error{"node id '" + std::string(id) + "' contains '" + std::string(1, c) +
                   "'; use only letters, digits, '_', '-' and '.'"};
    }
  }
  return Status::Ok();
}

std::string to_string(const Viewstamp& vs) {
  return "(" + std::to_string(vs.vid) + "," + std::to_string(vs.seq) + ")";
}

}  // namespace synod
