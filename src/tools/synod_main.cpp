// synod: one node of a synod cluster serving the replicated key-value store.
// The flags are server_config.h's; this file only wires them to the runtime
// and waits for a signal. See `synod --help`.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "common/log.h"
#include "kv/kv_store.h"
#include "server/node_runtime.h"
#include "server/server_config.h"

namespace {

using namespace synod;

constexpr int kExitFatal = 1;
constexpr int kExitUsage = 2;

// Set by the runtime's fatal callback before it raises SIGUSR1 at us.
std::atomic<bool> g_fatal{false};

server::NodeRuntimeOptions runtime_options(const server::ServerConfig& config, View initial_view) {
  server::NodeRuntimeOptions o;
  o.self = config.id;
  o.cluster = *config.cluster_id;
  o.listen = config.listen;
  o.data_dir = config.data_dir;
  o.initial_view = std::move(initial_view);
  for (const server::ViewMember& m : config.initial_view) o.peers[m.id] = m.address;
  o.tick_ms = static_cast<std::uint32_t>(config.tick.count());
  o.primary_timeout_ticks = server::to_ticks(config.primary_timeout, config.tick);
  // Heartbeats several times per timeout, and a jitter of half of it, so
  // that backups rarely suspect at once.
  o.heartbeat_ticks = std::max<std::uint32_t>(1, o.primary_timeout_ticks / 6);
  o.primary_timeout_jitter_ticks = std::max<std::uint32_t>(1, o.primary_timeout_ticks / 2);
  o.session_idle_ticks = server::to_ticks(config.session_timeout, config.tick);
  o.snapshot_after_entries = config.snapshot_entries;
  o.on_fatal = [](const std::string& why) {
    log::error("synod", "stopping: " + why);
    g_fatal = true;
    ::kill(::getpid(), SIGUSR1);
  };
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Result<server::ServerConfig> parsed = server::parse_server_args(argc, argv);
  if (!parsed) {
    std::cerr << "synod: " << parsed.error().message << "\n(synod --help lists every flag)\n";
    return kExitUsage;
  }
  const server::ServerConfig& config = *parsed;
  if (config.action == server::ServerAction::kHelp) {
    std::cout << server::server_help();
    return 0;
  }
  if (config.action == server::ServerAction::kVersion) {
    std::cout << server::server_version();
    return 0;
  }
  log::set_level(config.log_level);
  Result<View> initial_view = server::make_initial_view(config.initial_view);
  if (!initial_view) {
    std::cerr << "synod: --initial-view: " << initial_view.error().message << "\n";
    return kExitUsage;
  }

  // The signals we wait for are blocked before any thread starts, so that
  // every thread inherits the mask and only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGUSR1);
  if (int err = pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr); err != 0) {
    std::cerr << "synod: cannot block signals: " << std::strerror(err) << "\n";
    return kExitFatal;
  }

  Result<std::unique_ptr<server::NodeRuntime>> runtime =
      server::NodeRuntime::start(runtime_options(config, std::move(*initial_view)),
                                 std::make_unique<kv::KvStateMachine>());
  if (!runtime) {
    std::cerr << "synod: " << runtime.error().message << "\n";
    return kExitFatal;
  }
  log::info("synod", config.id + " of cluster " + server::format_cluster_id(*config.cluster_id) +
                         " serving on " + net::to_string(config.listen) + " with data in " + config.data_dir +
                         (config.joining() ? "; waiting as a learner until it is added (synodctl member add)" : ""));

  int signal = 0;
  while (sigwait(&stop_signals, &signal) != 0) {
  }
  if (signal != SIGUSR1) log::info("synod", std::string("stopping on ") + strsignal(signal));
  runtime->reset();
  return g_fatal ? kExitFatal : 0;
}
