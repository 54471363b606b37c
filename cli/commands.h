// The x0xctl verbs. Each registers its CLI11 subcommand and runs it; exit
// codes: 0 GO/pass, 1 NO-GO/fail, 2 usage or configuration error.
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>

#include "core/exit_codes.h"

namespace CLI {
class App;
}
namespace x0x::orchestrator {
struct Fleet;
}

namespace x0x::cli {

// Where the sibling binaries are: next to x0xctl when installed, or in the
// build tree's node/ and runners/ folders.
std::filesystem::path find_sibling_binary(const std::string& name);

// What `verify` (and `deploy --verify`) runs over a fleet.
struct VerifyRequest {
  std::string phase = "ab";  // a, b or ab (A then B)
  std::string fleet, network, anchor, json_path, junit_path;  // json_path "-": the JSON on stdout
  double discover_secs = 30, settle_secs = 45, cmd_timeout_secs = 30;
  bool allow_missing = false, allow_skips = false, accept_new_host_keys = false;
  std::size_t parallel = 32;
};
// Phase A and/or B over the fleet, printed; the exit code (the larger of the phases').
int verify_fleet(const orchestrator::Fleet& fleet, const VerifyRequest& request);

void register_demo(CLI::App& app, int& exit_code);
void register_local(CLI::App& app, int& exit_code);
void register_verify(CLI::App& app, int& exit_code);
void register_inventory(CLI::App& app, int& exit_code);
void register_harvest(CLI::App& app, int& exit_code);
void register_doctor(CLI::App& app, int& exit_code);
void register_deploy(CLI::App& app, int& exit_code);
void register_gate(CLI::App& app, int& exit_code);
void register_soak(CLI::App& app, int& exit_code);
void register_chaos(CLI::App& app, int& exit_code);
void register_proof(CLI::App& app, int& exit_code);

}  // namespace x0x::cli
