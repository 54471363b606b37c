// Whether the inventory lets a fault run at all: `[chaos] forbid_networks`
// names networks chaos never touches (the selected one is checked), and
// `[chaos] allow` lists the destructive operations permitted once a [chaos]
// table exists (empty = none). An inventory without [chaos] (a local fleet)
// allows everything. Removing faults (clear, status) is never refused. While a
// soak runs against the inventory (orchestrator/control/soak_lock.h) every
// destructive operation is refused.
#pragma once
#include <string>

#include "orchestrator/control/inventory.h"

namespace x0x::orchestrator {

// "" when allowed, else why not (naming the inventory and the key to edit).
// kind: delay, loss, partition, stall, stale, slow, restart. An allow entry
// matches the kind itself, its mechanism family (netem, tbf, iptables,
// sigstop), the gate scenario asking for it (`scenario`, e.g. high_rtt_peer;
// "" outside a gate), or "*".
std::string chaos_refusal(const Fleet& fleet, const std::string& kind, const std::string& scenario = {});

}  // namespace x0x::orchestrator
