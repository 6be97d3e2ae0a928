#pragma once
// The command line of `synodctl`, parsed into a value: what to ask which
// nodes, how long to wait and how to print. Pure: no networking here; the
// binary turns a CtlCommand into requests and maps the outcome to an exit
// code below.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/ids.h"
#include "common/result.h"
#include "net/endpoint.h"

namespace synod::tools {

// Exit codes of synodctl, also listed in ctl_help().
inline constexpr int kExitOk = 0;           // done
inline constexpr int kExitFailed = 1;       // key missing, or a condition or compare failed
inline constexpr int kExitUsage = 2;        // bad command line: nothing was sent
inline constexpr int kExitUnavailable = 3;  // no answer in time: the outcome is unknown

inline constexpr std::size_t kCtlEndpointsMax = 64;
inline constexpr std::uint64_t kListLimitDefault = 1000;
inline constexpr std::uint64_t kListLimitMax = 100'000;
inline constexpr std::chrono::milliseconds kCtlTimeoutDefault = std::chrono::seconds(5);
inline constexpr std::chrono::milliseconds kCtlTimeoutMax = std::chrono::hours(1);

// One struct per command; fields in the order they are written.
struct PutCommand {        // put KEY VALUE [--if-version N]
  std::string key;
  std::string value;
  std::optional<std::uint64_t> if_version;  // only if the key's version is N
  bool operator==(const PutCommand&) const = default;
};
struct GetCommand {        // get KEY [--stale]
  std::string key;
  bool stale = false;      // any node may answer from what it has applied
  bool operator==(const GetCommand&) const = default;
};
struct DelCommand {        // del KEY [--if-version N]
  std::string key;
  std::optional<std::uint64_t> if_version;
  bool operator==(const DelCommand&) const = default;
};
struct CasCommand {        // cas KEY EXPECTED NEW
  std::string key;
  std::string expected;
  std::string new_value;
  bool operator==(const CasCommand&) const = default;
};
struct ListCommand {       // list PREFIX [--limit N]
  std::string prefix;      // may be empty: every key
  std::uint64_t limit = kListLimitDefault;
  bool operator==(const ListCommand&) const = default;
};
struct MemberAddCommand {  // member add ID ADDR
  NodeId id;
  net::Endpoint address;
  bool operator==(const MemberAddCommand&) const = default;
};
struct MemberRemoveCommand {  // member remove ID
  NodeId id;
  bool operator==(const MemberRemoveCommand&) const = default;
};
struct MemberListCommand {  // member list
  bool operator==(const MemberListCommand&) const = default;
};
struct StatusCommand {  // status
  bool operator==(const StatusCommand&) const = default;
};
struct TransferPrimaryCommand {  // transfer-primary ID
  NodeId id;
  bool operator==(const TransferPrimaryCommand&) const = default;
};
struct SnapshotCommand {  // snapshot
  bool operator==(const SnapshotCommand&) const = default;
};

using CtlOperation =
    std::variant<PutCommand, GetCommand, DelCommand, CasCommand, ListCommand, MemberAddCommand,
                 MemberRemoveCommand, MemberListCommand, StatusCommand, TransferPrimaryCommand,
                 SnapshotCommand>;

// What main() should do; --help and --version win over everything else.
enum class CtlAction { kRun, kHelp, kVersion };

struct CtlCommand {
  CtlAction action = CtlAction::kRun;
  // --endpoints: nodes to try, in order (any member redirects to the primary).
  std::vector<net::Endpoint> endpoints = {net::Endpoint{"127.0.0.1", 7001}};
  std::chrono::milliseconds timeout = kCtlTimeoutDefault;  // --timeout: for the whole command
  bool json = false;                                       // --json: one JSON object on stdout
  CtlOperation operation;  // meaningful when action is kRun
};

// Parses argv (argv[0] is the program name). Global flags go anywhere; a
// command's own flags after its name; "--" ends the flags, so that a key or
// value may start with "--". Errors say what is wrong and end with the
// command's usage line (or the general one); main() prints it and exits
// kExitUsage.
Result<CtlCommand> parse_ctl_args(int argc, const char* const argv[]);

// Commands, flags with their defaults, exit codes. Ends with a newline.
std::string ctl_help();

// "synodctl 0.1.0\n".
std::string ctl_version();

}  // namespace synod::tools
