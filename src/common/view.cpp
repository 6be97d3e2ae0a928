#include "common/view.h"

#include <algorithm>

namespace synod {

Result<View> View::make(ViewId vid, NodeId primary, std::vector<NodeId> backups) {
  std::sort(backups.begin(), backups.end());
  View view{vid, std::move(primary), std::move(backups)};
  if (Status s = view.validate(); !s) return s.error();
  return view;
}

Status View::validate() const {
  if (vid == 0) return Error{"view id 0 is not a view; views start at 1"};
  if (Status s = validate_node_id(primary); !s) return Error{"primary: " + s.error().message};
  for (std::size_t i = 0; i < backups.size(); ++i) {
    if (Status s = validate_node_id(backups[i]); !s) return Error{"backup: " + s.error().message};
    if (backups[i] == primary) {
      return Error{"node '" + primary + "' is listed as both primary and backup"};
    }
    if (i > 0 && backups[i - 1] == backups[i]) {
      return Error{"node '" + backups[i] + "' is listed twice"};
    }
    if (i > 0 && backups[i - 1] > backups[i]) {
      return Error{"backups of view " + std::to_string(vid) + " are not sorted"};
    }
  }
  return Status::Ok();
}

std::vector<NodeId> View::members() const {
  std::vector<NodeId> out;
  out.reserve(size());
  out.push_back(primary);
  out.insert(out.end(), backups.begin(), backups.end());
  return out;
}

bool View::contains(const NodeId& id) const {
  return id == primary || std::binary_search(backups.begin(), backups.end(), id);
}

std::string to_string(const View& view) {
  std::string out = std::to_string(view.vid) + "{" + view.primary + "*";
  for (const NodeId& b : view.backups) out += "," + b;
  return out + "}";
}

}  // namespace synod
