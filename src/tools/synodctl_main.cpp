// synodctl: the command line of a synod cluster. The command line is
// synodctl_args.h's; this file turns it into client calls (synod/kv_client.h)
// and their outcomes into output and an exit code:
//   0 done; 1 key missing, condition or compare failed, or refused by the
//   cluster; 2 usage error (nothing was sent); 3 no answer in time (the
//   outcome is unknown: a write may have happened).
// Results go to stdout (text, or one JSON object with --json); what went
// wrong and what to do goes to stderr.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "common/duration.h"
#include "net/endpoint.h"
#include "synod/client.h"
#include "synod/kv_client.h"
#include "tools/synodctl_args.h"

namespace {

using namespace synod;
using namespace synod::tools;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// ---- Output -------------------------------------------------------------------

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += n;
  }
  return true;
}

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

std::string base64(std::string_view s) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 3) {
    std::uint32_t n = static_cast<unsigned char>(s[i]) << 16;
    if (i + 1 < s.size()) n |= static_cast<unsigned char>(s[i + 1]) << 8;
    if (i + 2 < s.size()) n |= static_cast<unsigned char>(s[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < s.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < s.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

// One JSON object, its fields in the order added.
class Json {
 public:
  Json& raw(std::string_view name, const std::string& value) {
    out_ += (out_.empty() ? "" : ",") + json_quote(name) + ":" + value;
    return *this;
  }
  Json& str(std::string_view name, std::string_view value) { return raw(name, json_quote(value)); }
  Json& num(std::string_view name, std::uint64_t value) { return raw(name, std::to_string(value)); }
  Json& flag(std::string_view name, bool value) { return raw(name, value ? "true" : "false"); }
  // Keys and values are bytes: text when they are UTF-8, else NAME_base64.
  Json& bytes(std::string_view name, std::string_view value) {
    if (valid_utf8(value)) return str(name, value);
    return str(std::string(name) + "_base64", base64(value));
  }
  std::string text() const { return "{" + out_ + "}"; }

 private:
  std::string out_;
};

std::string json_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i == 0 ? "" : ",") + items[i];
  return out + "]";
}

std::string json_position(const LogPosition& p) { return Json().num("view", p.view).num("seq", p.seq).text(); }

std::string json_entry(const KeyValue& e) {
  return Json()
      .bytes("key", e.key)
      .bytes("value", e.value)
      .num("version", e.version)
      .num("create_revision", e.create_revision)
      .num("mod_revision", e.mod_revision)
      .text();
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }
std::string position(const LogPosition& p) { return std::to_string(p.view) + "." + std::to_string(p.seq); }

// ---- Running a command ----------------------------------------------------------

struct Ctl {
  const CtlCommand& command;
  std::vector<std::string> endpoints;
  std::unique_ptr<KvClient> kv;

  bool json() const { return command.json; }
  std::string endpoint_list() const {
    std::string out;
    for (const std::string& e : endpoints) out += (out.empty() ? "" : ",") + e;
    return out;
  }

  int print(const Json& j) const {
    std::cout << j.text() << "\n";
    return kExitOk;
  }

  // Says what went wrong (stderr; and stdout with --json) and returns the exit code.
  int fail(const std::string& what, int code, const std::string& error, const std::string& sentence) const {
    std::cerr << "synodctl: " << what << ": " << sentence << "\n";
    if (json()) {
      std::cout << Json().flag("ok", false).str("error", error).str("message", sentence).text() << "\n";
    }
    return code;
  }

  // The call did not go through: why, and what to do.
  int fail_outcome(const std::string& what, Outcome outcome, const std::string& message) const {
    const std::string t = format_duration(command.timeout);
    switch (outcome) {
      case Outcome::kOk:
        break;
      case Outcome::kOutcomeUnknown:
        return fail(what, kExitUnavailable, to_string(outcome),
                    "no answer within " + t + ": the change may or may not have happened; read the key to find out, " +
                        "or retry with a longer --timeout (" + message + ")");
      case Outcome::kUnavailable:
        return fail(what, kExitUnavailable, to_string(outcome),
                    "nothing was changed within " + t + " (endpoints " + endpoint_list() + "): " + message +
                        ". Check that the nodes run and that --endpoints lists them, or retry later");
      case Outcome::kSessionExpired:
        return fail(what, kExitUnavailable, to_string(outcome),
                    "the cluster ended this client's session: the outcome is unknown; retry (" + message + ")");
      case Outcome::kRejected:
        return fail(what, kExitFailed, to_string(outcome), "the cluster refused: " + message);
    }
    return fail(what, kExitFailed, "internal", "unexpected outcome");
  }

  // For the KV commands: the outcome, then the store's kInvalid.
  std::optional<int> fail_kv(const std::string& what, const KvResult& r) const {
    if (r.outcome != Outcome::kOk) return fail_outcome(what, r.outcome, r.message);
    if (r.status == KvStatus::kInvalid) return fail(what, kExitUsage, "invalid", r.message + "; nothing was changed");
    return std::nullopt;
  }

  int written(const std::string& what, const KvResult& r) const {
    const KeyValue& e = *r.entry;
    if (json()) {
      return print(Json().flag("ok", true).bytes("key", e.key).num("version", e.version).num("revision", r.revision)
                       .raw("entry", json_entry(e)));
    }
    std::cout << "OK " << what << " version=" << e.version << " revision=" << r.revision << "\n";
    return kExitOk;
  }

  std::string current(const KvResult& r) const {
    return r.entry ? "it is at version " + std::to_string(r.entry->version) : "it does not exist (version 0)";
  }

  int operator()(const PutCommand& c) const {
    KvResult r = kv->put(c.key, c.value, c.if_version, command.timeout);
    if (auto code = fail_kv("put", r)) return *code;
    if (r.status == KvStatus::kConditionFailed) {
      return fail("put", kExitFailed, "condition_failed",
                  "key " + quoted(c.key) + " is not at version " + std::to_string(*c.if_version) + ": " +
                      current(r) + "; nothing changed");
    }
    if (!r.entry) return fail("put", kExitFailed, "internal", "the store's answer has no entry");
    return written("put", r);
  }

  int operator()(const GetCommand& c) const {
    KvResult r = kv->get(c.key, c.stale ? ReadConsistency::kStale : ReadConsistency::kLinearizable, command.timeout);
    if (auto code = fail_kv("get", r)) return *code;
    if (r.status == KvStatus::kNotFound || !r.entry) {
      return fail("get", kExitFailed, "not_found", "key " + quoted(c.key) + " not found");
    }
    if (json()) {
      return print(Json().flag("ok", true).raw("entry", json_entry(*r.entry)).num("revision", r.revision)
                       .raw("as_of", json_position(r.as_of)));
    }
    // The value alone: exactly its bytes, so that $(synodctl get k) is the
    // value; a newline only on a terminal, for the prompt's sake.
    std::cout << r.entry->value;
    if (::isatty(STDOUT_FILENO)) std::cout << "\n";
    return kExitOk;
  }

  int operator()(const DelCommand& c) const {
    KvResult r = kv->del(c.key, c.if_version, command.timeout);
    if (auto code = fail_kv("del", r)) return *code;
    if (r.status == KvStatus::kNotFound) {
      return fail("del", kExitFailed, "not_found", "key " + quoted(c.key) + " not found; nothing deleted");
    }
    if (r.status == KvStatus::kConditionFailed) {
      return fail("del", kExitFailed, "condition_failed",
                  "key " + quoted(c.key) + " is not at version " + std::to_string(*c.if_version) + ": " +
                      current(r) + "; nothing deleted");
    }
    if (json()) return print(Json().flag("ok", true).bytes("key", c.key).num("revision", r.revision));
    std::cout << "OK del revision=" << r.revision << "\n";
    return kExitOk;
  }

  int operator()(const CasCommand& c) const {
    KvResult r = kv->cas(c.key, c.expected, c.new_value, command.timeout);
    if (auto code = fail_kv("cas", r)) return *code;
    if (r.status == KvStatus::kNotFound) {
      return fail("cas", kExitFailed, "not_found", "key " + quoted(c.key) + " not found; nothing changed");
    }
    if (r.status == KvStatus::kConditionFailed) {
      return fail("cas", kExitFailed, "compare_failed",
                  "the value of " + quoted(c.key) + " is not " + quoted(c.expected) + " (" + current(r) +
                      "); nothing changed");
    }
    if (!r.entry) return fail("cas", kExitFailed, "internal", "the store's answer has no entry");
    return written("cas", r);
  }

  int operator()(const ListCommand& c) const {
    KvResult r = kv->list(c.prefix, c.limit, ReadConsistency::kLinearizable, command.timeout);
    if (auto code = fail_kv("list", r)) return *code;
    if (json()) {
      std::vector<std::string> entries;
      for (const KeyValue& e : r.entries) entries.push_back(json_entry(e));
      return print(Json().flag("ok", true).num("revision", r.revision).num("count", r.entries.size())
                       .flag("more", r.more).raw("entries", json_array(entries)));
    }
    for (const KeyValue& e : r.entries) std::cout << e.key << "\t" << e.value << "\n";
    if (r.more) {
      std::cerr << "synodctl: list: more keys match than the " << r.entries.size()
                << " shown; narrow the prefix or raise --limit (one answer holds at most 10000 keys and about 2 MiB)\n";
    }
    return kExitOk;
  }

  int admin_done(const std::string& what, const AdminResult& r) const {
    if (!r.ok()) return fail_outcome(what, r.outcome, r.message);
    if (json()) return print(Json().flag("ok", true).str("message", r.message).str("primary", r.primary));
    std::cout << "OK " << (r.message.empty() ? what : r.message) << "\n";
    return kExitOk;
  }

  int operator()(const MemberAddCommand& c) const {
    return admin_done("member add", kv->client().add_member(c.id, net::to_string(c.address), command.timeout));
  }
  int operator()(const MemberRemoveCommand& c) const {
    return admin_done("member remove", kv->client().remove_member(c.id, command.timeout));
  }
  int operator()(const TransferPrimaryCommand& c) const {
    return admin_done("transfer-primary", kv->client().transfer_primary(c.id, command.timeout));
  }

  int operator()(const SnapshotCommand&) const {
    // Snapshots are per node: ask each endpoint.
    int code = kExitOk;
    for (const std::string& e : endpoints) {
      int one = admin_done("snapshot at " + e, kv->client().snapshot_now(e, command.timeout));
      code = std::max(code, one);
    }
    return code;
  }

  int operator()(const MemberListCommand&) const {
    AdminResult r = kv->client().list_members(command.timeout);
    if (!r.ok()) return fail_outcome("member list", r.outcome, r.message);
    if (json()) {
      std::vector<std::string> members;
      for (const MemberInfo& m : r.members) {
        members.push_back(Json().str("id", m.id).str("address", m.address).str("role", to_string(m.role)).text());
      }
      return print(Json().flag("ok", true).num("view", r.view).str("primary", r.primary)
                       .raw("members", json_array(members)));
    }
    std::cout << "ID\tADDRESS\tROLE\n";
    for (const MemberInfo& m : r.members) {
      std::cout << m.id << "\t" << (m.address.empty() ? "?" : m.address) << "\t" << to_string(m.role) << "\n";
    }
    return kExitOk;
  }

  int operator()(const StatusCommand&) const;
};

// ---- status ------------------------------------------------------------------------

// One row of `status`: a member (or a node that answered), as it describes
// itself when it answered, else as the others see it.
struct StatusRow {
  std::string id;
  std::string address;
  std::string role;
  std::optional<NodeStatus> node;  // its own answer
  std::string error;               // why it did not answer
};

std::map<std::string, AdminResult> ask_status(Client& client, const std::vector<std::string>& addresses,
                                              milliseconds timeout) {
  std::map<std::string, std::future<AdminResult>> pending;
  for (const std::string& a : addresses) {
    pending.emplace(a, std::async(std::launch::async, [&client, a, timeout] { return client.status(a, timeout); }));
  }
  std::map<std::string, AdminResult> out;
  for (auto& [a, f] : pending) out.emplace(a, f.get());
  return out;
}

int Ctl::operator()(const StatusCommand&) const {
  const auto deadline = Clock::now() + command.timeout;
  Client& client = kv->client();
  std::map<std::string, AdminResult> answers = ask_status(client, endpoints, command.timeout);
  // The members as the primary knows them (only it knows a learner being
  // added), else as the node with the newest view does; then ask the members
  // not asked yet. A few rounds: each may name members of a newer view.
  const AdminResult* newest = nullptr;
  for (int round = 0; round < 3; ++round) {
    newest = nullptr;
    for (const auto& [a, r] : answers) {
      if (!r.ok()) continue;
      const bool primary = r.node && r.node->role == MemberRole::kPrimary;
      const bool newest_primary = newest && newest->node && newest->node->role == MemberRole::kPrimary;
      if (newest == nullptr || r.view > newest->view || (r.view == newest->view && primary && !newest_primary)) {
        newest = &r;
      }
    }
    std::vector<std::string> more;
    for (const MemberInfo& m : newest ? newest->members : std::vector<MemberInfo>{}) {
      if (!m.address.empty() && answers.count(m.address) == 0) more.push_back(m.address);
    }
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (more.empty() || left <= milliseconds(0)) break;
    answers.merge(ask_status(client, more, left));
  }
  const std::vector<MemberInfo> members = newest ? newest->members : std::vector<MemberInfo>{};

  std::vector<StatusRow> rows;
  std::set<std::string> shown;  // addresses
  for (const MemberInfo& m : members) {
    StatusRow row{m.id, m.address, to_string(m.role), std::nullopt, "address unknown"};
    if (auto it = answers.find(m.address); it != answers.end()) {
      if (it->second.ok() && it->second.node && it->second.node->id == m.id) {
        row.node = it->second.node;
        row.role = to_string(it->second.node->role);
      } else {
        row.error = it->second.ok() ? "another node answers at this address" : it->second.message;
      }
      shown.insert(m.address);
    }
    rows.push_back(std::move(row));
  }
  for (const auto& [a, r] : answers) {  // nodes that answered but are not members, and silent endpoints
    if (shown.count(a) != 0) continue;
    StatusRow row{r.node ? r.node->id : "?", a, r.node ? to_string(r.node->role) : "?", r.node, r.message};
    if (r.node && !members.empty()) row.role += " (not a member)";
    rows.push_back(std::move(row));
  }

  // Lag: entries behind the primary's log, when in the same view.
  std::optional<NodeStatus> primary;
  for (const StatusRow& row : rows) {
    if (row.node && row.node->role == MemberRole::kPrimary && (!primary || row.node->view > primary->view)) {
      primary = row.node;
    }
  }
  auto lag = [&](const StatusRow& row) -> std::optional<std::uint64_t> {
    if (!row.node || !primary || row.node->last.view != primary->last.view) return std::nullopt;
    return primary->last.seq >= row.node->last.seq ? primary->last.seq - row.node->last.seq : 0;
  };
  const bool any = std::any_of(rows.begin(), rows.end(), [](const StatusRow& r) { return r.node.has_value(); });

  if (json()) {
    std::vector<std::string> items;
    for (const StatusRow& row : rows) {
      Json j;
      j.str("id", row.id).str("address", row.address).str("role", row.role).flag("reachable", row.node.has_value());
      if (row.node) {
        j.num("view", row.node->view).raw("last", json_position(row.node->last))
            .raw("commit", json_position(row.node->commit));
      } else {
        j.str("error", row.error);
      }
      const auto l = lag(row);
      j.raw("lag_entries", l ? std::to_string(*l) : "null");
      j.raw("state_transfer", "null");  // not reported by the protocol yet
      items.push_back(j.text());
    }
    std::cout << Json().flag("ok", any).num("view", newest ? newest->view : 0)
                     .str("primary", newest ? newest->primary : "").raw("members", json_array(items)).text()
              << "\n";
  } else {
    std::cout << "ID\tADDRESS\tROLE\tVIEW\tLAST\tCOMMIT\tREACHABLE\tLAG\tTRANSFER\n";
    for (const StatusRow& row : rows) {
      const auto l = lag(row);
      std::cout << row.id << "\t" << (row.address.empty() ? "?" : row.address) << "\t" << row.role << "\t"
                << (row.node ? std::to_string(row.node->view) : "-") << "\t"
                << (row.node ? position(row.node->last) : "-") << "\t"
                << (row.node ? position(row.node->commit) : "-") << "\t" << (row.node ? "yes" : "no") << "\t"
                << (l ? std::to_string(*l) : "-") << "\t-\n";
    }
  }
  for (const StatusRow& row : rows) {
    if (!row.node) std::cerr << "synodctl: status: " << row.id << " at " << row.address << ": " << row.error << "\n";
  }
  if (!any) {
    std::cerr << "synodctl: status: no node answered within " << format_duration(command.timeout) << " (endpoints "
              << endpoint_list() << "); check that the nodes run and that --endpoints lists them\n";
    return kExitUnavailable;
  }
  return kExitOk;
}

int run(const CtlCommand& command) {
  Ctl ctl{command, {}, nullptr};
  for (const net::Endpoint& e : command.endpoints) ctl.endpoints.push_back(net::to_string(e));
  ClientOptions options;
  options.default_timeout = std::max(command.timeout, milliseconds(1));
  // One attempt at one node, so that a dead node leaves time for the others.
  options.attempt_timeout = std::clamp(command.timeout / 3, milliseconds(1), milliseconds(1000));
  KvClient::Created created = KvClient::create(ctl.endpoints, options);
  if (!created) {
    std::cerr << "synodctl: " << created.error << "\n";
    return kExitUsage;
  }
  ctl.kv = std::move(created.client);
  return std::visit(ctl, command.operation);
}

}  // namespace

int main(int argc, char** argv) {
  Result<CtlCommand> parsed = parse_ctl_args(argc, argv);
  if (!parsed) {
    std::cerr << "synodctl: " << parsed.error().message << "\n";
    return kExitUsage;
  }
  switch (parsed->action) {
    case CtlAction::kHelp:
      std::cout << ctl_help();
      return kExitOk;
    case CtlAction::kVersion:
      std::cout << ctl_version();
      return kExitOk;
    case CtlAction::kRun:
      break;
  }
  try {
    return run(*parsed);
  } catch (const std::exception& e) {
    std::cerr << "synodctl: internal error: " << e.what() << "\n";
    return kExitUnavailable;
  }
}
