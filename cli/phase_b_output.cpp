#include "cli/phase_b_output.h"

#include <fmt/format.h>

namespace x0x::cli {

void print_phase_b(std::FILE* out, const harness::PhaseBReport& rep) {
  using harness::CheckOutcome;
  fmt::print(out, "\n");
  for (auto& c : rep.checks) {
    std::string_view word = c.outcome == CheckOutcome::pass ? "PASS" : c.outcome == CheckOutcome::fail ? "FAIL" : "SKIP";
    std::string detail;
    if (c.outcome != CheckOutcome::pass)
      detail = fmt::format(" — {}{}", harness::check_stage_text(c.stage), c.detail.empty() ? "" : ": " + c.detail);
    fmt::print(out, "  {} {}{}\n", word, c.label, detail);
  }
  if (!rep.missing.empty())
    fmt::print(out, "\nNot discovered: {}{}\n", fmt::join(rep.missing, ", "),
               rep.allow_skips ? " (--allow-skips: their checks are skipped)" : "");
  const std::string rule(60, '=');
  fmt::print(out, "{}\nPhase-B fleet dogfood — pass={} fail={} (runners={})\n", rule, rep.passed_checks, rep.failed_checks,
             rep.runner_count());
  for (auto& c : rep.checks)
    if (c.outcome == CheckOutcome::fail) fmt::print(out, "  FAIL: {}\n", c.label);
  fmt::print(out, "{}\n  discovery {:.2f} s, scenarios {:.2f} s\n\n{}\n", rule, rep.discover_secs, rep.run_secs, rep.verdict());
  if (rep.runners_short())
    fmt::print(out, "{}\n", rep.allow_skips ? "fewer than 2 runners (exit 4)"
                                            : fmt::format("missing expected runners in strict mode: [{}] (exit 4)", fmt::join(rep.missing, ", ")));
}

}  // namespace x0x::cli
