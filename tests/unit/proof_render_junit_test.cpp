#include <catch2/catch.hpp>

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <sstream>

#include "proofs/renderers.h"
#include "proof_render_fixtures.h"

using namespace x0x::proofs;
using x0x::test::load_verdict_fixture;
namespace pt = boost::property_tree;

namespace {

// Parses the XML (a malformed document throws) and returns <testsuites>.
pt::ptree parse(const std::string& xml) {
  std::istringstream in(xml);
  pt::ptree doc;
  pt::read_xml(in, doc);
  return doc.get_child("testsuites");
}

int attr(const pt::ptree& node, const std::string& name) { return node.get<int>("<xmlattr>." + name); }

// Counts test cases by kind, to check the declared counts against the body.
struct Counted {
  int tests = 0, failures = 0, skipped = 0;
};
Counted count_cases(const pt::ptree& suite) {
  Counted c;
  for (auto& [tag, tc] : suite) {
    if (tag != "testcase") continue;
    ++c.tests;
    c.failures += tc.count("failure") > 0;
    c.skipped += tc.count("skipped") > 0;
  }
  return c;
}

const pt::ptree& suite_named(const pt::ptree& root, const std::string& name) {
  for (auto& [tag, s] : root)
    if (tag == "testsuite" && s.get<std::string>("<xmlattr>.name") == name) return s;
  FAIL("no testsuite " << name);
  return root;
}

void check_counts_agree(const pt::ptree& root) {
  Counted total;
  for (auto& [tag, s] : root) {
    if (tag != "testsuite") continue;
    auto c = count_cases(s);
    CHECK(attr(s, "tests") == c.tests);
    CHECK(attr(s, "failures") == c.failures);
    CHECK(attr(s, "skipped") == c.skipped);
    total.tests += c.tests;
    total.failures += c.failures;
    total.skipped += c.skipped;
  }
  CHECK(attr(root, "tests") == total.tests);
  CHECK(attr(root, "failures") == total.failures);
  CHECK(attr(root, "skipped") == total.skipped);
}

}  // namespace

TEST_CASE("junit: a GO run is all green, one case per applicable rule and per Phase A pair", "[proofs][junit]") {
  auto root = parse(render_junit(load_verdict_fixture("go_baseline_fanout.json")));
  check_counts_agree(root);
  CHECK(attr(root, "tests") == 5 + 30 + 4);  // baseline: 5 rules + 30 pairs; fanout_burst: 4 rules
  CHECK(attr(root, "failures") == 0);
  CHECK(attr(suite_named(root, "baseline"), "tests") == 35);
}

TEST_CASE("junit: NO-GO failures carry the violation sentences, failed pairs their stage", "[proofs][junit]") {
  auto xml = render_junit(load_verdict_fixture("nogo_stale_peer.json"));
  auto root = parse(xml);
  check_counts_agree(root);
  auto& stale = suite_named(root, "stale_peer");
  CHECK(attr(stale, "tests") == 5 + 30);
  CHECK(attr(stale, "failures") == 2 + 10);
  bool found_rule = false, found_pair = false;
  for (auto& [tag, tc] : stale) {
    if (tag != "testcase") continue;
    auto name = tc.get<std::string>("<xmlattr>.name");
    if (name == "max_dispatcher_timed_out_delta") {
      found_rule = true;
      CHECK(tc.get<std::string>("failure") == "nyc: dispatcher_timed_out delta 7 > gate 5\n");
    }
    if (name == "nyc -> sfo") {
      found_pair = true;
      CHECK(tc.get<std::string>("failure.<xmlattr>.message") == "not received");
    }
  }
  CHECK(found_rule);
  CHECK(found_pair);
}

TEST_CASE("junit: NOT RUN is skipped rules plus a failing scenario-ran case, names escaped", "[proofs][junit]") {
  auto xml = render_junit(load_verdict_fixture("notrun_unknowns.json"));
  CHECK(xml.find("lab<&>") == std::string::npos);
  CHECK(xml.find("lab&lt;&amp;&gt;&quot;q&#39;") != std::string::npos);
  auto root = parse(xml);
  check_counts_agree(root);
  auto& nr = suite_named(root, "partition_recovery");
  CHECK(attr(nr, "tests") == 9);  // 8 rules skipped + "scenario ran"
  CHECK(attr(nr, "skipped") == 8);
  CHECK(attr(nr, "failures") == 1);
  CHECK(attr(suite_named(root, "baseline"), "failures") == 5);
  CHECK(attr(root, "tests") == 6 + 6 + 9);
  bool hostile_pair = false;
  for (auto& [tag, tc] : suite_named(root, "baseline"))
    if (tag == "testcase" && tc.get<std::string>("<xmlattr>.name") == "nyc -> lab<&>\"q'") hostile_pair = true;
  CHECK(hostile_pair);
}

TEST_CASE("junit: render_phase_a_junit, wrapped or bare report", "[proofs][junit]") {
  auto pa = load_verdict_fixture("nogo_stale_peer.json")["scenarios"][1]["phase_a"];
  for (auto& input : {pa, nlohmann::json{{"phase_a", pa}}}) {
    auto root = parse(render_phase_a_junit(input));
    check_counts_agree(root);
    CHECK(attr(root, "tests") == 30);
    CHECK(attr(root, "failures") == 10);
    CHECK(root.get<std::string>("<xmlattr>.name") == "Phase A: 20/30 delivered");
  }
}
