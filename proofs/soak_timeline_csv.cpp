// timeline.csv of a soak (spec gates-and-proofs.md §5.7) and of the
// pubsub-pressure variant (§5.8). The reference's columns come first, by name
// and in order (its readers index them); ours are appended. Unknown numbers
// are empty cells, except Phase A counts, which the reference writes `?`.
#include <functional>
#include <sstream>

#include "proofs/render_text.h"
#include "proofs/soak_renderers.h"
#include "proofs/soak_view.h"

namespace x0x::proofs {

using nlohmann::json;
using text::at;
using text::str;
using namespace soak_view;

namespace {

// Ours, after the reference's columns.
const std::vector<std::string> kOurColumns = {
    "state",          "warmup",         "class",         "exit_code",      "fleet_epoch",
    "slot_unix",      "end_unix",       "scenario",      "phase_a_expected", "phase_a_p50_ms",
    "phase_a_p99_ms", "phase_a_failed_pairs", "violation_messages", "note"};

std::string failed_pairs(const json& pa) {
  std::string out;
  if (auto& pairs = at(pa, "failed_pairs"); pairs.is_array())
    for (auto& p : pairs)
      if (p.is_array() && p.size() == 2 && p[0].is_string() && p[1].is_string())
        out += (out.empty() ? "" : ";") + p[0].get<std::string>() + "->" + p[1].get<std::string>();
  return out;
}

// The reference joins a window's violation messages with " || " (§5.1 step 3).
std::string violation_messages(const json& w) {
  std::string out;
  if (auto& vs = at(w, "violations"); vs.is_array())
    for (auto& v : vs)
      if (!str(v, "message").empty()) out += (out.empty() ? "" : " || ") + str(v, "message");
  return out;
}

std::vector<std::string> our_cells(const json& w, bool with_exit_code) {
  auto& pa = at(w, "phase_a");
  auto& warm = at(w, "warmup");
  auto& code = at(w, "exit_code");
  std::vector<std::string> cells = {str(w, "state"), warm.is_boolean() ? (warm.get<bool>() ? "true" : "false") : "",
                                    window_class(w)};
  // -1: the window's gate run never ran (no code to report).
  if (with_exit_code) cells.push_back(code.is_number_integer() && code.get<long long>() < 0 ? "" : num(code));
  for (auto& c : std::vector<std::string>{num(at(w, "fleet_epoch")), whole_secs(at(w, "slot_unix")), whole_secs(at(w, "end_unix")),
                                          str(w, "scenario"), num(at(pa, "expected")), num(at(pa, "p50_ms")),
                                          num(at(pa, "p99_ms")), failed_pairs(pa), violation_messages(w), str(w, "note")})
    cells.push_back(c);
  return cells;
}

std::string render_rows(const std::vector<std::string>& header,
                        const std::function<std::vector<std::string>(const json&, std::size_t)>& row, const json& soak) {
  std::ostringstream out;
  auto write_row = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < header.size(); ++i) out << (i ? "," : "") << text::csv_field(i < cells.size() ? cells[i] : "");
    out << "\r\n";  // Python's csv module's line ending, as the reference wrote it
  };
  write_row(header);
  std::size_t position = 0;
  for (auto* w : windows(soak)) write_row(row(*w, position++));
  return out.str();
}

}  // namespace

const std::vector<std::string>& soak_timeline_columns() {
  static const std::vector<std::string> columns = [] {
    std::vector<std::string> c = {
        // The reference's 28, in order (§5.7).
        "window", "start_unix", "verdict", "phase_a_received", "phase_a_sent", "max_disp_to_delta", "sum_disp_to_delta",
        "max_drop_full_delta", "sum_drop_full_delta", "max_pp_to_delta", "continuous_max_disp_to_delta",
        "continuous_sum_disp_to_delta", "continuous_max_drop_full_delta", "continuous_sum_drop_full_delta",
        "continuous_max_pp_to_delta", "continuous_sum_pp_to_delta", "continuous_sum_dispatcher_completed_delta",
        "continuous_snapshot_gaps", "continuous_unaccounted_gaps", "max_suppressed", "max_suppressed_ratio",
        "max_suppressed_topics", "top_suppressed_topics", "max_transport_peers", "max_transport_rtt_ms",
        "max_transport_loss_ppm", "max_workers", "violations"};
    c.insert(c.end(), kOurColumns.begin(), kOurColumns.end());
    return c;
  }();
  return columns;
}

std::string render_soak_timeline_csv(const json& soak) {
  return render_rows(
      soak_timeline_columns(),
      [](const json& w, std::size_t position) {
        auto& s = at(w, "scenario_summary");
        auto& pa = at(w, "phase_a");
        auto& c = continuous(w);  // null without data: every continuous cell empty
        std::vector<std::string> cells = {
            std::to_string(window_index(w, position)), whole_secs(at(w, "start_unix")), window_verdict(w),
            num(at(pa, "received"), "?"), num(at(pa, "sent"), "?"), num(at(s, "max_disp_to_delta")),
            num(at(s, "sum_disp_to_delta")), num(at(s, "max_drop_full_delta")), num(at(s, "sum_drop_full_delta")),
            num(at(s, "max_pp_to_delta")), num(at(c, "max_disp")), num(at(c, "sum_disp")), num(at(c, "max_drop")),
            num(at(c, "sum_drop")), num(at(c, "max_pp")), num(at(c, "sum_pp")), num(at(c, "sum_completed")),
            join_strings(at(c, "gaps"), ";"), join_strings(at(c, "unaccounted"), ";"), num(at(s, "max_suppressed")),
            ratio(at(s, "max_suppressed_ratio"), 6), num(at(s, "max_suppressed_topics")), str(s, "top_suppressed_topics"),
            num(at(s, "max_transport_peers")), num(at(s, "max_transport_rtt_ms")), num(at(s, "max_transport_loss_ppm")),
            num(at(s, "max_workers")), violations_count(w)};
        auto ours = our_cells(w, true);
        cells.insert(cells.end(), ours.begin(), ours.end());
        return cells;
      },
      soak);
}

const std::vector<std::string>& pubsub_pressure_timeline_columns() {
  static const std::vector<std::string> columns = [] {
    std::vector<std::string> c = {// The reference's 11, in order (§5.8).
                                  "window", "start_unix", "verdict", "max_disp_to_delta", "max_drop_full_delta",
                                  "max_pp_to_delta", "max_suppressed", "max_suppressed_ratio", "max_workers", "violations",
                                  "window_rc"};
    for (auto& o : kOurColumns)
      if (o != "exit_code") c.push_back(o);  // the reference's window_rc is it
    return c;
  }();
  return columns;
}

std::string render_pubsub_pressure_timeline_csv(const json& soak) {
  return render_rows(
      pubsub_pressure_timeline_columns(),
      [](const json& w, std::size_t position) {
        auto& s = at(w, "scenario_summary");
        auto& code = at(w, "exit_code");
        std::vector<std::string> cells = {
            std::to_string(window_index(w, position)), whole_secs(at(w, "start_unix")), window_verdict(w),
            num(at(s, "max_disp_to_delta")), num(at(s, "max_drop_full_delta")), num(at(s, "max_pp_to_delta")),
            num(at(s, "max_suppressed")), ratio(at(s, "max_suppressed_ratio"), 6), num(at(s, "max_workers")),
            violations_count(w), code.is_number_integer() && code.get<long long>() < 0 ? "" : num(code)};
        auto ours = our_cells(w, false);
        cells.insert(cells.end(), ours.begin(), ours.end());
        return cells;
      },
      soak);
}

}  // namespace x0x::proofs
