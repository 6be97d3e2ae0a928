#include "server/server_config.h"

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config_test_util.h"
#include "unit/storage/temp_dir.h"

namespace synod::server {
namespace {

using config_testing::Argv;
using config_testing::expect_error;
using std::chrono::milliseconds;
using storage::testing::TempDir;

Result<ServerConfig> parse(std::vector<std::string> args) {
  Argv argv("synod", std::move(args));
  return parse_server_args(argv.argc(), argv.argv());
}

ServerConfig parse_ok(std::vector<std::string> args) {
  Result<ServerConfig> config = parse(std::move(args));
  EXPECT_TRUE(config.ok()) << config.error().message;
  return config.ok() ? *config : ServerConfig{};
}

net::Endpoint ep(const std::string& host, std::uint16_t port) { return net::Endpoint{host, port}; }

const std::string kThree = "n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003";
// FNV-1a 64 of "synod-cluster-v1\nname=synod\nprimary=n1@127.0.0.1:7001\n"
// "backup=n2@127.0.0.1:7002\nbackup=n3@127.0.0.1:7003\n", checked against an independent FNV-1a.
const std::string kPinnedThree = "0xdc632286e55cd565";
const std::vector<ViewMember> kThreeMembers = {
    {"n1", {"127.0.0.1", 7001}}, {"n2", {"127.0.0.1", 7002}}, {"n3", {"127.0.0.1", 7003}}};

// A valid command line for n1 of kThree, plus `more`.
std::vector<std::string> n1_args(std::vector<std::string> more = {}) {
  std::vector<std::string> args = {"--id", "n1", "--data", "var/n1", "--initial-view", kThree};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// --- Good command lines give exactly these values.

TEST(ServerConfig, OneNodeViewGivesItsValuesAndEveryDefault) {
  ServerConfig c = parse_ok({"--id", "n1", "--data", "var/n1", "--initial-view", "n1=127.0.0.1:7001"});
  EXPECT_EQ(c.action, ServerAction::kRun);
  EXPECT_EQ(c.id, "n1");
  EXPECT_EQ(c.data_dir, "var/n1");
  EXPECT_EQ(c.initial_view, (std::vector<ViewMember>{{"n1", ep("127.0.0.1", 7001)}}));
  EXPECT_EQ(c.listen, ep("127.0.0.1", 7001));  // defaults to its address in the view
  EXPECT_TRUE(c.join.empty());
  EXPECT_FALSE(c.joining());
  EXPECT_EQ(c.cluster_name, "synod");
  EXPECT_EQ(c.cluster_id, derive_cluster_id("synod", c.initial_view));
  EXPECT_EQ(c.log_level, log::Level::kInfo);
  EXPECT_EQ(c.tick, milliseconds(10));
  EXPECT_EQ(c.primary_timeout, milliseconds(300));
  EXPECT_EQ(c.session_timeout, milliseconds(600'000));
  EXPECT_EQ(c.snapshot_entries, 10'000u);
  EXPECT_EQ(c.config_file, "");
}

TEST(ServerConfig, EveryFlagSetsItsValueInBothSpellings) {
  const std::vector<std::string> spaced = {
      "--id", "n2", "--data", "/srv/synod/n2", "--initial-view", kThree,
      "--listen", "0.0.0.0:7102", "--cluster-name", "prod-eu", "--log-level", "debug",
      "--tick", "5ms", "--primary-timeout", "1.5s", "--session-timeout", "1h",
      "--snapshot-entries", "50000"};
  std::vector<std::string> equals;
  for (std::size_t i = 0; i < spaced.size(); i += 2) equals.push_back(spaced[i] + "=" + spaced[i + 1]);

  for (const auto& args : {spaced, equals}) {
    ServerConfig c = parse_ok(args);
    EXPECT_EQ(c.id, "n2");
    EXPECT_EQ(c.data_dir, "/srv/synod/n2");
    EXPECT_EQ(c.initial_view, kThreeMembers);
    EXPECT_EQ(c.listen, ep("0.0.0.0", 7102));
    EXPECT_EQ(c.cluster_name, "prod-eu");
    EXPECT_EQ(c.cluster_id, derive_cluster_id("prod-eu", kThreeMembers));
    EXPECT_EQ(c.log_level, log::Level::kDebug);
    EXPECT_EQ(c.tick, milliseconds(5));
    EXPECT_EQ(c.primary_timeout, milliseconds(1500));
    EXPECT_EQ(c.session_timeout, milliseconds(3'600'000));
    EXPECT_EQ(c.snapshot_entries, 50'000u);
  }
}

TEST(ServerConfig, EachLogLevelParses) {
  EXPECT_EQ(parse_ok(n1_args({"--log-level", "error"})).log_level, log::Level::kError);
  EXPECT_EQ(parse_ok(n1_args({"--log-level", "warn"})).log_level, log::Level::kWarn);
  EXPECT_EQ(parse_ok(n1_args({"--log-level", "info"})).log_level, log::Level::kInfo);
  EXPECT_EQ(parse_ok(n1_args({"--log-level", "debug"})).log_level, log::Level::kDebug);
}

TEST(ServerConfig, FirstListedMemberIsThePrimaryOfViewOne) {
  ServerConfig c = parse_ok({"--id", "n1", "--data", "d", "--initial-view",
                             "n3=127.0.0.1:7003,n1=127.0.0.1:7001,n2=127.0.0.1:7002"});
  ASSERT_EQ(c.initial_view.size(), 3u);
  EXPECT_EQ(c.initial_view[0].id, "n3");  // order kept as given
  EXPECT_EQ(c.listen, ep("127.0.0.1", 7001));
  Result<View> view = make_initial_view(c.initial_view);
  ASSERT_TRUE(view.ok()) << view.error().message;
  EXPECT_EQ(view->vid, 1u);
  EXPECT_EQ(view->primary, "n3");
  EXPECT_EQ(view->backups, (std::vector<NodeId>{"n1", "n2"}));
}

TEST(ServerConfig, ExplicitListenOverridesTheViewAddress) {
  EXPECT_EQ(parse_ok(n1_args({"--listen", "[::]:7001"})).listen, ep("::", 7001));
}

TEST(ServerConfig, JoiningNodeKnowsTheClusterByItsInitialView) {
  ServerConfig c = parse_ok({"--id", "n4", "--data", "var/n4", "--listen", "127.0.0.1:7004",
                             "--initial-view", kThree, "--join", "127.0.0.1:7001,127.0.0.1:7002"});
  EXPECT_TRUE(c.joining());
  EXPECT_EQ(c.join, (std::vector<net::Endpoint>{ep("127.0.0.1", 7001), ep("127.0.0.1", 7002)}));
  EXPECT_EQ(c.initial_view.size(), 3u);
  EXPECT_EQ(c.listen, ep("127.0.0.1", 7004));
  EXPECT_EQ(c.cluster_id, parse_ok(n1_args()).cluster_id) << "a joining node is in another cluster";
}

TEST(ServerConfig, ZeroMeansNeverForSessionTimeoutAndSnapshots) {
  ServerConfig c = parse_ok(n1_args({"--session-timeout", "0ms", "--snapshot-entries", "0"}));
  EXPECT_EQ(c.session_timeout, milliseconds(0));
  EXPECT_EQ(c.snapshot_entries, 0u);
}

TEST(ServerConfig, PrimaryTimeoutOfExactlyTenTicksIsAccepted) {
  ServerConfig c = parse_ok(n1_args({"--tick", "5ms", "--primary-timeout", "50ms"}));
  EXPECT_EQ(c.primary_timeout, milliseconds(50));
}

TEST(ServerConfig, HelpAndVersionWinOverEverythingElse) {
  EXPECT_EQ(parse_ok({"--help"}).action, ServerAction::kHelp);
  EXPECT_EQ(parse_ok({"-h"}).action, ServerAction::kHelp);
  EXPECT_EQ(parse_ok({"--bogus", "--listen", "nonsense", "--help"}).action, ServerAction::kHelp);
  EXPECT_EQ(parse_ok({"--version"}).action, ServerAction::kVersion);
  EXPECT_EQ(parse_ok({"--version", "--help"}).action, ServerAction::kHelp);
  EXPECT_EQ(parse_ok({"--tick", "x", "--version"}).action, ServerAction::kVersion);
}

// --- Each bad input gives an error that names the flag and what to fix.

TEST(ServerConfig, RefusesListenThatIsNotHostPort) {
  expect_error(parse(n1_args({"--listen", "localhost"})), {"--listen: ", "'localhost'", "127.0.0.1:7001"});
  expect_error(parse(n1_args({"--listen=127.0.0.1:0"})), {"--listen: ", "port 0"});
}

TEST(ServerConfig, RefusesInvalidId) {
  expect_error(parse({"--id", "n 1", "--data", "d", "--initial-view", "n1=127.0.0.1:7001"}),
               {"--id: ", "'n 1'", "' '"});
}

TEST(ServerConfig, RefusesAnIdListedTwiceInTheView) {
  expect_error(parse({"--id", "n1", "--data", "d", "--initial-view",
                      "n1=127.0.0.1:7001,n4=127.0.0.1:7004,n4=127.0.0.1:7005"}),
               {"--initial-view: n4 listed twice"});
}

TEST(ServerConfig, RefusesAnAddressListedTwiceInTheView) {
  expect_error(parse({"--id", "n1", "--data", "d", "--initial-view",
                      "n1=127.0.0.1:7001,n2=127.0.0.1:7001"}),
               {"--initial-view: 127.0.0.1:7001 listed twice", "n1 and n2"});
}

TEST(ServerConfig, RefusesMalformedViewMembers) {
  auto view = [](const std::string& v) {
    return parse({"--id", "n1", "--data", "d", "--initial-view", v});
  };
  expect_error(view("n1"), {"--initial-view: ", "'n1' is not ID=HOST:PORT", "n1=127.0.0.1:7001"});
  expect_error(view("n1=localhost"), {"--initial-view: n1: ", "'localhost'", "no port"});
  expect_error(view("n 1=127.0.0.1:7001"), {"--initial-view: ", "'n 1'"});
  expect_error(view("n1=127.0.0.1:7001,,n2=127.0.0.1:7002"), {"--initial-view: ", "empty member"});
  expect_error(view("n1=127.0.0.1:7001,"), {"--initial-view: ", "empty member"});
  expect_error(view("=127.0.0.1:7001"), {"--initial-view: ", "node id is empty"});
}

TEST(ServerConfig, RefusesAViewLargerThanTheBound) {
  std::string v;
  for (std::size_t i = 1; i <= kInitialViewMembersMax + 1; ++i) {
    if (!v.empty()) v += ",";
    v += "n" + std::to_string(i) + "=127.0.0.1:" + std::to_string(7000 + i);
  }
  expect_error(parse({"--id", "n1", "--data", "d", "--initial-view", v}),
               {"--initial-view: ", "more than 64 members"});
}

TEST(ServerConfig, RefusesAnIdThatIsNotInTheView) {
  expect_error(parse({"--id", "n9", "--data", "d", "--initial-view", kThree}),
               {"--id n9 is not in --initial-view (add it, or use --join"});
}

TEST(ServerConfig, RequiresIdAndData) {
  expect_error(parse({"--data", "d", "--initial-view", kThree}), {"--id is required", "--id n1"});
  expect_error(parse({"--id", "n1", "--initial-view", kThree}), {"--data is required", "--data var/n1"});
}

TEST(ServerConfig, RequiresTheInitialViewAndJoinOnlyForNodesOutsideIt) {
  expect_error(parse({"--id", "n1", "--data", "d"}), {"--initial-view", "--join"});
  expect_error(parse({"--id", "n4", "--data", "d", "--listen", "127.0.0.1:7004", "--join", "127.0.0.1:7001"}),
               {"--join needs the cluster's --initial-view"});
  expect_error(parse(n1_args({"--join", "127.0.0.1:7009"})),
               {"--id n1 is in --initial-view", "does not --join"});
}

TEST(ServerConfig, JoiningRequiresListenOtherThanTheJoinAddresses) {
  expect_error(parse({"--id", "n4", "--data", "d", "--initial-view", kThree, "--join", "127.0.0.1:7001"}),
               {"--listen is required with --join"});
  expect_error(parse({"--id", "n4", "--data", "d", "--initial-view", kThree, "--listen", "127.0.0.1:7001", "--join",
                      "127.0.0.1:7001"}),
               {"--join: 127.0.0.1:7001 is this node's own --listen address"});
}

TEST(ServerConfig, RefusesMalformedJoinLists) {
  auto join = [](const std::string& j) {
    return parse({"--id", "n4", "--data", "d", "--initial-view", kThree, "--listen", "127.0.0.1:7004", "--join", j});
  };
  expect_error(join("127.0.0.1:7001,127.0.0.1:7001"), {"--join: 127.0.0.1:7001 listed twice"});
  expect_error(join("127.0.0.1"), {"--join: ", "'127.0.0.1'", "no port"});
  expect_error(join("127.0.0.1:7001,"), {"--join: ", "empty address"});
}

TEST(ServerConfig, RefusesBadLogLevels) {
  expect_error(parse(n1_args({"--log-level", "verbose"})),
               {"--log-level: ", "'verbose'", "error, warn, info or debug"});
  expect_error(parse(n1_args({"--log-level", "off"})), {"--log-level: ", "'off'"});
}

TEST(ServerConfig, RefusesBadDurations) {
  expect_error(parse(n1_args({"--tick", "10"})), {"--tick: ", "no unit", "500ms"});
  expect_error(parse(n1_args({"--tick", "0ms"})), {"--tick: ", "0ms is out of range", "1ms to 1s"});
  expect_error(parse(n1_args({"--tick", "2s"})), {"--tick: ", "out of range"});
  expect_error(parse(n1_args({"--primary-timeout", "-1s"})), {"--primary-timeout: ", "negative"});
  expect_error(parse(n1_args({"--primary-timeout", "11m"})), {"--primary-timeout: ", "1ms to 10m"});
  expect_error(parse(n1_args({"--session-timeout", "169h"})), {"--session-timeout: ", "0ms to 168h"});
}

TEST(ServerConfig, RefusesAPrimaryTimeoutShorterThanTenTicks) {
  expect_error(parse(n1_args({"--tick", "10ms", "--primary-timeout", "99ms"})),
               {"--primary-timeout 99ms", "10 ticks of --tick 10ms", "at least 100ms"});
}

TEST(ServerConfig, RefusesBadSnapshotEntries) {
  expect_error(parse(n1_args({"--snapshot-entries", "1e4"})),
               {"--snapshot-entries: ", "'1e4' is not a whole number", "10000"});
  expect_error(parse(n1_args({"--snapshot-entries", "1000000001"})),
               {"--snapshot-entries: ", "too large", "1000000000"});
}

TEST(ServerConfig, RefusesBadClusterNames) {
  expect_error(parse(n1_args({"--cluster-name", "prod eu"})), {"--cluster-name: ", "'prod eu'"});
  expect_error(parse(n1_args({"--cluster-name", std::string(65, 'a')})),
               {"--cluster-name: ", "longer than 64"});
}

TEST(ServerConfig, RefusesUnknownRepeatedAndValuelessFlags) {
  expect_error(parse(n1_args({"--lisen", "127.0.0.1:7001"})), {"unknown flag --lisen", "--help"});
  expect_error(parse(n1_args({"-l", "x"})), {"unknown flag '-l'"});
  expect_error(parse(n1_args({"--id", "n1"})), {"--id given twice"});
  expect_error(parse(n1_args({"--tick"})), {"--tick needs a value", "--tick 5ms"});
  expect_error(parse({"--id", "--data", "d"}), {"--id needs a value"});
  expect_error(parse({"--id", "n1", "--data=", "--initial-view", kThree}), {"--data: empty value"});
  expect_error(parse(n1_args({"run"})), {"unexpected argument 'run'"});
  expect_error(parse(n1_args({"--help=yes"})), {"--help takes no value"});
}

// --- The config file.

std::string write_file(const TempDir& tmp, const std::string& name, const std::string& text) {
  const std::string path = tmp.sub(name);
  std::ofstream(path) << text;
  return path;
}

TEST(ServerConfig, ConfigFileSetsFlagsByTheirNames) {
  TempDir tmp;
  const std::string file = write_file(tmp, "n2.conf",
                                      "# node n2\n"
                                      "\n"
                                      "id = n2\n"
                                      "  data=var/n2  \n"
                                      "initial-view = " + kThree + "\r\n"
                                      "    # indented comment\n"
                                      "tick = 20ms\n"
                                      "primary-timeout = 1s");  // no final newline
  ServerConfig c = parse_ok({"--config", file});
  EXPECT_EQ(c.id, "n2");
  EXPECT_EQ(c.data_dir, "var/n2");
  EXPECT_EQ(c.initial_view, kThreeMembers);
  EXPECT_EQ(c.listen, ep("127.0.0.1", 7002));
  EXPECT_EQ(c.tick, milliseconds(20));
  EXPECT_EQ(c.primary_timeout, milliseconds(1000));
  EXPECT_EQ(c.config_file, file);
}

TEST(ServerConfig, CommandLineOverridesTheConfigFile) {
  TempDir tmp;
  const std::string file =
      write_file(tmp, "c.conf", "id = n2\ndata = var/n2\ninitial-view = " + kThree + "\ntick = 20ms\n");
  ServerConfig c = parse_ok({"--tick", "5ms", "--config", file, "--id=n3"});
  EXPECT_EQ(c.id, "n3");
  EXPECT_EQ(c.tick, milliseconds(5));
  EXPECT_EQ(c.data_dir, "var/n2");
}

TEST(ServerConfig, ConfigFileErrorsNameTheFileLineAndKey) {
  TempDir tmp;
  auto with = [&](const std::string& text) {
    return parse({"--config", write_file(tmp, "bad.conf", text)});
  };
  const std::string f = tmp.sub("bad.conf");
  expect_error(with("id = n1\nlisten = localhost\n"), {f + ":2: listen: ", "'localhost'", "no port"});
  expect_error(with("id = n1\n\nlisen = 127.0.0.1:7001\n"), {f + ":3: ", "unknown key 'lisen'"});
  expect_error(with("just words\n"), {f + ":1: ", "expected 'key = value'", "'just words'"});
  expect_error(with("id = n1\nid = n2\n"), {f + ":2: ", "'id' already set on line 1"});
  expect_error(with("config = other.conf\n"), {f + ":1: ", "'config' cannot be set"});
  expect_error(with("tick =\n"), {f + ":1: tick: empty value"});
  // A rule between flags still names the flags.
  expect_error(with("id = n9\ndata = d\ninitial-view = " + kThree + "\n"),
               {"--id n9 is not in --initial-view"});
}

TEST(ServerConfig, RefusesAMissingOrRepeatedConfigFile) {
  TempDir tmp;
  expect_error(parse({"--config", tmp.sub("absent.conf")}), {"--config: ", "absent.conf"});
  const std::string file = write_file(tmp, "c.conf", "id = n1\n");
  expect_error(parse({"--config", file, "--config", file}), {"--config given twice"});
}

TEST(ServerConfig, RefusesAnOversizedConfigFile) {
  TempDir tmp;
  const std::string file = write_file(tmp, "big.conf", std::string(kConfigFileBytesMax + 1, '#'));
  expect_error(parse({"--config", file}), {"--config: ", "larger than 1048576 bytes"});
}

// --- The cluster id.

TEST(ClusterId, IsDeterministicAndPinned) {
  // Pinned: a change here changes the id of every existing cluster, whose
  // data dirs would then refuse their own nodes.
  EXPECT_EQ(derive_cluster_id("synod", kThreeMembers), derive_cluster_id("synod", kThreeMembers));
  EXPECT_EQ(format_cluster_id(derive_cluster_id("synod", kThreeMembers)), kPinnedThree);
}

TEST(ClusterId, IgnoresTheOrderOfTheBackupsOnly) {
  const ClusterId id = derive_cluster_id("synod", kThreeMembers);
  EXPECT_EQ(derive_cluster_id("synod", {kThreeMembers[0], kThreeMembers[2], kThreeMembers[1]}), id);
  // Another primary, address, member or name is another cluster.
  EXPECT_NE(derive_cluster_id("synod", {kThreeMembers[1], kThreeMembers[0], kThreeMembers[2]}), id);
  EXPECT_NE(derive_cluster_id("synod", {kThreeMembers[0], kThreeMembers[1],
                                        {"n3", ep("127.0.0.1", 7013)}}),
            id);
  EXPECT_NE(derive_cluster_id("synod", {kThreeMembers[0], kThreeMembers[1]}), id);
  EXPECT_NE(derive_cluster_id("other", kThreeMembers), id);
  EXPECT_NE(id, 0u);
}

TEST(ClusterId, EveryMemberStartedWithTheSameViewGetsTheSameId) {
  const ClusterId n1 = *parse_ok(n1_args()).cluster_id;
  const ClusterId n3 =
      *parse_ok({"--id", "n3", "--data", "var/n3", "--initial-view", kThree}).cluster_id;
  EXPECT_EQ(n1, n3);
}

TEST(ClusterId, FormatsAsSixteenHexDigits) {
  EXPECT_EQ(format_cluster_id(0x1234), "0x0000000000001234");
  EXPECT_EQ(format_cluster_id(0xfedcba9876543210ull), "0xfedcba9876543210");
}

// --- Ticks, help and version.

TEST(ServerConfig, ToTicksRoundsUp) {
  EXPECT_EQ(to_ticks(milliseconds(300), milliseconds(10)), 30u);
  EXPECT_EQ(to_ticks(milliseconds(301), milliseconds(10)), 31u);
  EXPECT_EQ(to_ticks(milliseconds(0), milliseconds(10)), 0u);
  EXPECT_EQ(to_ticks(kSessionTimeoutMax, kTickMin), 604'800'000u);
}

TEST(ServerConfig, HelpListsEveryFlagWithItsDefaultAndAnExample) {
  const std::string help = server_help();
  for (const char* flag : {"id", "data", "initial-view", "join", "listen", "cluster-name",
                           "log-level", "tick", "primary-timeout", "session-timeout",
                           "snapshot-entries", "config"}) {
    const std::string name = std::string("--") + flag + " ";
    const std::size_t at = help.find("  " + name);
    ASSERT_NE(at, std::string::npos) << name << " missing from help";
    const std::size_t next = help.find("\n  --", at + 1);
    const std::string entry = help.substr(at, next - at);
    EXPECT_NE(entry.find("default: "), std::string::npos) << entry;
    EXPECT_NE(entry.find("example: " + name), std::string::npos) << entry;
  }
  EXPECT_NE(help.find("default: 300ms"), std::string::npos);
  EXPECT_NE(help.find("--help"), std::string::npos);
  EXPECT_NE(help.find("--version"), std::string::npos);
  EXPECT_EQ(help.back(), '\n');
}

TEST(ServerConfig, HelpExamplesParse) {
  // The flags' examples, given together, make a valid command line.
  ServerConfig c = parse_ok({"--id", "n1", "--data", "var/n1", "--initial-view",
                             "n1=127.0.0.1:7001,n2=127.0.0.1:7002", "--listen", "0.0.0.0:7001",
                             "--cluster-name", "prod-eu", "--log-level", "debug", "--tick", "5ms",
                             "--primary-timeout", "1s", "--session-timeout", "1h",
                             "--snapshot-entries", "50000"});
  EXPECT_EQ(c.id, "n1");
}

TEST(ServerConfig, VersionNamesTheBinary) {
  EXPECT_TRUE(server_version().starts_with("synod "));
  EXPECT_EQ(server_version().back(), '\n');
}

}  // namespace
}  // namespace synod::server
