#include "server/server_config.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "common/duration.h"

#ifndef SYNOD_VERSION
#error "SYNOD_VERSION must be defined by the build (the project's version)"
#endif

namespace synod::server {
namespace {

using std::chrono::milliseconds;

// --- Small text helpers.

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// Splits "a,b,c" at commas; an empty element is kept (and refused by callers).
std::vector<std::string_view> split_commas(std::string_view text) {
  std::vector<std::string_view> parts;
  while (true) {
    const std::size_t comma = text.find(',');
    parts.push_back(text.substr(0, comma));
    if (comma == std::string_view::npos) return parts;
    text.remove_prefix(comma + 1);
  }
}

// --- One flag per entry: its help text and how it sets the config. The
// parser, the config file and server_help() all read this table, so a flag
// cannot exist without its default and example in --help.

struct ParseState {
  ServerConfig config;
  bool listen_given = false;
};

using Apply = Status (*)(ParseState& state, std::string_view value);

struct Flag {
  std::string_view name;          // without "--"; also the config file key
  std::string_view arg;           // what the value is, for --help
  std::string_view default_text;  // shown in --help
  std::string_view example;       // a value that parses
  std::string_view help;
  Apply apply;
};

Status apply_id(ParseState& state, std::string_view value) {
  if (Status s = validate_node_id(value); !s) return s;
  state.config.id = std::string(value);
  return Status::Ok();
}

Status apply_data(ParseState& state, std::string_view value) {
  state.config.data_dir = std::string(value);
  return Status::Ok();
}

Status apply_listen(ParseState& state, std::string_view value) {
  Result<net::Endpoint> endpoint = net::parse_endpoint(value);
  if (!endpoint) return endpoint.error();
  state.config.listen = *endpoint;
  state.listen_given = true;
  return Status::Ok();
}

const std::string kViewExample = "n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003";

Status apply_initial_view(ParseState& state, std::string_view value) {
  std::vector<ViewMember> members;
  for (std::string_view part : split_commas(value)) {
    if (part.empty()) {
      return Error{"empty member in " + quoted(value) +
                   "; separate members with single commas, as in " + kViewExample};
    }
    if (members.size() == kInitialViewMembersMax) {
      return Error{"more than " + std::to_string(kInitialViewMembersMax) + " members"};
    }
    const std::size_t equals = part.find('=');
    if (equals == std::string_view::npos) {
      return Error{quoted(part) + " is not ID=HOST:PORT (example: " + kViewExample + ")"};
    }
    const std::string_view id = part.substr(0, equals);
    if (Status s = validate_node_id(id); !s) return s;
    Result<net::Endpoint> address = net::parse_endpoint(part.substr(equals + 1));
    if (!address) return Error{std::string(id) + ": " + address.error().message};
    for (const ViewMember& m : members) {
      if (m.id == id) return Error{std::string(id) + " listed twice; each member once"};
      if (m.address == *address) {
        return Error{net::to_string(*address) + " listed twice (" + m.id + " and " +
                     std::string(id) + "); each member needs its own address"};
      }
    }
    members.push_back(ViewMember{std::string(id), *address});
  }
  state.config.initial_view = std::move(members);
  return Status::Ok();
}

Status apply_join(ParseState& state, std::string_view value) {
  std::vector<net::Endpoint> endpoints;
  for (std::string_view part : split_commas(value)) {
    if (part.empty()) {
      return Error{"empty address in " + quoted(value) +
                   "; separate addresses with single commas, as in 127.0.0.1:7001,127.0.0.1:7002"};
    }
    if (endpoints.size() == kJoinEndpointsMax) {
      return Error{"more than " + std::to_string(kJoinEndpointsMax) + " addresses"};
    }
    Result<net::Endpoint> endpoint = net::parse_endpoint(part);
    if (!endpoint) return endpoint.error();
    if (std::find(endpoints.begin(), endpoints.end(), *endpoint) != endpoints.end()) {
      return Error{net::to_string(*endpoint) + " listed twice"};
    }
    endpoints.push_back(*endpoint);
  }
  state.config.join = std::move(endpoints);
  return Status::Ok();
}

Status apply_cluster_name(ParseState& state, std::string_view value) {
  // The same alphabet as node ids, with its own wording.
  if (value.size() > kNodeIdLengthMax) {
    return Error{"cluster name is longer than " + std::to_string(kNodeIdLengthMax) +
                 " characters"};
  }
  if (Status s = validate_node_id(value); !s) {
    return Error{"cluster name " + quoted(value) +
                 " may hold only letters, digits, '_', '-' and '.'"};
  }
  state.config.cluster_name = std::string(value);
  return Status::Ok();
}

Status apply_log_level(ParseState& state, std::string_view value) {
  // log::parse_level also knows "off"; a server always reports its errors.
  log::Level level = log::Level::kInfo;
  if (value == "off" || !log::parse_level(value, level)) {
    return Error{quoted(value) + " is not a log level; use error, warn, info or debug"};
  }
  state.config.log_level = level;
  return Status::Ok();
}

// A duration within [min, max], or the error that says the range.
Result<milliseconds> bounded_duration(std::string_view value, milliseconds min, milliseconds max) {
  Result<milliseconds> d = parse_duration(value);
  if (!d) return d.error();
  if (*d < min || *d > max) {
    return Error{format_duration(*d) + " is out of range; use " + format_duration(min) + " to " +
                 format_duration(max)};
  }
  return *d;
}

Status apply_tick(ParseState& state, std::string_view value) {
  Result<milliseconds> d = bounded_duration(value, kTickMin, kTickMax);
  if (!d) return d.error();
  state.config.tick = *d;
  return Status::Ok();
}

Status apply_primary_timeout(ParseState& state, std::string_view value) {
  // The lower bound depends on --tick and is checked once both are known.
  Result<milliseconds> d = bounded_duration(value, milliseconds(1), kPrimaryTimeoutMax);
  if (!d) return d.error();
  state.config.primary_timeout = *d;
  return Status::Ok();
}

Status apply_session_timeout(ParseState& state, std::string_view value) {
  Result<milliseconds> d = bounded_duration(value, milliseconds(0), kSessionTimeoutMax);
  if (!d) return d.error();
  state.config.session_timeout = *d;
  return Status::Ok();
}

Status apply_snapshot_entries(ParseState& state, std::string_view value) {
  const std::string usage = "; use 0 (never) or a count of log entries such as 10000, at most " +
                            std::to_string(kSnapshotEntriesMax);
  std::uint64_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return Error{quoted(value) + " is not a whole number" + usage};
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
    if (n > kSnapshotEntriesMax) return Error{quoted(value) + " is too large" + usage};
  }
  state.config.snapshot_entries = n;
  return Status::Ok();
}

constexpr std::array<Flag, 11> kFlags = {{
    {"id", "ID", "(required)", "n1",
     "This node's name: letters, digits, '_', '-', '.'. Its data dir records it.", apply_id},
    {"data", "DIR", "(required)", "var/n1",
     "This node's data dir, created on first start. It belongs to this node of this cluster\n"
     "for good: never share it, never give it to another node.",
     apply_data},
    {"initial-view", "ID=HOST:PORT,...", "(none)", "n1=127.0.0.1:7001,n2=127.0.0.1:7002",
     "Creates a cluster: its first members and their addresses, the first listed the primary.\n"
     "Give every original member the same list, on every start: the cluster id is derived\n"
     "from it. A one-node view works. A node that joins later gives the same list.",
     apply_initial_view},
    {"join", "HOST:PORT,...", "(none)", "127.0.0.1:7001,127.0.0.1:7002",
     "Members of a running cluster (with its --initial-view). This node waits as a learner\n"
     "until an operator adds it (synodctl member add); keep the flags on later starts.",
     apply_join},
    {"listen", "HOST:PORT", "this node's address in --initial-view; required with --join",
     "0.0.0.0:7001", "Where to accept peers and clients.", apply_listen},
    {"cluster-name", "NAME", "synod", "prod-eu",
     "Part of the cluster id, to tell apart clusters created with the same view. A joining\n"
     "node gives the cluster's.",
     apply_cluster_name},
    {"log-level", "LEVEL", "info", "debug", "One of error, warn, info, debug.", apply_log_level},
    {"tick", "DURATION", "10ms", "5ms",
     "The clock of the protocol: timeouts below are counted in ticks. 1ms to 1s.", apply_tick},
    {"primary-timeout", "DURATION", "300ms", "1s",
     "A backup that hears nothing from the primary this long starts a view change.\n"
     "At least 10 ticks, at most 10m.",
     apply_primary_timeout},
    {"session-timeout", "DURATION", "10m", "1h",
     "A client idle this long loses its exactly-once session; 0ms: never. At most 168h.",
     apply_session_timeout},
    {"snapshot-entries", "N", "10000", "50000",
     "Snapshot the state and compact the log every N entries; 0: never.", apply_snapshot_entries},
}};

const Flag* find_flag(std::string_view name) {
  for (const Flag& flag : kFlags) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

// --- Where each value came from, so that an error points at it.

struct Setting {
  std::string value;
  std::string where;  // "--listen", or "node.conf:3: listen"
};
using Settings = std::map<std::string, Setting, std::less<>>;

const std::string kSeeHelp = " (see synod --help)";

// The command line, without --help and --version (handled before).
struct CommandLine {
  Settings settings;
  std::optional<std::string> config_file;
};

Result<CommandLine> split_command_line(const std::vector<std::string_view>& args) {
  CommandLine out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (!arg.starts_with("--")) {
      if (arg.starts_with("-")) {
        return Error{"unknown flag " + quoted(arg) + "; flags start with '--'" + kSeeHelp};
      }
      return Error{"unexpected argument " + quoted(arg) +
                   "; synod takes only flags, such as --id n1" + kSeeHelp};
    }
    std::string_view body = arg.substr(2);
    std::optional<std::string_view> value;
    if (const std::size_t equals = body.find('='); equals != std::string_view::npos) {
      value = body.substr(equals + 1);
      body = body.substr(0, equals);
    }
    const std::string name(body);
    if (name == "help" || name == "version") {
      return Error{"--" + name + " takes no value"};
    }
    const Flag* flag = find_flag(name);
    if (flag == nullptr && name != "config") {
      return Error{"unknown flag --" + name + kSeeHelp};
    }
    const std::string example = flag != nullptr ? std::string(flag->example) : "synod.conf";
    if (!value) {
      if (i + 1 == args.size() || args[i + 1].starts_with("--")) {
        return Error{"--" + name + " needs a value, as in --" + name + " " + example};
      }
      value = args[++i];
    }
    if (name == "config") {
      if (out.config_file) return Error{"--config given twice; give it once"};
      out.config_file = std::string(*value);
      continue;
    }
    if (out.settings.contains(name)) return Error{"--" + name + " given twice; give it once"};
    out.settings[name] = Setting{std::string(*value), "--" + name};
  }
  return out;
}

// The config file: one "key = value" per line, keys the flag names without
// "--"; blank lines and lines starting with '#' are skipped.
Result<Settings> parse_config_text(std::string_view text, const std::string& file) {
  Settings settings;
  std::map<std::string, std::size_t, std::less<>> line_of;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t newline = text.find('\n');
    const std::string_view line = trim(text.substr(0, newline));
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (line.empty() || line.front() == '#') continue;

    const std::string at = file + ":" + std::to_string(line_no) + ": ";
    const std::size_t equals = line.find('=');
    if (equals == std::string_view::npos) {
      return Error{at + "expected 'key = value' (such as 'listen = 127.0.0.1:7001'), got " +
                   quoted(line)};
    }
    const std::string key(trim(line.substr(0, equals)));
    const std::string_view value = trim(line.substr(equals + 1));
    if (key == "config" || key == "help" || key == "version") {
      return Error{at + quoted(key) + " cannot be set in a config file"};
    }
    if (find_flag(key) == nullptr) {
      return Error{at + "unknown key " + quoted(key) +
                   "; keys are the flag names without '--', such as listen" + kSeeHelp};
    }
    if (auto it = line_of.find(key); it != line_of.end()) {
      return Error{at + quoted(key) + " already set on line " + std::to_string(it->second) +
                   "; set it once"};
    }
    line_of[key] = line_no;
    settings[key] = Setting{std::string(value), at + key};
  }
  return settings;
}

