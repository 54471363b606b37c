// The x0xctl verbs. Each registers its CLI11 subcommand and runs it; exit
// codes: 0 GO/pass, 1 NO-GO/fail, 2 usage or configuration error.
#pragma once
#include <filesystem>

#include "core/exit_codes.h"

namespace CLI {
class App;
}

namespace x0x::cli {

// Where the sibling binaries are: next to x0xctl when installed, or in the
// build tree's node/ and runners/ folders.
std::filesystem::path find_sibling_binary(const std::string& name);

void register_demo(CLI::App& app, int& exit_code);
void register_local(CLI::App& app, int& exit_code);
void register_verify(CLI::App& app, int& exit_code);
void register_inventory(CLI::App& app, int& exit_code);
void register_harvest(CLI::App& app, int& exit_code);
void register_doctor(CLI::App& app, int& exit_code);
void register_deploy(CLI::App& app, int& exit_code);
void register_gate(CLI::App& app, int& exit_code);
void register_chaos(CLI::App& app, int& exit_code);
void register_proof(CLI::App& app, int& exit_code);

}  // namespace x0x::cli
