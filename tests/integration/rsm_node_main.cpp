// synod-rsm-node: one member of the replicated state machine in its own
// process (NodeRuntime with the test AppendRegister), for tests against real
// processes: real TCP, real RocksDB, SIGKILL. Not a user-facing tool: the
// synod daemon with the KV service replaces it.
//
//   synod-rsm-node --id n1 --listen 127.0.0.1:7001 --data DIR
//                  --initial-view n1=127.0.0.1:7001,n2=127.0.0.1:7002,...
//                  [--peers n4=127.0.0.1:7004,...] [--cluster 7]
//                  [--tick-ms 10] [--snapshot-after N] [--log-level info]
//
// The initial view lists id=host:port pairs, the first being the primary.
// stdout: "ready PORT" once it serves; "fatal: ..." before exiting on a
//         fatal error (exit code 3).
// stdin:  "quit", or end of input (the test that started it is gone): exit.

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "common/log.h"
#include "integration/append_register.h"
#include "server/node_runtime.h"

namespace {

std::mutex out_mu;

void say(const std::string& line) {
  std::lock_guard lock(out_mu);
  std::cout << line << std::endl;  // flushed: the test reads it at once
}

[[noreturn]] void die(const std::string& why) {
  std::cerr << "synod-rsm-node: " << why << "\n";
  std::exit(2);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

// "id=host:port,..." in order.
std::vector<std::pair<synod::NodeId, synod::net::Endpoint>> parse_members(const std::string& flag,
                                                                          const std::string& value) {
  std::vector<std::pair<synod::NodeId, synod::net::Endpoint>> out;
  for (const std::string& p : split(value, ',')) {
    auto eq = p.find('=');
    if (eq == std::string::npos) die(flag + " wants id=host:port,...");
    auto e = synod::net::parse_endpoint(p.substr(eq + 1));
    if (!e) die(flag + ": " + e.error().message);
    out.emplace_back(p.substr(0, eq), *e);
  }
  return out;
}

std::uint64_t number(const std::string& flag, const std::string& value) {
  char* end = nullptr;
  std::uint64_t n = std::strtoull(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0') die(flag + " wants a number, not \"" + value + "\"");
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace synod;
  server::NodeRuntimeOptions o;
  o.cluster = 7;
  std::vector<NodeId> initial;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--id") {
      o.self = value;
    } else if (flag == "--listen") {
      auto e = net::parse_endpoint(value);
      if (!e) die("--listen: " + e.error().message);
      o.listen = *e;
    } else if (flag == "--data") {
      o.data_dir = value;
    } else if (flag == "--cluster") {
      o.cluster = number(flag, value);
    } else if (flag == "--initial-view") {
      for (auto& [id, at] : parse_members(flag, value)) {
        initial.push_back(id);
        o.peers[id] = at;
      }
    } else if (flag == "--peers") {
      for (auto& [id, at] : parse_members(flag, value)) o.peers[id] = at;
    } else if (flag == "--tick-ms") {
      o.tick_ms = static_cast<std::uint32_t>(number(flag, value));
    } else if (flag == "--snapshot-after") {
      o.snapshot_after_entries = number(flag, value);
    } else if (flag == "--log-level") {
      log::Level level;
      if (!log::parse_level(value, level)) die("--log-level wants debug, info, warn, error or off");
      log::set_level(level);
    } else {
      die("unknown flag " + flag);
    }
  }
  if (argc % 2 == 0) die("every flag wants a value");
  if (o.self.empty() || o.data_dir.empty() || initial.empty()) die("--id, --data and --initial-view are required");
  if (o.listen.host.empty()) {
    auto it = o.peers.find(o.self);
    if (it == o.peers.end()) die("--listen is required for a node outside the initial view");
    o.listen = it->second;
  }
  auto view = View::make(1, initial[0], std::vector<NodeId>(initial.begin() + 1, initial.end()));
  if (!view) die("--initial-view: " + view.error().message);
  o.initial_view = *view;
  o.on_fatal = [](const std::string& why) {
    say("fatal: " + why);
    ::_exit(3);  // nothing after a failed write may be acknowledged
  };

  auto runtime = server::NodeRuntime::start(o, std::make_unique<testing::AppendRegister>());
  if (!runtime) die(runtime.error().message);
  say("ready " + std::to_string((*runtime)->listen_port()));

  for (std::string line; std::getline(std::cin, line);) {
    if (line == "quit") break;
  }
  return 0;
}
