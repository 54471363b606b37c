// The operator grep patterns of spec deploy-and-harvest.md §4.4, counted over
// a node's log: how many lines match each, and which peers the per-peer
// timeout lines name most.
#pragma once
#include <map>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace x0x::probes {

struct LogPattern {
  std::string name;   // key in grep-counts.json
  std::string regex;  // ECMAScript
};

// The reference's patterns plus the lean node's own lifecycle lines.
const std::vector<LogPattern>& default_log_patterns();

struct LogCounts {
  std::size_t lines = 0, lines_in_window = 0;
  std::map<std::string, std::size_t> counts;
  std::map<std::string, std::size_t> timeout_peers;  // 16-hex peer id -> per-peer timeout lines
  nlohmann::json to_json(std::size_t top_n = 10) const;
};

// Counts lines whose leading RFC 3339 timestamp is at or after since_iso (an
// empty since counts every line; lines without a timestamp count when no
// since is given, and are otherwise skipped as unknown age).
LogCounts count_log_patterns(std::string_view log_text, const std::vector<LogPattern>& patterns,
                             const std::string& since_iso = {});

}  // namespace x0x::probes
