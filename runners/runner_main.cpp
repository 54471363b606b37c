// x0x-test-runner: the agent beside each node (spec mesh-protocol.md §1.2, §2).
// Exit codes: 0 after SIGTERM/SIGINT, 2 configuration or bootstrap error, 1 unexpected failure.
#include <pthread.h>
#include <signal.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "runners/runner.h"

namespace {

constexpr const char* kDescription =
    "x0x-test-runner: the mesh-test agent beside an x0xd node. It listens for orchestrator commands\n"
    "(discover, noop_ack, send_dm) on the daemon's /events (topics x0x.test.discover.v1 and\n"
    "x0x.test.control.v1) and /direct/events, runs them through the local REST API and sends the\n"
    "results back to the orchestrator's anchor agent as x0xtest|res| DMs (fallback: topic\n"
    "x0x.test.results.v1).\n\n"
    "Every option has an environment variable; a flag wins over the environment:\n"
    "  NODE_NAME, X0X_API_BASE, X0X_API_TOKEN (a token file path, or the token itself), LOG_LEVEL,\n"
    "  X0X_NO_PUBSUB_AFTER_DISCOVER (1/true/yes/on), X0X_RESULT_RAW_QUIC_ACK_MS (none/off/false/0 omits it),\n"
    "  X0X_RUNNER_TRUSTED_AGENTS, X0X_RUNNER_COMMAND_TIMEOUT_SECS.\n\n"
    "Commands are run only for trusted orchestrators: the agents of X0X_RUNNER_TRUSTED_AGENTS (and this\n"
    "node's own agent); when it is not set, the sender of the first discover is trusted until the runner\n"
    "restarts. Anyone else gets an error result and nothing runs. Results go only to a command's sender.\n\n"
    "Exit codes: 0 stopped by SIGTERM/SIGINT, 2 configuration error or daemon not ready within ~30 s,\n"
    "1 unexpected failure.";

std::optional<std::string> getenv_opt(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  return std::string(v);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kDescription, "x0x-test-runner"};
  app.set_help_flag("-h,--help", "Print this help and exit");
  bool show_version = false;
  std::string node_name, api_base, api_token, log_level, ack_ms, trusted, command_timeout;
  bool no_pubsub = false;
  app.add_flag("-V,--version", show_version, "Print the version and exit");
  auto* o_node = app.add_option("--node-name", node_name, "Node label, must equal the orchestrator's [env NODE_NAME; default: host name]");
  auto* o_base = app.add_option("--api-base", api_base, "Local daemon REST base [env X0X_API_BASE; default http://127.0.0.1:12600]");
  auto* o_token = app.add_option("--api-token", api_token,
                                 "Token file path, or the token [env X0X_API_TOKEN; default /var/lib/x0x/api-token]");
  auto* o_level = app.add_option("--log-level", log_level, "DEBUG, INFO, WARNING, ERROR [env LOG_LEVEL; default INFO]");
  app.add_flag("--no-pubsub-after-discover", no_pubsub,
               "After a discover, take commands by DM only and never fall back to the results topic "
               "[env X0X_NO_PUBSUB_AFTER_DISCOVER]");
  auto* o_ack = app.add_option("--result-raw-quic-ack-ms", ack_ms,
                               "raw_quic_receive_ack_ms on result DMs; none/off/false/0 omits it "
                               "[env X0X_RESULT_RAW_QUIC_ACK_MS; default 12000]");
  auto* o_trusted = app.add_option("--trusted-agents", trusted,
                                   "Orchestrator agent ids (64 hex, comma-separated) whose commands run "
                                   "[env X0X_RUNNER_TRUSTED_AGENTS; default: the first discover's sender]");
  auto* o_timeout = app.add_option("--command-timeout-secs", command_timeout,
                                   "From a command's receipt to its result, at most [env "
                                   "X0X_RUNNER_COMMAND_TIMEOUT_SECS; default 30]");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "x0x-test-runner: " << e.what() << " (see --help)\n";
    return 2;
  }
  if (show_version) {
    std::printf("x0x-test-runner %s\n", X0X_TOOLKIT_VERSION);
    return 0;
  }

  x0x::runners::ConfigInputs in;
  if (o_node->count()) in.node_name = node_name;
  if (o_base->count()) in.api_base = api_base;
  if (o_token->count()) in.api_token = api_token;
  if (o_level->count()) in.log_level = log_level;
  if (o_ack->count()) in.result_raw_quic_ack_ms = ack_ms;
  if (o_trusted->count()) in.trusted_agents = trusted;
  if (o_timeout->count()) in.command_timeout_secs = command_timeout;
  in.no_pubsub_after_discover = no_pubsub;

  x0x::runners::RunnerConfig cfg;
  try {
    cfg = x0x::runners::resolve_config(in, getenv_opt);
  } catch (const x0x::runners::ConfigError& e) {
    std::cerr << "x0x-test-runner: configuration error: " << e.what() << "\n";
    return 2;
  }
  x0x::runners::setup_logging(cfg.node_name, cfg.log_level);

  // SIGTERM/SIGINT are taken by a dedicated thread (sigwait); every other thread
  // inherits the blocked mask. SIGPIPE is ignored (a closed socket is an error, not death).
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR1);  // internal wake-up of the signal thread
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  int rc = 1;
  try {
    x0x::runners::Runner runner(cfg);
    std::thread signals([&] {
      int sig = 0;
      sigwait(&set, &sig);
      if (sig == SIGUSR1) return;
      spdlog::info("{} received, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      runner.stop();
    });
    rc = runner.run();
    // Wake the signal thread if run() ended on its own (bootstrap failure).
    pthread_kill(signals.native_handle(), SIGUSR1);
    signals.join();
  } catch (const std::exception& e) {
    spdlog::critical("unexpected failure: {}", e.what());
    return 1;
  }
  return rc;
}