Result<Settings> read_config_file(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return Error{"--config: cannot read " + quoted(file) + ": " + std::strerror(errno)};
  }
  std::string text(kConfigFileBytesMax + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return Error{"--config: cannot read " + quoted(file)};
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kConfigFileBytesMax) {
    return Error{"--config: " + quoted(file) + " is larger than " +
                 std::to_string(kConfigFileBytesMax) + " bytes; is it the right file?"};
  }
  return parse_config_text(text, file);
}

// --- Rules between flags, once each has been read.

Status finish(ParseState& state) {
  ServerConfig& c = state.config;
  if (c.id.empty()) return Error{"--id is required: name this node, as in --id n1"};
  if (c.data_dir.empty()) {
    return Error{"--data is required: the node's own data dir, as in --data var/" + c.id};
  }
  if (c.initial_view.empty()) {
    if (c.joining()) {
      return Error{"--join needs the cluster's --initial-view too, the one its first members were "
                   "started with (as in --initial-view n1=127.0.0.1:7001,...): it names the cluster "
                   "and its first members"};
    }
    return Error{"give --initial-view to create a cluster (as in --initial-view " + c.id +
                 "=127.0.0.1:7001), or the cluster's --initial-view and --join to be added to it"};
  }
  const auto self = std::find_if(c.initial_view.begin(), c.initial_view.end(),
                                 [&](const ViewMember& m) { return m.id == c.id; });
  c.cluster_id = derive_cluster_id(c.cluster_name, c.initial_view);
  if (!c.joining()) {
    if (self == c.initial_view.end()) {
      return Error{"--id " + c.id + " is not in --initial-view (add it, or use --join to be added later)"};
    }
    if (!state.listen_given) c.listen = self->address;
  } else {
    if (self != c.initial_view.end()) {
      return Error{"--id " + c.id + " is in --initial-view: a first member of the cluster does not --join"};
    }
    if (!state.listen_given) {
      return Error{"--listen is required with --join: a joining node has no address in a "
                   "view yet (as in --listen 127.0.0.1:7004)"};
    }
    if (std::find(c.join.begin(), c.join.end(), c.listen) != c.join.end()) {
      return Error{"--join: " + net::to_string(c.listen) +
                   " is this node's own --listen address; list members of the running cluster"};
    }
  }
  const milliseconds primary_timeout_min = c.tick * kPrimaryTimeoutTicksMin;
  if (c.primary_timeout < primary_timeout_min) {
    return Error{"--primary-timeout " + format_duration(c.primary_timeout) + " is shorter than " +
                 std::to_string(kPrimaryTimeoutTicksMin) + " ticks of --tick " +
                 format_duration(c.tick) + "; use at least " +
                 format_duration(primary_timeout_min) + " (or a shorter --tick)"};
  }
  return Status::Ok();
}

}  // namespace

