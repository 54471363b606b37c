// x0xctl: the operator CLI of the x0x fleet toolkit.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"

namespace x0x::cli {

std::filesystem::path find_sibling_binary(const std::string& name) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto dir = self.parent_path();
    for (auto candidate : {dir / name, dir.parent_path() / "node" / name, dir.parent_path() / "runners" / name})
      if (fs::exists(candidate)) return candidate;
  }
  return name;  // let the PATH decide
}

}  // namespace x0x::cli

int main(int argc, char** argv) {
  CLI::App app{"x0xctl — deploy, verify, gate, soak and harvest x0x fleets"};
  app.set_version_flag("--version,-V", std::string("x0xctl ") + X0X_TOOLKIT_VERSION);
  app.footer(
      "Exit codes: 0 GO / pass, 1 NO-GO / fail, 2 usage or configuration error,\n"
      "3 the run crashed or was interrupted (gate, soak: the bundle is still written;\n"
      "  soak --resume DIR continues an interrupted soak).\n"
      "Run 'x0xctl <verb> --help' for a verb's options.");
  app.require_subcommand(1);
  int exit_code = x0x::kExitPass;
  x0x::cli::register_demo(app, exit_code);
  x0x::cli::register_local(app, exit_code);
  x0x::cli::register_verify(app, exit_code);
  x0x::cli::register_inventory(app, exit_code);
  x0x::cli::register_harvest(app, exit_code);
  x0x::cli::register_doctor(app, exit_code);
  x0x::cli::register_deploy(app, exit_code);
  x0x::cli::register_gate(app, exit_code);
  x0x::cli::register_soak(app, exit_code);
  x0x::cli::register_chaos(app, exit_code);
  x0x::cli::register_proof(app, exit_code);
  if (argc > 1 && argv[1][0] != '-') {
    try {
      app.get_subcommand(argv[1]);
    } catch (const CLI::OptionNotFound&) {
      std::string known;
      for (auto* sub : app.get_subcommands({})) known += (known.empty() ? "" : ", ") + sub->get_name();
      std::fprintf(stderr, "x0xctl: unknown verb '%s' (known: %s); see x0xctl --help\n", argv[1], known.c_str());
      return x0x::kExitUsage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return x0x::kExitUsage;
  }
  return exit_code;
}
