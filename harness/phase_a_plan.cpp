#include "harness/phase_a_plan.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/encoding.h"

namespace x0x::harness {

std::string phase_a_marker(const std::string& src, const std::string& dst, const std::string& run) {
  return src + ">" + dst + "@" + run;
}

PhaseAPlan plan_phase_a(const std::vector<std::string>& nodes, const std::vector<std::string>& discovered,
                        const std::map<std::string, std::string>& agents, const std::string& anchor_aid,
                        const std::string& run_token, bool allow_missing) {
  PhaseAPlan plan;
  plan.nodes = nodes;
  plan.discovered = discovered;
  for (auto& n : nodes)
    if (std::find(discovered.begin(), discovered.end(), n) == discovered.end()) plan.missing.push_back(n);
  plan.agents = agents;
  plan.allow_missing = allow_missing;
  const auto& universe = allow_missing ? discovered : nodes;
  for (auto& s : universe)
    for (auto& d : universe) {
      if (s == d) continue;
      PlannedPair p{s, d, "mesh-" + run_token + "-" + s + "-" + d, phase_a_marker(s, d, run_token), std::nullopt};
      auto src = agents.find(s), dst = agents.find(d);
      if (src != agents.end() && dst != agents.end()) {
        runners::Command c;
        c.command_id = "matrix-" + p.request_id;
        c.target_node = s;
        c.action = "send_dm";
        c.anchor_aid = anchor_aid;
        c.params = {{"recipient_aid", dst->second}, {"payload_b64", base64_encode("matrix:" + p.request_id)},
                    {"request_id", p.request_id}, {"digest_marker", p.marker}, {"anchor_aid", anchor_aid},
                    {"prefer_raw_quic_if_connected", true}, {"raw_quic_receive_ack_ms", 12000},
                    {"stop_fallback_on_raw_error", true}};
        p.command = plan.commands.size();
        plan.commands.push_back({std::move(c), src->second});
      }
      plan.pairs.push_back(std::move(p));
    }
  return plan;
}

}  // namespace x0x::harness
