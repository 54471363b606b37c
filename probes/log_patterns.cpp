#include "probes/log_patterns.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace x0x::probes {

const std::vector<LogPattern>& default_log_patterns() {
  static const std::vector<LogPattern> patterns = {
      {"recv_channel_80pct_warn", R"(receive forward channel >80% full)"},
      {"recv_channel_50pct_info", R"(receive forward channel >50% full)"},
      {"per_peer_timeout", R"(peer_id=[0-9a-f]{16}.*timed out|timed out.*peer_id=[0-9a-f]{16})"},
      {"peer_cooled", R"(Peer cooled after repeated PubSub outbound budget pressure)"},
      {"conn_lifecycle", R"(\b(Replaced|Closing|Closed|ReaderExit|Superseded|LivenessTimeout)\b)"},
      {"stale_path", R"(ConnectionReset|path validation failed|dropping packet from unknown peer)"},
      {"crash_or_restart", R"(\b(Killed|OOM|panicked)\b|signal \d+ received)"},
      {"dm_pubsub_fallback", R"(falling back to pubsub)"},
      {"runner_result_loss", R"(dropping oldest queued result|dropping current result|dropped .* stale queued results|dropping result after retries)"},
      {"token_generated", R"(API token generated at)"},
      {"upgrade_failed", R"(UPGRADE_FAILED|\.x0x-upgrade-)"},
      {"peer_connected", R"(peer connected:)"},
      {"peer_disconnected", R"(peer disconnected:)"},
      {"faults_armed", R"(faults armed:)"},
      {"warnings", R"(\b(warning|WARN|WARNING)\b)"},
      {"errors", R"(\b(error|ERROR)\b)"},
  };
  return patterns;
}

nlohmann::json LogCounts::to_json(std::size_t top_n) const {
  std::vector<std::pair<std::string, std::size_t>> top(timeout_peers.begin(), timeout_peers.end());
  std::sort(top.begin(), top.end(), [](auto& a, auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  if (top.size() > top_n) top.resize(top_n);
  auto top_json = nlohmann::json::array();
  for (auto& [peer, n] : top) top_json.push_back({{"peer_id", peer}, {"timeouts", n}});
  return {{"lines_read", lines}, {"lines_in_window", lines_in_window}, {"counts", counts},
          {"top_per_peer_timeout_sources", top_json}};
}

LogCounts count_log_patterns(std::string_view text, const std::vector<LogPattern>& patterns, const std::string& since) {
  std::vector<std::regex> compiled;
  for (auto& p : patterns) compiled.emplace_back(p.regex, std::regex::ECMAScript | std::regex::optimize);
  static const std::regex peer_re(R"(peer_id=([0-9a-f]{16}))");
  LogCounts out;
  for (auto& p : patterns) out.counts[p.name] = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    auto line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (line.empty()) continue;
    out.lines++;
    if (!since.empty()) {
      // RFC 3339 timestamps sort lexically when both are UTC.
      bool stamped = line.size() >= 19 && line[4] == '-' && line[10] == 'T';
      if (!stamped || line.substr(0, since.size()) < since) continue;
    }
    out.lines_in_window++;
    std::string s(line);
    for (std::size_t i = 0; i < patterns.size(); ++i)
      if (std::regex_search(s, compiled[i])) {
        out.counts[patterns[i].name]++;
        if (patterns[i].name == "per_peer_timeout") {
          std::smatch m;
          if (std::regex_search(s, m, peer_re)) out.timeout_peers[m[1].str()]++;
        }
      }
  }
  return out;
}

}  // namespace x0x::probes
