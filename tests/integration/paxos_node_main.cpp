// synod-paxos-node: one Paxos node in its own process, for tests against real
// processes (real TCP, real RocksDB, SIGKILL). Not a user-facing tool: the
// synod daemon replaces it once the replicated state machine exists.
//
//   synod-paxos-node --id n1 --listen 127.0.0.1:7001 --data DIR --cluster 7
//                    --peers n1=127.0.0.1:7001,n2=127.0.0.1:7002
//                    --initial-view n1,n2,n3        (first is the primary)
//
// stdin:  "propose I PRIMARY [BACKUP...]"  |  "quit"
// stdout: "ready PORT", "decided I VIEW" for every decision (recovered ones
//         first), "proposed I ok" / "proposed I error: ..."

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "server/paxos_runtime.h"

namespace {

std::mutex out_mu;

void say(const std::string& line) {
  std::lock_guard lock(out_mu);
  std::cout << line << std::endl;  // flushed: the test reads it at once
}

[[noreturn]] void die(const std::string& why) {
  std::cerr << "synod-paxos-node: " << why << "\n";
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

}  // namespace

int main(int argc, char** argv) {
  using namespace synod;
  server::PaxosRuntimeOptions o;
  std::vector<NodeId> initial;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--id") o.self = value;
    else if (flag == "--listen") {
      auto e = net::parse_endpoint(value);
      if (!e) die("--listen: " + e.error().message);
      o.listen = *e;
    } else if (flag == "--data") o.data_dir = value;
    else if (flag == "--cluster") o.cluster = std::strtoull(value.c_str(), nullptr, 10);
    else if (flag == "--peers") {
      for (const std::string& p : split(value, ',')) {
        auto eq = p.find('=');
        if (eq == std::string::npos) die("--peers wants id=host:port,...");
        auto e = net::parse_endpoint(p.substr(eq + 1));
        if (!e) die("--peers: " + e.error().message);
        o.peers[p.substr(0, eq)] = *e;
      }
    } else if (flag == "--initial-view") initial = split(value, ',');
    else die("unknown flag " + flag);
  }
  if (o.self.empty() || o.data_dir.empty() || initial.empty()) die("--id, --data and --initial-view are required");
  auto view = View::make(1, initial[0], std::vector<NodeId>(initial.begin() + 1, initial.end()));
  if (!view) die("--initial-view: " + view.error().message);
  o.initial_view = *view;

  auto runtime = server::PaxosRuntime::start(o, [](const paxos::Decision& d) {
    say("decided " + std::to_string(d.instance) + " " + to_string(d.value));
  });
  if (!runtime) die(runtime.error().message);
  for (const paxos::Decision& d : (*runtime)->recovered()) {
    say("decided " + std::to_string(d.instance) + " " + to_string(d.value));
  }
  say("ready " + std::to_string((*runtime)->listen_port()));

  for (std::string line; std::getline(std::cin, line);) {
    std::vector<std::string> words = split(line, ' ');
    if (words.empty()) continue;
    if (words[0] == "quit") break;
    if (words[0] == "propose" && words.size() >= 3) {
      Instance instance = std::strtoull(words[1].c_str(), nullptr, 10);
      auto v = View::make(instance, words[2], std::vector<NodeId>(words.begin() + 3, words.end()));
      if (!v) {
        say("proposed " + words[1] + " error: " + v.error().message);
        continue;
      }
      Status s = (*runtime)->propose(instance, *v).get();
      say("proposed " + words[1] + (s ? " ok" : " error: " + s.error().message));
      continue;
    }
    say("error: unknown command: " + line);
  }
  return 0;
}
