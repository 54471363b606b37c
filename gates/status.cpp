#include "gates/status.h"

#include <array>
#include <utility>

#include "core/enum_names.h"

namespace x0x::gates {
namespace {

template <class E, std::size_t N>
using Spellings = std::array<std::pair<E, std::string_view>, N>;

constexpr Spellings<RunStatus, 3> kRun = {{{RunStatus::ran, "ran"}, {RunStatus::not_run, "not_run"}, {RunStatus::errored, "errored"}}};
constexpr Spellings<ScenarioStatus, 4> kScenario = {{{ScenarioStatus::pass, "PASS"},
                                                     {ScenarioStatus::fail, "FAIL"},
                                                     {ScenarioStatus::error, "ERROR"},
                                                     {ScenarioStatus::not_run, "NOT RUN"}}};
constexpr Spellings<RuleStatus, 4> kRule = {{{RuleStatus::pass, "pass"},
                                             {RuleStatus::fail, "fail"},
                                             {RuleStatus::not_run, "not_run"},
                                             {RuleStatus::not_applicable, "n/a"}}};
constexpr Spellings<Verdict, 2> kVerdict = {{{Verdict::go, "GO"}, {Verdict::no_go, "NO-GO"}}};


}  // namespace

std::string_view to_string(RunStatus s) { return name_in(kRun, s); }
std::string_view to_string(ScenarioStatus s) { return name_in(kScenario, s); }
std::string_view to_string(RuleStatus s) { return name_in(kRule, s); }
std::string_view to_string(Verdict v) { return name_in(kVerdict, v); }
std::optional<RunStatus> parse_run_status(std::string_view s) { return value_in(kRun, s); }
std::optional<ScenarioStatus> parse_scenario_status(std::string_view s) { return value_in(kScenario, s); }
std::optional<RuleStatus> parse_rule_status(std::string_view s) { return value_in(kRule, s); }
std::optional<Verdict> parse_verdict(std::string_view s) { return value_in(kVerdict, s); }

}  // namespace x0x::gates
