// The embedded default of `verify` and `gate`: with no inventory, a fresh
// local fleet of lean nodes with a runner each, started for one run and
// stopped after it (its logs kept unless the run passed). What it says goes
// to stderr: stdout may carry a verb's `--json -` document.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "harness/scenario_registry.h"
#include "orchestrator/control/inventory.h"
#include "orchestrator/lifecycle/local_mesh.h"

namespace x0x::cli {

// Runs `run` on the fleet and returns its exit code; a fleet that does not
// form returns `fail_code` without running.
// The fleet a verb runs on: the inventory (`fleet`, else ./fleet.toml when
// present) or the embedded default of `local_nodes` lean nodes; `shape` is
// what the usage checks see (shape.inventory points into `inventory`). A given
// `anchor` replaces the inventory's. Throws orchestrator::InventoryError.
void choose_fleet(const std::string& fleet, const std::string& network, const std::string& anchor, int local_nodes,
                  std::optional<orchestrator::Fleet>& inventory, harness::FleetShape& shape);

int with_embedded_fleet(const std::string& verb, int nodes, int fail_code,
                        const std::function<int(const orchestrator::Fleet&, orchestrator::LocalMesh&)>& run);

}  // namespace x0x::cli
