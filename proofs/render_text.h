// Text helpers shared by the renderers (private to proofs/): escaping for
// HTML/XML/CSV/Markdown and the value formats of spec gates-and-proofs.md
// §8.2 (unknown → MISSING, ratios with fixed decimals or `inf`).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "gates/status.h"

namespace x0x::proofs::text {

std::string html_escape(std::string_view s);  // & < > " ' (also valid inside XML)
std::string xml_escape(std::string_view s);   // html_escape, minus characters XML 1.0 forbids
std::string csv_field(std::string_view s);    // RFC 4180 quoting when needed
std::string md_cell(std::string_view s);      // one Markdown table cell: '|' escaped, newlines flattened

// Counters: integers without decimals, other numbers up to 6 dp; null → "MISSING".
std::string number(const nlohmann::json& v);
// Ratios: number with `decimals` dp, the string "inf" or an infinite number → "inf", null → "MISSING".
std::string ratio(const nlohmann::json& v, int decimals);
std::string boolean(const nlohmann::json& v);  // true/false, anything else MISSING
// Any metric value: strings as is, numbers via number(), other JSON dumped.
std::string scalar(const nlohmann::json& v);
std::string utc_time(double unix_secs);  // "YYYY-MM-DD HH:MM:SS"

// Lookups that tolerate absent keys (verdict.json is input).
const nlohmann::json& at(const nlohmann::json& obj, std::string_view key);  // null if absent
std::string str(const nlohmann::json& obj, std::string_view key);           // "" if absent or not a string
double num(const nlohmann::json& obj, std::string_view key, double fallback = 0);

// The typed states of verdict.json (one spelling each, gates/status.h); an
// unknown spelling reads as nullopt and renders as a failure.
std::optional<gates::ScenarioStatus> scenario_status(const nlohmann::json& scenario);
std::optional<gates::RuleStatus> rule_status(const nlohmann::json& rule);
bool is_go(const nlohmann::json& verdict);

// The nodes of a scenario for per-node tables: the keys of scenario "nodes",
// sorted by name (§8.2); when it is empty, its "scored_nodes", else the run's nodes.
std::vector<std::string> scenario_nodes(const nlohmann::json& verdict, const nlohmann::json& scenario);
// A post-side text field (suppressed_topics_top3, transport_peers_top3).
std::string node_text(const nlohmann::json& node, std::string_view name);
// The moment the run is dated by: verdict "generated_unix", else the last
// scenario end, else now. Derived from the verdict so a re-render is identical.
double generated_unix(const nlohmann::json& verdict);

}  // namespace x0x::proofs::text