Result<ServerConfig> parse_server_args(int argc, const char* const argv[]) {
  std::vector<std::string_view> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);

  const auto only = [](ServerAction action) {
    ServerConfig config;
    config.action = action;
    return config;
  };
  for (std::string_view arg : args) {
    if (arg == "--help" || arg == "-h") return only(ServerAction::kHelp);
  }
  for (std::string_view arg : args) {
    if (arg == "--version") return only(ServerAction::kVersion);
  }

  Result<CommandLine> command_line = split_command_line(args);
  if (!command_line) return command_line.error();

  ParseState state;
  Settings settings;
  if (command_line->config_file) {
    Result<Settings> from_file = read_config_file(*command_line->config_file);
    if (!from_file) return from_file.error();
    settings = std::move(*from_file);
    state.config.config_file = *command_line->config_file;
  }
  for (auto& [name, setting] : command_line->settings) settings[name] = std::move(setting);

  // Table order, so that the same mistakes always give the same first error.
  for (const Flag& flag : kFlags) {
    const auto it = settings.find(flag.name);
    if (it == settings.end()) continue;
    const Setting& setting = it->second;
    if (setting.value.empty()) {
      return Error{setting.where + ": empty value; for example " + std::string(flag.example)};
    }
    if (Status s = flag.apply(state, setting.value); !s) {
      return Error{setting.where + ": " + s.error().message};
    }
  }
  if (Status s = finish(state); !s) return s.error();
  return std::move(state.config);
}

