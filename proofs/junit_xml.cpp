#include "proofs/junit_xml.h"

#include <cmath>
#include <cstdio>

#include "proofs/render_text.h"

namespace x0x::proofs::junit {

using text::xml_escape;

namespace {

std::string attr_secs(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", std::isfinite(s) && s > 0 ? s : 0.0);  // a hostile time is 0
  return buf;
}

}  // namespace

void write_suites(std::ostringstream& out, const std::string& name, const std::vector<Suite>& suites) {
  std::size_t tests = 0, failures = 0, skipped = 0;
  for (auto& s : suites)
    for (auto& c : s.cases) {
      ++tests;
      failures += c.kind == TestCase::kFail;
      skipped += c.kind == TestCase::kSkip;
    }
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out << "<testsuites name=\"" << xml_escape(name) << "\" tests=\"" << tests << "\" failures=\"" << failures
      << "\" errors=\"0\" skipped=\"" << skipped << "\">\n";
  for (auto& s : suites) {
    std::size_t f = 0, sk = 0;
    double secs = 0;
    for (auto& c : s.cases) {
      f += c.kind == TestCase::kFail;
      sk += c.kind == TestCase::kSkip;
      secs += c.secs;
    }
    out << "  <testsuite name=\"" << xml_escape(s.name) << "\" tests=\"" << s.cases.size() << "\" failures=\"" << f
        << "\" errors=\"0\" skipped=\"" << sk << "\" time=\"" << attr_secs(secs) << "\">\n";
    for (auto& c : s.cases) {
      out << "    <testcase classname=\"" << xml_escape(c.classname) << "\" name=\"" << xml_escape(c.name) << "\" time=\""
          << attr_secs(c.secs) << "\"";
      if (c.kind == TestCase::kPass) {
        out << "/>\n";
        continue;
      }
      out << ">\n";
      if (c.kind == TestCase::kFail)
        out << "      <failure message=\"" << xml_escape(c.message) << "\">" << xml_escape(c.body) << "</failure>\n";
      else
        out << "      <skipped message=\"" << xml_escape(c.message) << "\"/>\n";
      out << "    </testcase>\n";
    }
    out << "  </testsuite>\n";
  }
  out << "</testsuites>\n";
}

}  // namespace x0x::proofs::junit
