#pragma once
// Identifiers shared by every layer.

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace synod {

// A node's name as operators write it ("n1"). Stable for the life of the
// node's data directory; the data directory records it and refuses another.
using NodeId = std::string;

// View ids start at 1 (the static configuration) and grow by one per Paxos
// instance: instance i decides view i.
using ViewId = std::uint64_t;

// Paxos instance number; equal to the view id it decides.
using Instance = std::uint64_t;

// A cluster id is fixed when the cluster is created and carried in every
// frame, so a node never acts on a message from another cluster.
using ClusterId = std::uint64_t;

inline constexpr std::size_t kNodeIdLengthMax = 64;

// Accepts [A-Za-z0-9_.-]{1,64}; the error says which character is wrong.
Status validate_node_id(std::string_view id);

// A viewstamp orders every op ever committed: first by view, then by the
// sequence number the primary of that view gave it.
struct Viewstamp {
  ViewId vid = 0;
  std::uint64_t seq = 0;
  auto operator<=>(const Viewstamp&) const = default;
};

std::string to_string(const Viewstamp& vs);

}  // namespace synod
