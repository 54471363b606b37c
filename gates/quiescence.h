// Whether a node has work still pending, from one raw snapshot: the signals a
// scenario window waits on before it closes (harness/settle.h).
//   - every dispatcher stream has finished what it took: received == completed + timed_out
//     (pubsub, membership, bulk of /diagnostics/gossip `dispatcher`);
//   - every receive-pump queue is empty: recv_pump.<stream>.latest_depth == 0;
//   - no send in flight: /diagnostics/connectivity data_tx.data_tx_depth == 0.
// A signal that cannot be read counts as pending (fail closed), with why.
#pragma once
#include <string>
#include <vector>

#include "gates/counters.h"

namespace x0x::gates {

// Empty when the node is quiescent; otherwise one short line per pending or
// unreadable signal, e.g. "dispatcher pubsub: received 120 > completed 100 + timed_out 0".
std::vector<std::string> pending_work(const RawSnapshot& s);

}  // namespace x0x::gates
