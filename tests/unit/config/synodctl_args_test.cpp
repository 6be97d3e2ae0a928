#include "tools/synodctl_args.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config_test_util.h"

namespace synod::tools {
namespace {

using config_testing::Argv;
using config_testing::expect_error;
using std::chrono::milliseconds;

Result<CtlCommand> parse(std::vector<std::string> args) {
  Argv argv("synodctl", std::move(args));
  return parse_ctl_args(argv.argc(), argv.argv());
}

CtlCommand parse_ok(std::vector<std::string> args) {
  Result<CtlCommand> command = parse(std::move(args));
  EXPECT_TRUE(command.ok()) << command.error().message;
  return command.ok() ? *command : CtlCommand{};
}

// The operation of a good command line, as the type the test expects.
template <typename T>
T op(std::vector<std::string> args) {
  CtlCommand command = parse_ok(std::move(args));
  EXPECT_EQ(command.action, CtlAction::kRun);
  const T* got = std::get_if<T>(&command.operation);
  EXPECT_NE(got, nullptr) << "parsed as variant index " << command.operation.index();
  return got != nullptr ? *got : T{};
}

net::Endpoint ep(const std::string& host, std::uint16_t port) { return net::Endpoint{host, port}; }

TEST(CtlArgs, ExitCodesAreFixed) {
  EXPECT_EQ(kExitOk, 0);
  EXPECT_EQ(kExitFailed, 1);
  EXPECT_EQ(kExitUsage, 2);
  EXPECT_EQ(kExitUnavailable, 3);
}

TEST(CtlArgs, GlobalDefaults) {
  CtlCommand c = parse_ok({"status"});
  EXPECT_EQ(c.action, CtlAction::kRun);
  EXPECT_EQ(c.endpoints, (std::vector<net::Endpoint>{ep("127.0.0.1", 7001)}));
  EXPECT_EQ(c.timeout, milliseconds(5000));
  EXPECT_FALSE(c.json);
  EXPECT_TRUE(std::holds_alternative<StatusCommand>(c.operation));
}

TEST(CtlArgs, GlobalFlagsInEitherSpellingAndAnywhere) {
  const std::vector<std::vector<std::string>> lines = {
      {"--endpoints", "10.0.0.1:7001,[::1]:7002", "--timeout", "500ms", "--json", "status"},
      {"--endpoints=10.0.0.1:7001,[::1]:7002", "--timeout=500ms", "status", "--json"},
      {"status", "--json", "--timeout", "500ms", "--endpoints", "10.0.0.1:7001,[::1]:7002"},
  };
  for (const auto& line : lines) {
    CtlCommand c = parse_ok(line);
    EXPECT_EQ(c.endpoints, (std::vector<net::Endpoint>{ep("10.0.0.1", 7001), ep("::1", 7002)}));
    EXPECT_EQ(c.timeout, milliseconds(500));
    EXPECT_TRUE(c.json);
  }
}

TEST(CtlArgs, EachCommandParsesToItsValues) {
  EXPECT_EQ(op<PutCommand>({"put", "k", "v"}), (PutCommand{"k", "v", std::nullopt}));
  EXPECT_EQ(op<PutCommand>({"put", "k", "v", "--if-version", "3"}), (PutCommand{"k", "v", 3}));
  EXPECT_EQ(op<PutCommand>({"put", "--if-version=0", "k", ""}), (PutCommand{"k", "", 0}));
  EXPECT_EQ(op<GetCommand>({"get", "k"}), (GetCommand{"k", false}));
  EXPECT_EQ(op<GetCommand>({"get", "k", "--stale"}), (GetCommand{"k", true}));
  EXPECT_EQ(op<DelCommand>({"del", "k"}), (DelCommand{"k", std::nullopt}));
  EXPECT_EQ(op<DelCommand>({"del", "k", "--if-version", "18446744073709551615"}),
            (DelCommand{"k", UINT64_MAX}));
  EXPECT_EQ(op<CasCommand>({"cas", "k", "old", "new"}), (CasCommand{"k", "old", "new"}));
  EXPECT_EQ(op<ListCommand>({"list", "app/"}), (ListCommand{"app/", kListLimitDefault}));
  EXPECT_EQ(op<ListCommand>({"list", "", "--limit", "10"}), (ListCommand{"", 10}));
  EXPECT_EQ(op<MemberAddCommand>({"member", "add", "n4", "127.0.0.1:7004"}),
            (MemberAddCommand{"n4", ep("127.0.0.1", 7004)}));
  EXPECT_EQ(op<MemberRemoveCommand>({"member", "remove", "n4"}), (MemberRemoveCommand{"n4"}));
  EXPECT_TRUE(std::holds_alternative<MemberListCommand>(parse_ok({"member", "list"}).operation));
  EXPECT_EQ(op<TransferPrimaryCommand>({"transfer-primary", "n2"}), (TransferPrimaryCommand{"n2"}));
  EXPECT_TRUE(std::holds_alternative<SnapshotCommand>(parse_ok({"snapshot"}).operation));
}

TEST(CtlArgs, DoubleDashEndsTheFlags) {
  EXPECT_EQ(op<PutCommand>({"put", "--", "--key", "--value"}), (PutCommand{"--key", "--value", std::nullopt}));
  // --help after "--" is a word, not a request for help.
  EXPECT_EQ(op<GetCommand>({"get", "--stale", "--", "--help"}), (GetCommand{"--help", true}));
}

TEST(CtlArgs, HelpAndVersionWin) {
  EXPECT_EQ(parse_ok({"--help"}).action, CtlAction::kHelp);
  EXPECT_EQ(parse_ok({"-h"}).action, CtlAction::kHelp);
  EXPECT_EQ(parse_ok({"help"}).action, CtlAction::kHelp);
  EXPECT_EQ(parse_ok({"put", "--help"}).action, CtlAction::kHelp);
  EXPECT_EQ(parse_ok({"--timeout", "x", "--help"}).action, CtlAction::kHelp);
  EXPECT_EQ(parse_ok({"--version"}).action, CtlAction::kVersion);
}

// --- Usage errors say what is wrong and show the command's usage line.

const std::string kPutUsage = "usage: synodctl [global flags] put KEY VALUE [--if-version N]";

TEST(CtlArgs, RefusesNoOrUnknownCommand) {
  expect_error(parse({"--json"}), {"no command given", "usage: synodctl", "put, get, del"});
  expect_error(parse({"frob"}), {"unknown command 'frob'", "usage: synodctl"});
}

TEST(CtlArgs, RefusesTheWrongNumberOfArguments) {
  expect_error(parse({"put", "k"}), {"put: expects KEY VALUE, got 1 argument", kPutUsage});
  expect_error(parse({"get"}), {"get: expects KEY, got 0 arguments",
                                "usage: synodctl [global flags] get KEY [--stale]"});
  expect_error(parse({"cas", "k", "a", "b", "c"}),
               {"cas: expects KEY EXPECTED NEW, got 4 arguments",
                "usage: synodctl [global flags] cas KEY EXPECTED NEW"});
  expect_error(parse({"status", "now"}),
               {"status: takes no arguments, got 1 argument", "usage: synodctl [global flags] status"});
  expect_error(parse({"member", "add", "n4"}),
               {"member add: expects ID HOST:PORT", "usage: synodctl [global flags] member add ID HOST:PORT"});
}

TEST(CtlArgs, RefusesAFlagOfAnotherCommand) {
  expect_error(parse({"put", "k", "v", "--stale"}), {"put: --stale is not a flag of put", kPutUsage});
  expect_error(parse({"get", "k", "--limit", "3"}), {"--limit is not a flag of get"});
  expect_error(parse({"status", "--if-version", "1"}), {"--if-version is not a flag of status"});
}

TEST(CtlArgs, RefusesBadNumbers) {
  expect_error(parse({"put", "k", "v", "--if-version", "abc"}),
               {"put: --if-version: 'abc' is not a whole number", kPutUsage});
  expect_error(parse({"del", "k", "--if-version", "18446744073709551616"}),
               {"--if-version: ", "larger than 18446744073709551615"});
  expect_error(parse({"list", "p", "--limit", "0"}), {"list: --limit: 0 lists nothing", "usage: synodctl [global flags] list PREFIX [--limit N]"});
  expect_error(parse({"list", "p", "--limit", "100001"}), {"--limit: ", "larger than 100000"});
  expect_error(parse({"list", "p", "--limit", "-1"}), {"--limit: '-1' is not a whole number"});
  expect_error(parse({"list", "p", "--limit=-1"}), {"--limit: '-1' is not a whole number"});
}

TEST(CtlArgs, RefusesAnEmptyKey) {
  expect_error(parse({"get", ""}), {"get: KEY is empty", "usage: synodctl [global flags] get KEY"});
  expect_error(parse({"put", "", "v"}), {"put: KEY is empty", kPutUsage});
}

TEST(CtlArgs, RefusesBadMemberCommands) {
  expect_error(parse({"member"}), {"member: expected add, remove or list", "member add ID HOST:PORT"});
  expect_error(parse({"member", "drop", "n1"}), {"member: unknown subcommand 'drop'", "member remove ID"});
  expect_error(parse({"member", "add", "n 4", "127.0.0.1:7004"}),
               {"member add: node id 'n 4'", "usage: synodctl [global flags] member add ID HOST:PORT"});
  expect_error(parse({"member", "add", "n4", "localhost"}),
               {"member add: endpoint 'localhost' has no port", "member add ID HOST:PORT"});
  expect_error(parse({"member", "remove", "n/1"}), {"member remove: node id 'n/1'"});
  expect_error(parse({"transfer-primary", ""}), {"transfer-primary: node id is empty"});
}

TEST(CtlArgs, RefusesBadEndpoints) {
  expect_error(parse({"--endpoints", "localhost", "status"}),
               {"--endpoints: endpoint 'localhost' has no port", "usage: synodctl"});
  expect_error(parse({"--endpoints", "127.0.0.1:7001,127.0.0.1:7001", "status"}),
               {"--endpoints: 127.0.0.1:7001 listed twice"});
  expect_error(parse({"--endpoints", "127.0.0.1:7001,", "status"}), {"--endpoints: empty address"});
  std::string many;
  for (int i = 1; i <= 65; ++i) many += (i > 1 ? "," : "") + std::string("127.0.0.1:") + std::to_string(7000 + i);
  expect_error(parse({"--endpoints", many, "status"}), {"--endpoints: more than 64 addresses"});
}

TEST(CtlArgs, RefusesBadTimeouts) {
  expect_error(parse({"--timeout", "5", "status"}), {"--timeout: ", "no unit", "500ms"});
  expect_error(parse({"--timeout", "0ms", "status"}), {"--timeout: 0ms is out of range", "1ms to 1h"});
  expect_error(parse({"--timeout", "2h", "status"}), {"--timeout: 2h is out of range"});
}

TEST(CtlArgs, RefusesUnknownRepeatedAndMisusedFlags) {
  expect_error(parse({"--endpoint", "127.0.0.1:7001", "status"}), {"unknown flag --endpoint", "usage:"});
  expect_error(parse({"--json=yes", "status"}), {"--json takes no value"});
  expect_error(parse({"status", "--timeout"}), {"--timeout needs a value"});
  expect_error(parse({"--json", "--json", "status"}), {"--json given twice"});
}

TEST(CtlArgs, HelpDocumentsCommandsFlagsAndExitCodes) {
  const std::string help = ctl_help();
  for (const char* line : {"put KEY VALUE [--if-version N]", "get KEY [--stale]",
                           "del KEY [--if-version N]", "cas KEY EXPECTED NEW",
                           "list PREFIX [--limit N]", "member add ID HOST:PORT", "member remove ID",
                           "member list", "status", "transfer-primary ID", "snapshot",
                           "--endpoints HOST:PORT,...", "default 127.0.0.1:7001", "--timeout DURATION",
                           "default 5s", "--json", "--help", "--version", "0  done",
                           "1  the key is missing", "2  usage error", "3  no node answered in time"}) {
    EXPECT_NE(help.find(line), std::string::npos) << "'" << line << "' missing from help";
  }
  EXPECT_EQ(help.back(), '\n');
  EXPECT_TRUE(ctl_version().starts_with("synodctl "));
}

}  // namespace
}  // namespace synod::tools
