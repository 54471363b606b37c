// The numbers a gate scores, read from one node's raw diagnostics (spec
// gates-and-proofs.md §2.2, §2.3) and the per-window deltas and ratios (§2.4,
// §2.5). Unlike the reference, a value that could not be read is *unknown*
// (std::nullopt), never 0: a failed fetch, an HTTP error, {"ok": false}, a
// null `dispatcher`/`recv_pump` block or a missing gated path.
#pragma once
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace x0x::gates {

using Value = std::optional<double>;  // nullopt = unknown; +inf allowed for ratios
inline constexpr double kInf = std::numeric_limits<double>::infinity();

// One fetch of one endpoint, as stored in a proof bundle.
struct RawFetch {
  bool fetched = false;  // a response with a body arrived
  long http_status = 0;
  std::string error;     // transport or parse error when !fetched
  nlohmann::json body;   // the parsed body (null when none)
  double unix_time = 0;  // when the response arrived
};

// One node at one instant (the pre or post side of a scenario window).
struct RawSnapshot {
  RawFetch gossip;        // GET /diagnostics/gossip
  RawFetch connectivity;  // GET /diagnostics/connectivity
};

struct NodeCounters {
  bool gossip_ok = false, connectivity_ok = false;
  std::vector<std::string> problems;        // why a side is not ok, or which gated path is missing
  std::map<std::string, Value> values;      // every counter name of §2.2/§2.3, plus known_peer_topic_pairs
  std::map<std::string, std::string> text;  // suppressed_topics_top3, transport_peers_top3
  std::map<std::string, std::string> unknown_why;  // counter -> why it is unknown ("gossip post: HTTP 503: ...")
};

// side ("pre"/"post") only labels the problem strings: "gossip post: HTTP 503: ...".
NodeCounters extract_counters(const RawSnapshot& s, const std::string& side);
NodeCounters extract_counters(const RawSnapshot& s);  // problems read "gossip: ..."

// Counter names read from /diagnostics/gossip and /diagnostics/connectivity (§2.2, §2.3).
const std::vector<std::string>& gossip_counters();
const std::vector<std::string>& connectivity_counters();

// Names of the monotonic counters (clamped to >= 0 in deltas, §2.4 rule 4).
const std::vector<std::string>& monotonic_counters();

struct NodeDeltas {
  std::map<std::string, Value> delta;  // post − pre (clamped for monotonic); unknown if either side is
  Value per_peer_timeout_ratio;        // Δper_peer_timeout / Δdispatcher_completed (§2.5)
  Value drop_ratio;                    // ΔdroppedFull / Δproduced_total (report only)
  Value suppression_ratio;             // post suppressed / max(post known pairs, post peer_scores_total)
  bool counter_reset = false;          // some monotonic counter went backwards (restart)
};

// known_peer_topic_pairs = max(pre, post peer_scores_total) is written into both sides first (§2.4 rule 5).
NodeDeltas compute_deltas(NodeCounters& pre, NodeCounters& post);

// n / d with the §2.5 zero rules: 0/x → 0, n>0/0 → +inf; unknown if either is unknown.
Value ratio(Value n, Value d);
// "7", "0.310" (decimals digits), "inf", "unknown"
std::string render(Value v, int decimals = -1);

}  // namespace x0x::gates
