#pragma once
// The configuration of the `synod` daemon: what an operator gives on the
// command line or in a config file, parsed and checked before anything is
// opened or bound. Pure: no sockets, no data dir; the only I/O is reading the
// --config file.
//
// Every error names the flag (or file:line and key) and says what to fix, so
// that main() prints it and exits 2 without further wording.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ids.h"
#include "common/log.h"
#include "common/result.h"
#include "common/view.h"
#include "net/endpoint.h"

namespace synod::server {

// What main() should do. --help and --version win over every other argument,
// and over errors in them, so that a broken command line can still ask for help.
enum class ServerAction { kRun, kHelp, kVersion };

// A member of the initial view and the address its peers and clients use.
struct ViewMember {
  NodeId id;
  net::Endpoint address;
  bool operator==(const ViewMember&) const = default;
};

// Bounds on what an operator can ask for; each error message states them.
inline constexpr std::size_t kInitialViewMembersMax = 64;
inline constexpr std::size_t kJoinEndpointsMax = 64;
inline constexpr std::uint64_t kSnapshotEntriesMax = 1'000'000'000;
inline constexpr std::chrono::milliseconds kTickMin{1};
inline constexpr std::chrono::milliseconds kTickMax{1000};
// A primary that sends heartbeats every few ticks must get several chances
// before a backup gives up on it.
inline constexpr std::uint32_t kPrimaryTimeoutTicksMin = 10;
inline constexpr std::chrono::milliseconds kPrimaryTimeoutMax = std::chrono::minutes(10);
inline constexpr std::chrono::milliseconds kSessionTimeoutMax = std::chrono::hours(168);
inline constexpr std::size_t kConfigFileBytesMax = 1 << 20;

struct ServerConfig {
  ServerAction action = ServerAction::kRun;

  NodeId id;                 // --id (required)
  std::string data_dir;      // --data (required: durable state is never put somewhere by default)
  // --listen. Defaults to this node's address in --initial-view; required
  // with --join.
  net::Endpoint listen;
  // --initial-view, in the order given: the first is the primary of view 1.
  // Empty when joining.
  std::vector<ViewMember> initial_view;
  // --join: members of a running cluster to contact. Empty unless joining; a
  // joining node waits as a learner until an operator adds it.
  std::vector<net::Endpoint> join;
  std::string cluster_name = "synod";  // --cluster-name: part of the cluster id
  // Derived from cluster_name and initial_view (derive_cluster_id). Empty
  // when joining: the node learns it from the cluster and its data dir keeps
  // it from then on (data_dir_identity.h).
  std::optional<ClusterId> cluster_id;

  log::Level log_level = log::Level::kInfo;                        // --log-level
  std::chrono::milliseconds tick{10};                               // --tick
  std::chrono::milliseconds primary_timeout{300};                   // --primary-timeout
  std::chrono::milliseconds session_timeout = std::chrono::minutes(10);  // --session-timeout; 0: never
  std::uint64_t snapshot_entries = 10'000;                          // --snapshot-entries; 0: never

  std::string config_file;  // --config, empty when none; for messages

  bool joining() const { return !join.empty(); }
};

// Parses argv (argv[0] is the program name). Command-line flags override
// the --config file; see server_help() for the flags and the file format.
Result<ServerConfig> parse_server_args(int argc, const char* const argv[]);

// The cluster id of a cluster created with this initial view: FNV-1a (64
// bit) of a canonical text of the cluster name, the primary and the backups
// sorted by id, each with its address. Deterministic so that every member
// started with the same view (and name) gets the same id without talking to
// the others; the order of the backups does not matter (View sorts them), the
// primary and every address do. 0 is never returned: client frames use 0 for
// "cluster not known yet" (net/client_protocol.h), so a hash of 0 becomes 1.
ClusterId derive_cluster_id(std::string_view cluster_name, const std::vector<ViewMember>& view);

// View 1 of the cluster: the first member is the primary. Fails as View::make
// does (the parser has already refused what it would).
Result<View> make_initial_view(const std::vector<ViewMember>& members);

// "0x" and 16 lower-case hex digits, as every message shows a cluster id.
std::string format_cluster_id(ClusterId id);

// `duration` in ticks of `tick`, rounded up so that a timeout is never
// shorter than asked. Both come from a parsed ServerConfig, whose bounds keep
// the result within 32 bits.
std::uint32_t to_ticks(std::chrono::milliseconds duration, std::chrono::milliseconds tick);

// Every flag with its default and an example, the config file format and
// the exit codes. Ends with a newline.
std::string server_help();

// "synod 0.1.0\n".
std::string server_version();

}  // namespace synod::server
