#include "cli/gate_output.h"

#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "gates/status.h"

namespace x0x::cli {

using nlohmann::json;

static std::string str(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return "";
  return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

void print_verdict_table(std::FILE* out, const json& v) {
  fmt::print(out, "\n{:<20} {:<55} {:<8} {:<12} {:>12} {:>10}\n", "scenario", "rule", "status", "worst node", "observed",
             "threshold");
  for (auto& s : v.value("scenarios", json::array())) {
    auto name = str(s, "name");
    auto status = gates::parse_scenario_status(str(s, "status"));
    if (status == gates::ScenarioStatus::not_run) {
      fmt::print(out, "{:<20} {:<55} {:<8} {}\n", name, "(scenario)", "NOT RUN", str(s, "reason"));
      continue;
    }
    if (!str(s, "reason").empty()) fmt::print(out, "{:<20} {:<55} {:<8} {}\n", name, "(scenario)", "ERROR", str(s, "reason"));
    for (auto& r : s.value("rules", json::array())) {
      auto rs = gates::parse_rule_status(str(r, "status"));
      if (rs == gates::RuleStatus::not_applicable) continue;
      fmt::print(out, "{:<20} {:<55} {:<8} {:<12} {:>12} {:>10}\n", name, str(r, "rule"), rs == gates::RuleStatus::pass ? "pass" : "FAIL",
                 str(r, "worst_node"), str(r, "observed"), str(r, "threshold"));
    }
    for (auto& w : s.value("warnings", json::array()))
      if (w.is_string()) fmt::print(out, "{:<20} {:<55} {:<8} {}\n", name, "(warning)", "note", w.get<std::string>());
  }
  auto blocking = v.value("blocking", json::array());
  if (!blocking.empty()) {
    fmt::print(out, "\nBlocking:\n");
    for (auto& b : blocking) {
      auto ev = str(b, "evidence");
      fmt::print(out, "  - [{}] {}{}\n", str(b, "scenario"), str(b, "message"), ev.empty() ? "" : "  (" + ev + ")");
    }
  }
  if (v.contains("crashed")) fmt::print(out, "\nThe run CRASHED: {}\n", str(v, "crashed"));
  fmt::print(out, "\nVerdict: {} (gate {})\n", str(v, "verdict"), str(v, "gate"));
}

}  // namespace x0x::cli
