#include "gates/status.h"

#include <array>
#include <utility>

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

template <class E, std::size_t N>
std::string_view spell(const Spellings<E, N>& table, E e) {
  for (auto& [v, s] : table)
    if (v == e) return s;
  return "?";
}

template <class E, std::size_t N>
std::optional<E> parse(const Spellings<E, N>& table, std::string_view text) {
  for (auto& [v, s] : table)
    if (s == text) return v;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(RunStatus s) { return spell(kRun, s); }
std::string_view to_string(ScenarioStatus s) { return spell(kScenario, s); }
std::string_view to_string(RuleStatus s) { return spell(kRule, s); }
std::string_view to_string(Verdict v) { return spell(kVerdict, v); }
std::optional<RunStatus> parse_run_status(std::string_view s) { return parse(kRun, s); }
std::optional<ScenarioStatus> parse_scenario_status(std::string_view s) { return parse(kScenario, s); }
std::optional<RuleStatus> parse_rule_status(std::string_view s) { return parse(kRule, s); }
std::optional<Verdict> parse_verdict(std::string_view s) { return parse(kVerdict, s); }

}  // namespace x0x::gates
