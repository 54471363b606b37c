// JUnit XML for CI: a gate run (one <testsuite> per scenario) and a Phase A
// matrix (one test case per pair), through junit_xml.h's writer.
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "proofs/junit_xml.h"
#include "proofs/render_text.h"
#include "proofs/renderers.h"

namespace x0x::proofs {

using nlohmann::json;
using namespace text;
using junit::Suite;
using junit::TestCase;

namespace {

const json& unwrap_phase_a(const json& j) { return at(j, "phase_a").is_object() ? j["phase_a"] : j; }

std::vector<TestCase> phase_a_cases(const json& pa, const std::string& classname) {
  std::vector<TestCase> cases;
  for (auto& p : at(pa, "pairs")) {
    TestCase c;
    c.classname = classname;
    c.name = str(p, "src") + " -> " + str(p, "dst");
    c.secs = num(p, "latency_ms", 0) / 1000.0;
    if (str(p, "outcome") != "delivered") {
      c.kind = TestCase::kFail;
      auto stage = str(p, "stage").empty() ? std::string("failed") : str(p, "stage");
      c.message = stage + (str(p, "detail").empty() ? "" : " (" + str(p, "detail") + ")");
      c.body = c.name + ": " + c.message;
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

// One case per Phase B check, named by its label; a skipped check is skipped.
std::vector<TestCase> phase_b_cases(const json& pb, const std::string& classname) {
  std::vector<TestCase> cases;
  for (auto& chk : at(pb, "checks")) {
    TestCase c;
    c.classname = classname;
    c.name = str(chk, "label");
    c.secs = num(chk, "latency_ms", 0) / 1000.0;
    auto outcome = str(chk, "outcome");
    if (outcome != "pass") {
      c.kind = outcome == "skip" ? TestCase::kSkip : TestCase::kFail;
      auto stage = str(chk, "stage").empty() ? std::string("failed") : str(chk, "stage");
      c.message = stage + (str(chk, "detail").empty() ? "" : " (" + str(chk, "detail") + ")");
      c.body = c.name + ": " + c.message;
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace

std::string render_junit(const json& v) {
  std::vector<Suite> suites;
  for (auto& s : at(v, "scenarios")) {
    Suite suite{str(s, "name"), {}};
    auto status = scenario_status(s);
    auto cls = "gate." + suite.name;
    // The violations of each rule become its failure text.
    std::map<std::string, std::vector<std::string>> by_rule;
    for (auto& vi : at(s, "violations")) by_rule[str(vi, "rule")].push_back(str(vi, "message"));
    std::set<std::string> written;
    if (status == gates::ScenarioStatus::not_run) {
      TestCase ran{cls, "scenario ran", 0, TestCase::kFail, "not run: " + str(s, "reason"),
                   suite.name + " was asked for but not run: " + str(s, "reason")};
      suite.cases.push_back(ran);
      written.insert("scenario_not_run");
    }
    for (auto& r : at(s, "rules")) {
      auto rule = str(r, "rule");
      auto rs = rule_status(r);
      if (rs == gates::RuleStatus::not_applicable) continue;  // the rule does not apply to this scenario: not a test
      TestCase c{cls, rule, 0, TestCase::kPass, "", ""};
      if (rs == gates::RuleStatus::not_run) {
        c.kind = TestCase::kSkip;
        c.message = "scenario not run: " + str(s, "reason");
      } else if (rs != gates::RuleStatus::pass || by_rule.count(rule)) {
        c.kind = TestCase::kFail;
        c.message = "worst " + (str(r, "worst_node").empty() ? std::string("-") : str(r, "worst_node")) + ": observed " +
                    str(r, "observed") + ", threshold " + str(r, "threshold");
        for (auto& m : by_rule[rule]) c.body += m + "\n";
      }
      written.insert(rule);
      suite.cases.push_back(std::move(c));
    }
    // Violations outside the profile's rules (scenario errored, ...) still fail.
    for (auto& [rule, messages] : by_rule) {
      if (written.count(rule)) continue;
      TestCase c{cls, rule, 0, TestCase::kFail, messages.front(), ""};
      for (auto& m : messages) c.body += m + "\n";
      suite.cases.push_back(std::move(c));
    }
    auto pa_cases = phase_a_cases(at(s, "phase_a"), cls + ".phase_a");
    suite.cases.insert(suite.cases.end(), pa_cases.begin(), pa_cases.end());
    auto pb_cases = phase_b_cases(at(s, "phase_b"), cls + ".phase_b");
    suite.cases.insert(suite.cases.end(), pb_cases.begin(), pb_cases.end());
    suites.push_back(std::move(suite));
  }
  std::ostringstream out;
  junit::write_suites(out, "x0x gate " + str(v, "gate") + ": " + (is_go(v) ? "GO" : "NO-GO"), suites);
  return out.str();
}

std::string render_phase_a_junit(const json& phase_a) {
  auto& pa = unwrap_phase_a(phase_a);
  Suite suite{"phase_a", phase_a_cases(pa, "phase_a")};
  std::ostringstream out;
  junit::write_suites(out, str(pa, "verdict").empty() ? std::string("x0x Phase A") : str(pa, "verdict"), {suite});
  return out.str();
}

}  // namespace x0x::proofs
