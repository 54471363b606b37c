// x0x-lean-node: a small daemon that speaks the x0xd REST subset and forms a
// real gossip mesh, so the whole toolkit runs and is tested on one machine.
#include <csignal>
#include <cstdio>

#include <boost/asio/io_context.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "core/log_escape.h"

#include "node/config.h"
#include "node/lean_node.h"

int main(int argc, char** argv) {
  using namespace x0x::node;
  CliResult cli;
  try {
    cli = parse_node_command_line(argc, argv);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "x0x-lean-node: %s\n", e.what());
    return 2;
  }
  switch (cli.action) {
    case CliAction::help:
      std::fputs(cli.help_text.c_str(), stdout);
      return 0;
    case CliAction::version:
      std::printf("x0x-lean-node %s\n", X0X_TOOLKIT_VERSION);
      return 0;
    case CliAction::check:
      std::printf("configuration OK (%s)\n", cli.config.config_path ? cli.config.config_path->c_str() : "defaults");
      return 0;
    case CliAction::run:
      break;
  }
  auto& cfg = cli.config;
  spdlog::set_default_logger(spdlog::stdout_logger_mt("x0x-lean-node"));
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<x0x::EscapedMessageFlag>('&').set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %^%5l%$ x0x_lean: %&");
  spdlog::set_formatter(std::move(formatter));
  spdlog::set_level(spdlog::level::from_str(cfg.log_level == "warn" ? "warning" : cfg.log_level));
  spdlog::flush_on(spdlog::level::info);
  for (auto& w : cfg.warnings) spdlog::warn("config: {}", w);
  try {
    std::signal(SIGPIPE, SIG_IGN);
    LeanNode node(cfg);  // SIGINT/SIGTERM are handled on its event loop
    node.start();
    node.run();
  } catch (const std::exception& e) {
    spdlog::error("fatal: {}", e.what());
    std::fprintf(stderr, "x0x-lean-node: %s\n", e.what());
    return 1;
  }
  return 0;
}
