// The JUnit XML writer shared by the gate, Phase A and soak reports (private
// to proofs/). Counts are computed from the cases actually written, so
// tests/failures/skipped always agree with the body.
#pragma once
#include <sstream>
#include <string>
#include <vector>

namespace x0x::proofs::junit {

struct TestCase {
  std::string classname, name;
  double secs = 0;
  enum Kind { kPass, kFail, kSkip } kind = kPass;
  std::string message, body;  // failure/skipped message and failure text
};

struct Suite {
  std::string name;
  std::vector<TestCase> cases;
};

// <testsuites name=…> with every suite; every string is XML-escaped here.
void write_suites(std::ostringstream& out, const std::string& name, const std::vector<Suite>& suites);

}  // namespace x0x::proofs::junit
