// JUnit XML of a soak for CI: one testsuite "soak" with a case per window
// slot, a case per soak rule (§5.6's conjuncts and ours) and one for the
// overall verdict, so a NO-GO soak is red even if a rule went unrecorded.
#include <sstream>

#include "proofs/junit_xml.h"
#include "proofs/render_text.h"
#include "proofs/soak_renderers.h"
#include "proofs/soak_view.h"

namespace x0x::proofs {

using nlohmann::json;
using text::at;
using text::str;
using namespace soak_view;

namespace {

std::string violation_line(const json& v) {
  std::string line = str(v, "rule").empty() ? "?" : str(v, "rule");
  if (!str(v, "node").empty()) line += " on " + str(v, "node");
  if (!str(v, "observed").empty() || !str(v, "threshold").empty())
    line += ": observed " + str(v, "observed") + ", threshold " + str(v, "threshold");
  if (!str(v, "message").empty()) line += " — " + str(v, "message");
  return line;
}

junit::TestCase window_case(const json& soak, const json& w, int index) {
  junit::TestCase c;
  c.classname = "soak.windows";
  c.name = "window " + window_dir_label(index);
  auto start = finite(at(w, "start_unix")), end = finite(at(w, "end_unix"));
  if (start && end && *end > *start) c.secs = *end - *start;
  auto cls = window_class(w);
  auto note = str(w, "note");
  if (!counted(w)) {
    c.kind = junit::TestCase::kSkip;
    auto state = str(w, "state");
    c.message = cls == "warmup" || at(w, "warmup") == true ? "warm-up window: recorded, not counted"
                                                            : (state.empty() ? "not counted" : state) + " slot, not counted";
    if (!note.empty()) c.message += ": " + note;
    return c;
  }
  // A window without a class we know fails unless its verdict is GO (fail closed).
  bool failed = effective_failed(soak, w, index) || (cls.empty() && str(w, "verdict") != "GO");
  if (!failed) return c;
  c.kind = junit::TestCase::kFail;
  auto& vs = at(w, "violations");
  std::size_t n = vs.is_array() ? vs.size() : 0;
  c.message = window_verdict(w) + (cls.empty() ? "" : " (" + cls + ")") + ", " + std::to_string(n) + " violation(s)";
  if (!note.empty()) c.message += ": " + note;
  if (vs.is_array())
    for (auto& v : vs) c.body += violation_line(v) + "\n";
  if (!note.empty()) c.body += "note: " + note + "\n";
  return c;
}

}  // namespace

std::string render_soak_junit(const json& soak) {
  junit::Suite suite{"soak", {}};
  std::size_t position = 0;
  for (auto* w : windows(soak)) {
    int index = window_index(*w, position++);
    suite.cases.push_back(window_case(soak, *w, index));
  }
  if (auto& rules = at(soak, "rules"); rules.is_array())
    for (auto& r : rules) {
      junit::TestCase c{"soak.rules", str(r, "rule").empty() ? "?" : str(r, "rule"), 0, junit::TestCase::kPass, "", ""};
      if (str(r, "status") != "pass") {  // any other spelling fails
        c.kind = junit::TestCase::kFail;
        c.message = str(r, "detail").empty() ? "status " + (str(r, "status").empty() ? "?" : str(r, "status")) : str(r, "detail");
        c.body = c.name + ": " + c.message + "\n";
      }
      suite.cases.push_back(std::move(c));
    }
  auto verdict = overall(soak);
  junit::TestCase v{"soak", "overall verdict", 0, junit::TestCase::kPass, "", ""};
  if (verdict != "GO") {
    v.kind = junit::TestCase::kFail;
    v.message = verdict == "INTERRUPTED" ? "INTERRUPTED: the soak did not finish (partial verdict " +
                                               (str(soak, "partial_verdict").empty() ? "?" : str(soak, "partial_verdict")) + ")"
                                         : "NO-GO";
    v.body = v.message + "\n";
  }
  suite.cases.push_back(std::move(v));
  std::ostringstream out;
  junit::write_suites(out, "x0x soak " + str(at(soak, "config"), "gate") + ": " + verdict, {suite});
  return out.str();
}

}  // namespace x0x::proofs
