// Phase A's generator: every directed pair over the expected nodes, each with
// a request id and a digest marker unique to the pair and the run, and the
// send_dm command that asks the source runner to send the hop. Pure: no
// session, no sockets, so the checker can be tested on recorded plans.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness/command_dispatcher.h"

namespace x0x::harness {

struct PlannedPair {
  std::string src, dst, request_id, marker;
  std::optional<std::size_t> command;  // index in PhaseAPlan::commands; none when an end was not discovered
};

struct PhaseAPlan {
  std::vector<std::string> nodes, discovered, missing;
  std::map<std::string, std::string> agents;  // discovered node -> agent id
  bool allow_missing = false;
  std::vector<PlannedPair> pairs;             // src-major, in inventory order
  std::vector<PlannedCommand> commands;
};

// "<src>><dst>@<run>": unique per pair and run (node names are [a-z0-9._-]).
// The reference's "<src[:3]>-<dst[:3]>" is the same for every pair of a fleet
// named node-1 … node-N, which made the marker check check nothing.
std::string phase_a_marker(const std::string& src, const std::string& dst, const std::string& run);

// nodes: the inventory's order; discovered/agents: what the session found.
// With allow_missing the matrix covers the discovered runners only.
PhaseAPlan plan_phase_a(const std::vector<std::string>& nodes, const std::vector<std::string>& discovered,
                        const std::map<std::string, std::string>& agents, const std::string& anchor_aid,
                        const std::string& run_token, bool allow_missing);

}  // namespace x0x::harness