ClusterId derive_cluster_id(std::string_view cluster_name, const std::vector<ViewMember>& view) {
  assert(!view.empty());
  // Canonical text: versioned, the name, the primary, then the backups by id.
  // Ids and cluster names cannot hold '@' or '\n', so it parses one way only.
  std::vector<ViewMember> backups(view.begin() + 1, view.end());
  std::sort(backups.begin(), backups.end(),
            [](const ViewMember& a, const ViewMember& b) { return a.id < b.id; });
  std::string text = "synod-cluster-v1\nname=" + std::string(cluster_name) + "\n";
  text += "primary=" + view.front().id + "@" + net::to_string(view.front().address) + "\n";
  for (const ViewMember& m : backups) {
    text += "backup=" + m.id + "@" + net::to_string(m.address) + "\n";
  }

  constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
  constexpr std::uint64_t kFnvPrime = 1099511628211ull;
  std::uint64_t hash = kFnvOffset;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= kFnvPrime;
  }
  return hash == 0 ? 1 : hash;
}

Result<View> make_initial_view(const std::vector<ViewMember>& members) {
  if (members.empty()) return Error{"the initial view has no members"};
  std::vector<NodeId> backups;
  for (std::size_t i = 1; i < members.size(); ++i) backups.push_back(members[i].id);
  return View::make(1, members.front().id, std::move(backups));
}

