#pragma once
// A view: the membership of the cluster and its primary for one view id.
// Instance i of Paxos decides view i; the members of view i are the acceptors
// of instance i+1.

#include <compare>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/result.h"

namespace synod {

struct View {
  ViewId vid = 0;
  NodeId primary;
  // Kept sorted and free of duplicates and of the primary, so that two equal
  // memberships compare equal (validate() checks it).
  std::vector<NodeId> backups;

  auto operator<=>(const View&) const = default;

  // Builds a valid view: sorts the backups; fails on duplicates, on the primary
  // listed as a backup, on an invalid node id, or on vid 0.
  static Result<View> make(ViewId vid, NodeId primary, std::vector<NodeId> backups);

  Status validate() const;

  // Primary first, then the backups in order.
  std::vector<NodeId> members() const;
  bool contains(const NodeId& id) const;
  std::size_t size() const { return 1 + backups.size(); }
  // The smallest number of members that is more than half of them.
  std::size_t majority() const { return size() / 2 + 1; }
};

// "3{n1*,n2,n3}": vid, then members with the primary starred.
std::string to_string(const View& view);

}  // namespace synod
