// Pre/post snapshots of every node, fetched in parallel and timestamped per
// response (the reference fetched them serially over SSH, skewing nodes by
// seconds: spec gates-and-proofs.md §9.2 item 13). A failed fetch is kept as
// such (RawFetch::fetched = false, the error), never turned into zeros.
#pragma once
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gates/counters.h"
#include "harness/node_api.h"

namespace x0x::harness {

// GET path on one node: status, body (JSON if it parses, else null) and time.
gates::RawFetch fetch_json(const NodeApi& node, const std::string& path, std::chrono::milliseconds timeout);

// /diagnostics/gossip and /diagnostics/connectivity of every node at once.
std::map<std::string, gates::RawSnapshot> take_snapshots(const std::vector<NodeApi>& nodes,
                                                         std::chrono::milliseconds timeout);

// GET path on every node at once (e.g. /health), by node name.
std::map<std::string, gates::RawFetch> fetch_all(const std::vector<NodeApi>& nodes, const std::string& path,
                                                 std::chrono::milliseconds timeout);

double unix_now();

}  // namespace x0x::harness