std::string format_cluster_id(ClusterId id) {
  constexpr char kHex[] = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = 60; shift >= 0; shift -= 4) out.push_back(kHex[(id >> shift) & 0xf]);
  return out;
}

std::uint32_t to_ticks(milliseconds duration, milliseconds tick) {
  assert(tick.count() > 0 && duration.count() >= 0);
  const std::int64_t ticks = (duration.count() + tick.count() - 1) / tick.count();
  assert(ticks <= static_cast<std::int64_t>(UINT32_MAX));
  return static_cast<std::uint32_t>(ticks);
}

std::string server_help() {
  std::ostringstream out;
  out << "synod: one node of a synod cluster (a Paxos-backed coordination service)\n\n"
         "usage: synod --id ID --data DIR --initial-view ID=HOST:PORT,...   create a cluster\n"
         "       synod --id ID --data DIR --listen HOST:PORT --initial-view ... --join HOST:PORT,...\n"
         "                                                           be added to it later\n"
         "       synod --config FILE [flags]\n\n"
         "flags (--flag VALUE or --flag=VALUE):\n";
  for (const Flag& flag : kFlags) {
    out << "  --" << flag.name << " " << flag.arg << "\n";
    std::string_view help = flag.help;
    while (!help.empty()) {
      const std::size_t newline = help.find('\n');
      out << "      " << help.substr(0, newline) << "\n";
      help.remove_prefix(newline == std::string_view::npos ? help.size() : newline + 1);
    }
    out << "      default: " << flag.default_text << "\n";
    out << "      example: --" << flag.name << " " << flag.example << "\n";
  }
  out << "  --config FILE\n"
         "      Reads flags from FILE first; flags on the command line override it.\n"
         "      default: (none)\n"
         "      example: --config /etc/synod/n1.conf\n"
         "  --help     prints this and exits\n"
         "  --version  prints the version and exits\n\n"
         "durations: a number and a unit (ms, s, m, h), such as 500ms, 2s, 1.5s, 1m.\n\n"
         "config file: one 'key = value' per line, the keys the flag names without '--'\n"
         "(listen = 0.0.0.0:7001); lines starting with '#' and blank lines are skipped;\n"
         "each key once; relative paths are relative to the working directory.\n\n"
         "exit codes: 0 after --help, --version or a clean stop; 1 a fatal error while\n"
         "running; 2 a bad command line or config file.\n\n"
         "example, a three-node cluster on one machine (run each line in its own shell):\n";
  for (int n = 1; n <= 3; ++n) {
    out << "  synod --id n" << n << " --data var/n" << n
        << " --initial-view n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003\n";
  }
  return out.str();
}

std::string server_version() { return std::string("synod ") + SYNOD_VERSION + "\n"; }

}  // namespace synod::server
