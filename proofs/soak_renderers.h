// Renderers of a soak's soak.json (gates/soak_model.h, the schema comment
// above window_json) into the files of a soak bundle (spec
// gates-and-proofs.md §5.7, §5.8, §8.3). They read only the JSON, so `x0xctl
// proof render` and `rescore` rebuild them from a bundle; and they take any
// JSON: a missing key or a wrong type renders as `?` or empty, never throws.
#pragma once
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace x0x::proofs {

// timeline.csv (§5.7): one row per window slot; the reference's 28 columns
// first and in order, ours appended (state, class, exit code, Phase A
// latency, ...). Warm-up, skipped and interrupted slots are rows too.
std::string render_soak_timeline_csv(const nlohmann::json& soak);
const std::vector<std::string>& soak_timeline_columns();
inline constexpr std::size_t kReferenceTimelineColumns = 28;

// summary.md (§5.7): the reference's title, bullets, "Cumulative SLO totals"
// labels and 20-column per-window table (counted windows only, as the
// reference counts them); then ours: burn rate, what was not counted, warnings.
std::string render_soak_summary_md(const nlohmann::json& soak);

// The pubsub-pressure variant's forms (§5.8): its summary.md and its
// 11-column timeline.csv (then ours).
std::string render_pubsub_pressure_summary_md(const nlohmann::json& soak);
std::string render_pubsub_pressure_timeline_csv(const nlohmann::json& soak);
const std::vector<std::string>& pubsub_pressure_timeline_columns();
inline constexpr std::size_t kReferencePubsubPressureColumns = 11;

// JUnit XML: one testsuite "soak"; a case per window ("window 001": failure
// when effective_failed, skipped when warm-up/skipped/interrupted), one per
// soak rule, and one for the overall verdict.
std::string render_soak_junit(const nlohmann::json& soak);

// report.html: self-contained (inline CSS and SVG, no script, no URL): the
// verdict banner, the policies and rules, per-node time series with the
// window classes shaded and burn-rate alerts marked, a per-window table.
std::string render_soak_report_html(const nlohmann::json& soak);

// Every file above by its bundle name: timeline.csv, summary.md, junit.xml,
// report.html (the §5.8 forms for config.variant "pubsub-pressure").
std::map<std::string, std::string> render_soak_all(const nlohmann::json& soak);

}  // namespace x0x::proofs
