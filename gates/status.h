// The states of a gate run, as enums inside and one spelling each at the JSON
// edge (scenario.json, verdict.json and everything rendered from them).
#pragma once
#include <optional>
#include <string_view>

namespace x0x::gates {

// What the harness did with a requested scenario (scenario.json "status").
enum class RunStatus { ran, not_run, errored };  // "ran", "not_run", "errored"

// A scenario's verdict (verdict.json scenarios[].status).
//   pass: ran and met every rule; fail: ran and broke a rule;
//   error: could not complete (its error is the first violation); not_run: never started.
enum class ScenarioStatus { pass, fail, error, not_run };  // "PASS", "FAIL", "ERROR", "NOT RUN"

// One rule in one scenario (verdict.json scenarios[].rules[].status).
enum class RuleStatus { pass, fail, not_run, not_applicable };  // "pass", "fail", "not_run", "n/a"

// The run (verdict.json "verdict").
enum class Verdict { go, no_go };  // "GO", "NO-GO"

std::string_view to_string(RunStatus s);
std::string_view to_string(ScenarioStatus s);
std::string_view to_string(RuleStatus s);
std::string_view to_string(Verdict v);

// nullopt for any other spelling.
std::optional<RunStatus> parse_run_status(std::string_view s);
std::optional<ScenarioStatus> parse_scenario_status(std::string_view s);
std::optional<RuleStatus> parse_rule_status(std::string_view s);
std::optional<Verdict> parse_verdict(std::string_view s);

}  // namespace x0x::gates
