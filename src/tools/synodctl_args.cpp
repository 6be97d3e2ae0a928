#include "tools/synodctl_args.h"

#include <algorithm>
#include <array>
#include <map>
#include <sstream>
#include <string_view>

#include "common/duration.h"

#ifndef SYNOD_VERSION
#error "SYNOD_VERSION must be defined by the build (the project's version)"
#endif

namespace synod::tools {
namespace {

using std::chrono::milliseconds;

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

// --- The commands: name, what follows the name, and the usage line.

struct CommandSpec {
  std::string_view name;       // "member add" for the member subcommands
  std::string_view arguments;  // "KEY VALUE"
  std::size_t argument_count;
  std::array<std::string_view, 2> flags;  // its own flags (empty: none)
  std::string_view help;
};

constexpr std::array<CommandSpec, 11> kCommands = {{
    {"put", "KEY VALUE", 2, {"if-version", ""}, "sets KEY to VALUE"},
    {"get", "KEY", 1, {"stale", ""}, "prints the value of KEY"},
    {"del", "KEY", 1, {"if-version", ""}, "deletes KEY"},
    {"cas", "KEY EXPECTED NEW", 3, {"", ""}, "sets KEY to NEW only if its value is EXPECTED"},
    {"list", "PREFIX", 1, {"limit", ""}, "prints the keys starting with PREFIX (\"\" for all)"},
    {"member add", "ID HOST:PORT", 2, {"", ""},
     "adds node ID, started with --join and listening at HOST:PORT"},
    {"member remove", "ID", 1, {"", ""}, "removes node ID from the cluster"},
    {"member list", "", 0, {"", ""}, "prints the members, their addresses and roles"},
    {"status", "", 0, {"", ""}, "prints the answering node's view, role and log positions"},
    {"transfer-primary", "ID", 1, {"", ""}, "hands the primary role to member ID"},
    {"snapshot", "", 0, {"", ""}, "asks the answering node to take a snapshot now"},
}};

std::string flag_usage(std::string_view flag) {
  if (flag == "if-version") return "[--if-version N]";
  if (flag == "stale") return "[--stale]";
  if (flag == "limit") return "[--limit N]";
  return "";
}

std::string usage_of(const CommandSpec& spec) {
  std::string out = "usage: synodctl [global flags] " + std::string(spec.name);
  if (!spec.arguments.empty()) out += " " + std::string(spec.arguments);
  for (std::string_view flag : spec.flags) {
    if (!flag.empty()) out += " " + flag_usage(flag);
  }
  return out;
}

const std::string kGeneralUsage =
    "usage: synodctl [--endpoints HOST:PORT,...] [--timeout DURATION] [--json] COMMAND ...\n"
    "commands: put, get, del, cas, list, member add|remove|list, status, transfer-primary, "
    "snapshot (see synodctl --help)";

const std::string kMemberUsage =
    "usage: synodctl [global flags] member add ID HOST:PORT | member remove ID | member list";

const CommandSpec* find_command(std::string_view name) {
  for (const CommandSpec& spec : kCommands) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

// --- Flags.

enum class FlagKind { kGlobal, kCommand };
struct FlagSpec {
  std::string_view name;
  bool takes_value;
  FlagKind kind;
};
constexpr std::array<FlagSpec, 6> kFlags = {{
    {"endpoints", true, FlagKind::kGlobal},
    {"timeout", true, FlagKind::kGlobal},
    {"json", false, FlagKind::kGlobal},
    {"if-version", true, FlagKind::kCommand},
    {"stale", false, FlagKind::kCommand},
    {"limit", true, FlagKind::kCommand},
}};

const FlagSpec* find_flag(std::string_view name) {
  for (const FlagSpec& flag : kFlags) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

// The command line split into flags (by name; value empty for a switch)
// and the words that are not flags, in order.
struct Split {
  std::map<std::string, std::string, std::less<>> flags;
  std::vector<std::string_view> words;
};

Result<Split> split(const std::vector<std::string_view>& args) {
  Split out;
  bool flags_ended = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (flags_ended || !arg.starts_with("--")) {
      out.words.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_ended = true;
      continue;
    }
    std::string_view name = arg.substr(2);
    std::optional<std::string_view> value;
    if (const std::size_t equals = name.find('='); equals != std::string_view::npos) {
      value = name.substr(equals + 1);
      name = name.substr(0, equals);
    }
    const FlagSpec* flag = find_flag(name);
    if (flag == nullptr) {
      return Error{"unknown flag --" + std::string(name) + "\n" + kGeneralUsage};
    }
    if (!flag->takes_value && value) {
      return Error{"--" + std::string(name) + " takes no value\n" + kGeneralUsage};
    }
    if (flag->takes_value && !value) {
      if (i + 1 == args.size() || args[i + 1].starts_with("--")) {
        return Error{"--" + std::string(name) + " needs a value\n" + kGeneralUsage};
      }
      value = args[++i];
    }
    if (out.flags.contains(name)) {
      return Error{"--" + std::string(name) + " given twice; give it once\n" + kGeneralUsage};
    }
    out.flags.emplace(std::string(name), std::string(value.value_or("")));
  }
  return out;
}

Result<std::uint64_t> parse_count(std::string_view text, std::uint64_t max) {
  if (text.empty()) return Error{"empty value; give a whole number"};
  std::uint64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return Error{quoted(text) + " is not a whole number"};
    if (n > (max - static_cast<std::uint64_t>(c - '0')) / 10) {
      return Error{quoted(text) + " is larger than " + std::to_string(max)};
    }
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

// --- Global flags.

Status apply_global_flags(const Split& split_args, CtlCommand& command) {
  if (auto it = split_args.flags.find("endpoints"); it != split_args.flags.end()) {
    std::vector<net::Endpoint> endpoints;
    std::string_view rest = it->second;
    while (true) {
      const std::size_t comma = rest.find(',');
      const std::string_view part = rest.substr(0, comma);
      if (part.empty()) {
        return Error{"--endpoints: empty address in " + quoted(it->second) +
                     "; separate addresses with single commas, as in "
                     "127.0.0.1:7001,127.0.0.1:7002\n" + kGeneralUsage};
      }
      Result<net::Endpoint> endpoint = net::parse_endpoint(part);
      if (!endpoint) return Error{"--endpoints: " + endpoint.error().message + "\n" + kGeneralUsage};
      if (std::find(endpoints.begin(), endpoints.end(), *endpoint) != endpoints.end()) {
        return Error{"--endpoints: " + net::to_string(*endpoint) + " listed twice\n" +
                     kGeneralUsage};
      }
      if (endpoints.size() == kCtlEndpointsMax) {
        return Error{"--endpoints: more than " + std::to_string(kCtlEndpointsMax) +
                     " addresses\n" + kGeneralUsage};
      }
      endpoints.push_back(*endpoint);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    command.endpoints = std::move(endpoints);
  }
  if (auto it = split_args.flags.find("timeout"); it != split_args.flags.end()) {
    Result<milliseconds> timeout = parse_duration(it->second);
    if (!timeout) return Error{"--timeout: " + timeout.error().message + "\n" + kGeneralUsage};
    if (*timeout < milliseconds(1) || *timeout > kCtlTimeoutMax) {
      return Error{"--timeout: " + format_duration(*timeout) + " is out of range; use 1ms to " +
                   format_duration(kCtlTimeoutMax) + "\n" + kGeneralUsage};
    }
    command.timeout = *timeout;
  }
  command.json = split_args.flags.contains("json");
  return Status::Ok();
}

// --- The command.

// Everything a command's builder needs, and its errors with the usage line.
struct CommandContext {
  const CommandSpec& spec;
  const std::vector<std::string_view>& arguments;  // after the command's name
  const Split& split_args;

  Error fail(const std::string& what) const {
    return Error{std::string(spec.name) + ": " + what + "\n" + usage_of(spec)};
  }
  std::string argument(std::size_t i) const { return std::string(arguments[i]); }
  const std::string* flag(std::string_view name) const {
    auto it = split_args.flags.find(name);
    return it == split_args.flags.end() ? nullptr : &it->second;
  }
};

Result<std::string> key_argument(const CommandContext& ctx, std::size_t i, std::string_view what) {
  if (ctx.arguments[i].empty()) return ctx.fail(std::string(what) + " is empty");
  return ctx.argument(i);
}

Result<NodeId> id_argument(const CommandContext& ctx, std::size_t i) {
  if (Status s = validate_node_id(ctx.arguments[i]); !s) return ctx.fail(s.error().message);
  return ctx.argument(i);
}

Result<std::optional<std::uint64_t>> if_version_flag(const CommandContext& ctx) {
  const std::string* value = ctx.flag("if-version");
  if (value == nullptr) return std::optional<std::uint64_t>();
  Result<std::uint64_t> n = parse_count(*value, UINT64_MAX);
  if (!n) return ctx.fail("--if-version: " + n.error().message);
  return std::optional<std::uint64_t>(*n);
}

Result<CtlOperation> build(const CommandContext& ctx) {
  const std::string_view name = ctx.spec.name;
  if (name == "put" || name == "del") {
    Result<std::string> key = key_argument(ctx, 0, "KEY");
    if (!key) return key.error();
    Result<std::optional<std::uint64_t>> if_version = if_version_flag(ctx);
    if (!if_version) return if_version.error();
    if (name == "put") return CtlOperation(PutCommand{*key, ctx.argument(1), *if_version});
    return CtlOperation(DelCommand{*key, *if_version});
  }
  if (name == "get") {
    Result<std::string> key = key_argument(ctx, 0, "KEY");
    if (!key) return key.error();
    return CtlOperation(GetCommand{*key, ctx.flag("stale") != nullptr});
  }
  if (name == "cas") {
    Result<std::string> key = key_argument(ctx, 0, "KEY");
    if (!key) return key.error();
    return CtlOperation(CasCommand{*key, ctx.argument(1), ctx.argument(2)});
  }
  if (name == "list") {
    ListCommand list{ctx.argument(0), kListLimitDefault};
    if (const std::string* value = ctx.flag("limit")) {
      Result<std::uint64_t> n = parse_count(*value, kListLimitMax);
      if (!n) return ctx.fail("--limit: " + n.error().message);
      if (*n == 0) return ctx.fail("--limit: 0 lists nothing; give 1 to " + std::to_string(kListLimitMax));
      list.limit = *n;
    }
    return CtlOperation(list);
  }
  if (name == "member add") {
    Result<NodeId> id = id_argument(ctx, 0);
    if (!id) return id.error();
    Result<net::Endpoint> address = net::parse_endpoint(ctx.arguments[1]);
    if (!address) return ctx.fail(address.error().message);
    return CtlOperation(MemberAddCommand{*id, *address});
  }
  if (name == "member remove" || name == "transfer-primary") {
    Result<NodeId> id = id_argument(ctx, 0);
    if (!id) return id.error();
    if (name == "member remove") return CtlOperation(MemberRemoveCommand{*id});
    return CtlOperation(TransferPrimaryCommand{*id});
  }
  if (name == "member list") return CtlOperation(MemberListCommand{});
  if (name == "status") return CtlOperation(StatusCommand{});
  if (name == "snapshot") return CtlOperation(SnapshotCommand{});
  return ctx.fail("not implemented");  // every entry of kCommands is handled above
}

Result<CtlOperation> parse_operation(const Split& split_args) {
  const std::vector<std::string_view>& words = split_args.words;
  if (words.empty()) return Error{"no command given\n" + kGeneralUsage};

  std::string name(words[0]);
  std::size_t first_argument = 1;
  if (name == "member") {
    if (words.size() < 2) return Error{"member: expected add, remove or list\n" + kMemberUsage};
    name += " " + std::string(words[1]);
    if (find_command(name) == nullptr) {
      return Error{"member: unknown subcommand " + quoted(words[1]) +
                   "; expected add, remove or list\n" + kMemberUsage};
    }
    first_argument = 2;
  }
  const CommandSpec* spec = find_command(name);
  if (spec == nullptr) return Error{"unknown command " + quoted(words[0]) + "\n" + kGeneralUsage};

  const std::vector<std::string_view> arguments(words.begin() + first_argument, words.end());
  const CommandContext ctx{*spec, arguments, split_args};
  if (arguments.size() != spec->argument_count) {
    std::string what = spec->argument_count == 0
                           ? "takes no arguments"
                           : "expects " + std::string(spec->arguments);
    return ctx.fail(what + ", got " + std::to_string(arguments.size()) +
                    (arguments.size() == 1 ? " argument" : " arguments"));
  }
  for (const auto& [flag, value] : split_args.flags) {
    const FlagSpec* f = find_flag(flag);
    if (f->kind == FlagKind::kGlobal) continue;
    if (std::find(spec->flags.begin(), spec->flags.end(), flag) == spec->flags.end()) {
      return ctx.fail("--" + flag + " is not a flag of " + std::string(spec->name));
    }
  }
  return build(ctx);
}

}  // namespace

Result<CtlCommand> parse_ctl_args(int argc, const char* const argv[]) {
  std::vector<std::string_view> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);

  const auto only = [](CtlAction action) {
    CtlCommand command;
    command.action = action;
    return command;
  };
  // --help and --version win, except as words after "--".
  const auto flags_end = std::find(args.begin(), args.end(), std::string_view("--"));
  if (std::find_if(args.begin(), flags_end, [](std::string_view a) {
        return a == "--help" || a == "-h";
      }) != flags_end ||
      (!args.empty() && args[0] == "help")) {
    return only(CtlAction::kHelp);
  }
  if (std::find(args.begin(), flags_end, std::string_view("--version")) != flags_end) {
    return only(CtlAction::kVersion);
  }

  Result<Split> split_args = split(args);
  if (!split_args) return split_args.error();
  CtlCommand command;
  if (Status s = apply_global_flags(*split_args, command); !s) return s.error();
  Result<CtlOperation> operation = parse_operation(*split_args);
  if (!operation) return operation.error();
  command.operation = std::move(*operation);
  return command;
}

std::string ctl_help() {
  std::ostringstream out;
  out << "synodctl: talk to a synod cluster\n\n"
         "usage: synodctl [global flags] COMMAND [ARGUMENTS] [command flags]\n\n"
         "commands:\n";
  for (const CommandSpec& spec : kCommands) {
    std::string line = "  " + std::string(spec.name);
    if (!spec.arguments.empty()) line += " " + std::string(spec.arguments);
    for (std::string_view flag : spec.flags) {
      if (!flag.empty()) line += " " + flag_usage(flag);
    }
    out << line << "\n      " << spec.help << "\n";
  }
  out << "\ncommand flags:\n"
         "  --if-version N  only if the key's current version is N\n"
         "  --stale         any node answers from what it has applied (may be behind)\n"
         "  --limit N       at most N keys; default "
      << kListLimitDefault << ", at most " << kListLimitMax
      << "\n\n"
         "global flags (anywhere on the line; --flag VALUE or --flag=VALUE):\n"
         "  --endpoints HOST:PORT,...  nodes to try, in order; default 127.0.0.1:7001\n"
         "                             example: --endpoints 10.0.0.1:7001,10.0.0.2:7001\n"
         "  --timeout DURATION         for the whole command; default "
      << format_duration(kCtlTimeoutDefault) << ", at most " << format_duration(kCtlTimeoutMax)
      << "\n"
         "                             example: --timeout 500ms (units: ms, s, m, h)\n"
         "  --json                     print one JSON object instead of text\n"
         "  --help                     print this and exit\n"
         "  --version                  print the version and exit\n"
         "  --                         ends the flags: synodctl put -- --key value\n\n"
         "exit codes:\n"
         "  0  done\n"
         "  1  the key is missing, or the --if-version condition or the cas compare failed\n"
         "  2  usage error: nothing was sent\n"
         "  3  no node answered in time: the outcome is unknown (a write may have happened)\n\n"
         "examples:\n"
         "  synodctl put config/mode fast\n"
         "  synodctl --endpoints 127.0.0.1:7001,127.0.0.1:7002 get config/mode --stale\n"
         "  synodctl member add n4 127.0.0.1:7004\n";
  return out.str();
}

std::string ctl_version() { return std::string("synodctl ") + SYNOD_VERSION + "\n"; }

}  // namespace synod::tools
