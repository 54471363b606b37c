// Read-side helpers over soak.json for the soak renderers (private to
// proofs/): hostile-tolerant lookups, the window classes, and the value
// formats of the reference's soak outputs (§5.7: integers without decimals,
// ratios with fixed decimals or `inf`). Nothing here throws on any JSON.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace x0x::proofs::soak_view {

using nlohmann::json;

// The window objects of soak["windows"], in order (non-objects dropped).
std::vector<const json*> windows(const json& soak);
// The window's slot number: "index" when a positive integer, else its position (1-based).
int window_index(const json& w, std::size_t position);
std::string window_dir_label(int index);  // 7 → "007" (windows/NNN)

// The window's bucket: its "class" when the certifier wrote one we know, else "".
std::string window_class(const json& w);
bool is_tolerated(const std::string& cls);
// Counted toward the verdict (the reference's windows): not warm-up, not a
// skipped or interrupted slot.
bool counted(const json& w);
// The timeline's verdict column: "verdict" as written, "?" when absent.
std::string window_verdict(const json& w);
bool effective_failed(const json& soak, const json& w, int index);

// The soak's verdict: "GO", "INTERRUPTED", or "NO-GO" for anything else (fail closed).
std::string overall(const json& soak);
bool is_pubsub_pressure(const json& soak);

// The accounting of a window when it has data (§5.2), else null: consumers
// fall back to the scenario fields.
const json& continuous(const json& w);

// Node names: config.nodes, then each window's node_order and nodes keys, first seen first.
std::vector<std::string> node_names(const json& soak);

// A numeric cell: integers without decimals, others up to 6 dp, +inf → "inf";
// anything else (null, text, NaN) → `missing`.
std::string num(const json& v, std::string_view missing = "");
// A ratio with `dp` decimals or "inf"; anything else → `missing`.
std::string ratio(const json& v, int dp, std::string_view missing = "");
// Whole seconds (floor); not a positive number → `missing`.
std::string whole_secs(const json& v, std::string_view missing = "");
// A finite number, else nullopt (plots: a gap, never 0).
std::optional<double> finite(const json& v);
// The window's violations count: the scenario's, else (a window that ran) the
// typed violations recorded; unknown → `missing`.
std::string violations_count(const json& w, std::string_view missing = "");
// Strings of an array joined by `sep` (non-strings dropped).
std::string join_strings(const json& arr, std::string_view sep);
// Window indices of an array joined by ", ", or "none" (§5.7's lists).
std::string index_list(const json& arr);
bool list_has(const json& arr, int index);

}  // namespace x0x::proofs::soak_view
