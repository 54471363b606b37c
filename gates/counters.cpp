// Counters from raw diagnostics (spec gates-and-proofs.md §2.2–§2.5), fail
// closed: anything that could not be read stays unknown, with the reason.
#include "gates/counters.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <set>

#include <fmt/format.h>

namespace x0x::gates {
namespace {

using nlohmann::json;

// A scalar counter at a fixed JSON path.
struct PathCounter {
  const char* name;
  std::vector<const char*> path;  // a vector: an initializer_list member would dangle
  bool gated;  // a gate reads it: its absence is a problem, not just a MISSING cell
};

const std::vector<PathCounter>& gossip_paths() {
  static const std::vector<PathCounter> v = {
      {"dispatcher_completed", {"dispatcher", "pubsub", "completed"}, true},
      {"dispatcher_timed_out", {"dispatcher", "pubsub", "timed_out"}, true},
      {"pubsub_workers", {"dispatcher", "pubsub_workers"}, false},
      {"recv_pump_dropped_full", {"recv_pump", "pubsub", "dropped_full"}, true},
      {"recv_pump_latest_depth", {"recv_pump", "pubsub", "latest_depth"}, false},
      {"recv_pump_max_depth", {"recv_pump", "pubsub", "max_depth"}, false},
      {"recv_pump_produced_total", {"recv_pump", "pubsub", "produced_total"}, false},
      {"recv_pump_dequeued_total", {"recv_pump", "pubsub", "dequeued_total"}, false},
      {"per_peer_timeout_count", {"pubsub_stages", "republish_per_peer_timeout"}, true},
      {"message_kind_anti_entropy", {"pubsub_stages", "message_kinds", "anti_entropy"}, false},
      {"message_kind_eager", {"pubsub_stages", "message_kinds", "eager"}, false},
      {"message_kind_ihave", {"pubsub_stages", "message_kinds", "ihave"}, false},
      {"message_kind_iwant", {"pubsub_stages", "message_kinds", "iwant"}, false},
      {"outbound_budget_exhausted", {"pubsub_stages", "outbound_budget_exhausted"}, false},
  };
  return v;
}

const std::vector<PathCounter>& connectivity_paths() {
  static const std::vector<PathCounter> v = {
      {"data_tx_depth", {"data_tx", "data_tx_depth"}, false},
      {"data_tx_capacity", {"data_tx", "data_tx_capacity"}, false},
      {"data_tx_high_water_count", {"data_tx", "data_tx_high_water_count"}, true},
      {"gso_bundle_send_total", {"gso", "bundle_send_total"}, false},
      {"gso_bundle_partial_send", {"gso", "bundle_partial_send"}, false},
  };
  return v;
}

// Counters derived from arrays and maps rather than read at one path.
const std::vector<std::string> kGossipDerived = {
    "suppressed_peers_size",       "peer_scores_total",         "peer_scores_eager_eligible",
    "peer_scores_lazy",            "peer_scores_excluded",      "peer_scores_topics_total",
    "suppressed_topics_total",     "suppressed_topic_top_count", "pubsub_cache_topics",
    "pubsub_cache_msg_count",      "pubsub_cache_total_bytes",  "pubsub_cache_oldest_age_secs_max",
    "pubsub_cache_evicted_by_age", "pubsub_cache_evicted_by_bytes", "pubsub_cache_evicted_by_count",
};
const std::vector<std::string> kTransportDerived = {"transport_peer_count", "transport_connected_count",
                                                    "transport_rtt_ms_max", "transport_packet_loss_ppm_max"};

using Path = std::vector<const char*>;

std::string dotted(const Path& path) {
  std::string s;
  for (auto* p : path) s += (s.empty() ? "" : ".") + std::string(p);
  return s;
}

// The value at path, or nullptr when a step is missing or not an object.
const json* at(const json& body, const Path& path) {
  const json* cur = &body;
  for (auto* key : path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

// Python-style truthiness, as the reference tests row flags.
bool truthy(const json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0;
  if (v.is_string() || v.is_array() || v.is_object()) return !v.empty();
  return false;
}

std::optional<double> number(const json* v) {
  if (v && v->is_number()) return v->get<double>();
  return std::nullopt;
}

std::string snippet(const std::string& s, std::size_t n = 160) { return s.size() <= n ? s : s.substr(0, n) + "..."; }

// Why a fetch cannot be read at all, or "" when its body is usable. `label`
// is "gossip post" etc.; `required` are top-level blocks that must be objects.
std::string fetch_problem(const RawFetch& f, const std::string& label, std::initializer_list<const char*> required) {
  auto error_text = [&]() -> std::string {
    if (f.body.is_object()) {
      auto it = f.body.find("error");
      if (it != f.body.end() && it->is_string()) return it->get<std::string>();
    }
    return f.body.is_null() ? "no body" : snippet(f.body.dump());
  };
  if (!f.fetched) return fmt::format("{}: not fetched: {}", label, f.error.empty() ? "no response" : f.error);
  if (f.http_status < 200 || f.http_status > 299) return fmt::format("{}: HTTP {}: {}", label, f.http_status, error_text());
  if (!f.body.is_object()) return fmt::format("{}: body is not a JSON object", label);
  if (auto ok = f.body.find("ok"); ok != f.body.end() && ok->is_boolean() && !ok->get<bool>())
    return fmt::format("{}: ok is false: {}", label, error_text());
  for (auto* key : required) {
    auto it = f.body.find(key);
    if (it == f.body.end()) return fmt::format("{}: missing {}", label, key);
    if (it->is_null()) return fmt::format("{}: {} is null", label, key);
    if (!it->is_object()) return fmt::format("{}: {} is not an object", label, key);
  }
  return "";
}

class Extractor {
 public:
  Extractor(NodeCounters& c, std::string label) : c_(c), label_(std::move(label)) {}

  void known(const std::string& name, double v) { c_.values[name] = v; }

  void unknown(const std::string& name, const std::string& why, bool gated) {
    c_.values[name] = std::nullopt;
    c_.unknown_why[name] = why;
    if (gated) c_.problems.push_back(why);
  }

  void missing(const std::string& name, const std::string& path, bool gated) {
    unknown(name, fmt::format("{}: missing {}", label_, path), gated);
  }

  void scalar(const json& body, const PathCounter& pc) {
    const json* v = at(body, pc.path);
    if (!v) return missing(pc.name, dotted(pc.path), pc.gated);
    if (v->is_null()) return unknown(pc.name, fmt::format("{}: {} is null", label_, dotted(pc.path)), pc.gated);
    if (!v->is_number())
      return unknown(pc.name, fmt::format("{}: {} is not a number ({})", label_, dotted(pc.path), snippet(v->dump(), 40)), pc.gated);
    known(pc.name, v->get<double>());
  }

  // An array at path, or nullptr after marking `names` unknown.
  const json* array(const json& body, const Path& path, const std::vector<std::string>& names,
                    bool gated_first) {
    const json* v = at(body, path);
    if (v && v->is_array()) return v;
    std::string why = v ? fmt::format("{}: {} is not a list", label_, dotted(path)) : fmt::format("{}: missing {}", label_, dotted(path));
    for (std::size_t i = 0; i < names.size(); ++i) unknown(names[i], why, gated_first && i == 0);
    return nullptr;
  }

  const std::string& label() const { return label_; }

 private:
  NodeCounters& c_;
  std::string label_;
};

// topic -> suppressed peer count, per §2.2: suppressed_peers_by_topic first,
// then the suppressed_peers rows grouped by topic.
std::map<std::string, long> suppressed_by_topic(const json& stages) {
  std::map<std::string, long> counts;
  if (auto it = stages.find("suppressed_peers_by_topic"); it != stages.end() && it->is_object()) {
    for (auto& [topic, v] : it->items()) {
      long n = 0;
      if (v.is_array()) {
        std::set<std::string> ids;
        for (auto& id : v) ids.insert(id.is_string() ? id.get<std::string>() : id.dump());
        n = static_cast<long>(ids.size());
      } else if (v.is_number()) {
        n = std::max(0L, static_cast<long>(v.get<double>()));
      }
      if (n > 0) counts[topic] = n;
    }
  }
  if (!counts.empty()) return counts;
  if (auto it = stages.find("suppressed_peers"); it != stages.end() && it->is_array()) {
    std::map<std::string, std::set<std::string>> peers;
    for (auto& row : *it) {
      const json* topic = at(row, {"topic"});
      const json* peer = at(row, {"peer_id"});
      if (!topic || !peer || topic->is_null() || peer->is_null()) continue;
      peers[topic->is_string() ? topic->get<std::string>() : topic->dump()].insert(
          peer->is_string() ? peer->get<std::string>() : peer->dump());
    }
    for (auto& [topic, ids] : peers) counts[topic] = static_cast<long>(ids.size());
  }
  return counts;
}

void extract_suppression(const json& stages, Extractor& x, NodeCounters& c) {
  bool by_topic = stages.contains("suppressed_peers_by_topic") && stages["suppressed_peers_by_topic"].is_object();
  bool rows = stages.contains("suppressed_peers") && stages["suppressed_peers"].is_array();
  c.text["suppressed_topics_top3"] = "";
  if (!by_topic && !rows) {
    x.missing("suppressed_topics_total", "pubsub_stages.suppressed_peers_by_topic", false);
    x.missing("suppressed_topic_top_count", "pubsub_stages.suppressed_peers_by_topic", false);
    return;
  }
  auto counts = suppressed_by_topic(stages);
  std::vector<std::pair<std::string, long>> ranked(counts.begin(), counts.end());
  std::stable_sort(ranked.begin(), ranked.end(), [](auto& a, auto& b) { return a.second > b.second; });  // ties: topic asc
  long top = ranked.empty() ? 0 : ranked.front().second;
  x.known("suppressed_topics_total", static_cast<double>(ranked.size()));
  x.known("suppressed_topic_top_count", static_cast<double>(top));
  std::string top3;
  for (std::size_t i = 0; i < ranked.size() && i < 3; ++i)
    top3 += fmt::format("{}{}:{}", i ? ";" : "", ranked[i].first, ranked[i].second);
  c.text["suppressed_topics_top3"] = top3;
}

void extract_peer_scores(const json& body, const json& stages, Extractor& x) {
  const json* scores = x.array(body, {"pubsub_stages", "peer_scores"},
                               {"peer_scores_total", "peer_scores_eager_eligible", "peer_scores_lazy", "peer_scores_excluded"}, true);
  if (scores) {
    double eager = 0, lazy = 0, excluded = 0;
    for (auto& row : *scores) {
      if (!row.is_object()) continue;
      if (auto it = row.find("eager_eligible"); it != row.end() && truthy(*it)) ++eager;
      if (auto it = row.find("role"); it != row.end() && it->is_string()) {
        lazy += *it == "lazy";
        excluded += *it == "excluded";
      }
    }
    x.known("peer_scores_total", static_cast<double>(scores->size()));
    x.known("peer_scores_eager_eligible", eager);
    x.known("peer_scores_lazy", lazy);
    x.known("peer_scores_excluded", excluded);
  }
  // peer_scores_by_topic's key count; fallback: distinct topics of the rows.
  auto by_topic = stages.find("peer_scores_by_topic");
  if (by_topic != stages.end() && by_topic->is_object() && !by_topic->empty()) {
    x.known("peer_scores_topics_total", static_cast<double>(by_topic->size()));
  } else if (scores) {
    std::set<std::string> topics;
    for (auto& row : *scores)
      if (row.is_object() && row.contains("topic") && !row["topic"].is_null())
        topics.insert(row["topic"].is_string() ? row["topic"].get<std::string>() : row["topic"].dump());
    x.known("peer_scores_topics_total", static_cast<double>(topics.size()));
  } else if (by_topic != stages.end() && by_topic->is_object()) {
    x.known("peer_scores_topics_total", 0);
  } else {
    x.missing("peer_scores_topics_total", "pubsub_stages.peer_scores_by_topic", false);
  }
}

void extract_caches(const json& stages, Extractor& x) {
  static const std::vector<std::string> names = {"pubsub_cache_topics",         "pubsub_cache_msg_count",
                                                 "pubsub_cache_total_bytes",    "pubsub_cache_oldest_age_secs_max",
                                                 "pubsub_cache_evicted_by_age", "pubsub_cache_evicted_by_bytes",
                                                 "pubsub_cache_evicted_by_count"};
  auto it = stages.find("topic_caches");
  if (it == stages.end() || !(it->is_array() || it->is_object())) {
    for (auto& n : names) x.missing(n, "pubsub_stages.topic_caches", false);
    return;
  }
  double msgs = 0, bytes = 0, oldest = 0, by_age = 0, by_bytes = 0, by_count = 0;
  auto num = [](const json& cache, const char* key) { return number(at(cache, {key})).value_or(0); };
  for (auto& entry : *it) {
    const json* cache = at(entry, {"cache"});
    if (!cache) continue;
    msgs += num(*cache, "msg_count");
    bytes += num(*cache, "total_bytes");
    oldest = std::max(oldest, num(*cache, "oldest_age_secs"));
    by_age += num(*cache, "evicted_by_age");
    by_bytes += num(*cache, "evicted_by_bytes");
    by_count += num(*cache, "evicted_by_count");
  }
  double values[] = {static_cast<double>(it->size()), msgs, bytes, oldest, by_age, by_bytes, by_count};
  for (std::size_t i = 0; i < names.size(); ++i) x.known(names[i], values[i]);
}

void extract_gossip(const RawFetch& f, NodeCounters& c, const std::string& label) {
  Extractor x(c, label);
  c.text["suppressed_topics_top3"] = "";
  std::string bad = fetch_problem(f, label, {"dispatcher", "recv_pump"});
  c.gossip_ok = bad.empty();
  if (!c.gossip_ok) {
    c.problems.push_back(bad);
    for (auto& n : gossip_counters()) {
      c.values[n] = std::nullopt;
      c.unknown_why[n] = bad;
    }
    return;
  }
  const json& body = f.body;
  for (auto& pc : gossip_paths()) x.scalar(body, pc);
  static const json kEmpty = json::object();
  const json* stages_p = at(body, {"pubsub_stages"});
  const json& stages = stages_p && stages_p->is_object() ? *stages_p : kEmpty;
  if (const json* rows = x.array(body, {"pubsub_stages", "suppressed_peers"}, {"suppressed_peers_size"}, true))
    x.known("suppressed_peers_size", static_cast<double>(rows->size()));
  extract_peer_scores(body, stages, x);
  extract_suppression(stages, x, c);
  extract_caches(stages, x);
}

std::string transport_row_text(const json& row, std::optional<double> rtt, std::optional<double> loss) {
  std::string id = row.contains("peer_id") && row["peer_id"].is_string() ? row["peer_id"].get<std::string>() : "?";
  std::string s = id.substr(0, 12) + "(rtt=" + (rtt ? fmt::format("{}ms", static_cast<long long>(*rtt)) : "?") +
                  ",loss=" + (loss ? fmt::format("{}ppm", static_cast<long long>(*loss)) : "?");
  if (auto idle = number(at(row, {"idle_for_ms"}))) s += fmt::format(",idle={}ms", static_cast<long long>(*idle));
  return s + ")";
}

void extract_transport(const json& body, Extractor& x, NodeCounters& c) {
  const json* rows = x.array(body, {"per_peer_transport"}, kTransportDerived, false);
  if (!rows) return;
  struct Ranked {
    double loss, rtt;  // -1 when unknown, so unknowns rank last
    std::string id, text;
  };
  std::vector<Ranked> ranked;
  double connected = 0, rtt_max = 0, loss_max = 0;
  for (auto& row : *rows) {
    if (!row.is_object()) continue;
    if (auto it = row.find("connected"); it != row.end() && truthy(*it)) ++connected;
    auto rtt = number(at(row, {"rtt_ms"}));
    if (rtt) rtt = std::floor(*rtt);
    auto rate = number(at(row, {"packet_loss_rate"}));
    std::optional<double> loss;
    if (rate) loss = std::max(0.0, std::floor(*rate * 1'000'000));
    if (rtt) rtt_max = std::max(rtt_max, *rtt);
    if (loss) loss_max = std::max(loss_max, *loss);
    std::string id = row.contains("peer_id") && row["peer_id"].is_string() ? row["peer_id"].get<std::string>() : "";
    ranked.push_back({loss.value_or(-1), rtt.value_or(-1), id, transport_row_text(row, rtt, loss)});
  }
  std::sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
    if (a.loss != b.loss) return a.loss > b.loss;
    if (a.rtt != b.rtt) return a.rtt > b.rtt;
    return a.id < b.id;
  });
  x.known("transport_peer_count", static_cast<double>(rows->size()));
  x.known("transport_connected_count", connected);
  x.known("transport_rtt_ms_max", rtt_max);
  x.known("transport_packet_loss_ppm_max", loss_max);
  std::string top3;
  for (std::size_t i = 0; i < ranked.size() && i < 3; ++i) top3 += (i ? ";" : "") + ranked[i].text;
  c.text["transport_peers_top3"] = top3;
}

void extract_connectivity(const RawFetch& f, NodeCounters& c, const std::string& label) {
  Extractor x(c, label);
  c.text["transport_peers_top3"] = "";
  std::string bad = fetch_problem(f, label, {});
  c.connectivity_ok = bad.empty();
  if (!c.connectivity_ok) {
    c.problems.push_back(bad);
    for (auto& n : connectivity_counters()) {
      c.values[n] = std::nullopt;
      c.unknown_why[n] = bad;
    }
    return;
  }
  for (auto& pc : connectivity_paths()) x.scalar(f.body, pc);
  extract_transport(f.body, x, c);
}

}  // namespace

const std::vector<std::string>& gossip_counters() {
  static const std::vector<std::string> v = [] {
    std::vector<std::string> names;
    for (auto& pc : gossip_paths()) names.push_back(pc.name);
    names.insert(names.end(), kGossipDerived.begin(), kGossipDerived.end());
    names.push_back("known_peer_topic_pairs");
    return names;
  }();
  return v;
}

const std::vector<std::string>& connectivity_counters() {
  static const std::vector<std::string> v = [] {
    std::vector<std::string> names;
    for (auto& pc : connectivity_paths()) names.push_back(pc.name);
    names.insert(names.end(), kTransportDerived.begin(), kTransportDerived.end());
    return names;
  }();
  return v;
}

const std::vector<std::string>& monotonic_counters() {
  static const std::vector<std::string> v = {
      "dispatcher_completed",        "dispatcher_timed_out",          "recv_pump_dropped_full",
      "recv_pump_produced_total",    "per_peer_timeout_count",        "data_tx_high_water_count",
      "gso_bundle_send_total",       "gso_bundle_partial_send",       "pubsub_cache_evicted_by_age",
      "pubsub_cache_evicted_by_bytes", "pubsub_cache_evicted_by_count"};
  return v;
}

NodeCounters extract_counters(const RawSnapshot& s, const std::string& side) {
  NodeCounters c;
  std::string suffix = side.empty() ? "" : " " + side;
  extract_gossip(s.gossip, c, "gossip" + suffix);
  // Until compute_deltas sees both sides, the known pairs are this side's score rows.
  c.values["known_peer_topic_pairs"] = c.values["peer_scores_total"];
  if (c.unknown_why.count("peer_scores_total")) c.unknown_why["known_peer_topic_pairs"] = c.unknown_why["peer_scores_total"];
  extract_connectivity(s.connectivity, c, "connectivity" + suffix);
  return c;
}

NodeCounters extract_counters(const RawSnapshot& s) { return extract_counters(s, ""); }

NodeDeltas compute_deltas(NodeCounters& pre, NodeCounters& post) {
  // §2.4 rule 5: the larger side's score rows, written into both.
  Value a = pre.values["peer_scores_total"], b = post.values["peer_scores_total"];
  Value known = a && b ? Value(std::max(*a, *b)) : (a ? a : b);
  for (NodeCounters* side : {&pre, &post}) {
    side->values["known_peer_topic_pairs"] = known;
    if (known) side->unknown_why.erase("known_peer_topic_pairs");
  }

  NodeDeltas d;
  std::set<std::string> names;
  for (auto& [k, v] : pre.values) names.insert(k);
  for (auto& [k, v] : post.values) names.insert(k);
  const auto& mono = monotonic_counters();
  for (auto& name : names) {
    auto p = pre.values.find(name), q = post.values.find(name);
    if (p == pre.values.end() || q == post.values.end() || !p->second || !q->second) {
      d.delta[name] = std::nullopt;
      continue;
    }
    double delta = *q->second - *p->second;
    if (std::find(mono.begin(), mono.end(), name) != mono.end() && delta < 0) {
      d.counter_reset = true;  // a restart: the window's true count is not knowable, 0 is the floor
      delta = 0;
    }
    d.delta[name] = delta;
  }
  auto delta_of = [&](const char* n) { return d.delta.count(n) ? d.delta[n] : Value(); };
  d.per_peer_timeout_ratio = ratio(delta_of("per_peer_timeout_count"), delta_of("dispatcher_completed"));
  d.drop_ratio = ratio(delta_of("recv_pump_dropped_full"), delta_of("recv_pump_produced_total"));
  Value pairs = post.values["known_peer_topic_pairs"], scores = post.values["peer_scores_total"];
  Value denom = pairs && scores ? Value(std::max({*pairs, *scores, 0.0})) : (pairs ? pairs : scores);
  d.suppression_ratio = ratio(post.values["suppressed_peers_size"], denom);
  return d;
}

Value ratio(Value n, Value d) {
  if (!n || !d) return std::nullopt;
  if (*n <= 0) return 0.0;
  if (*d <= 0) return kInf;
  return *n / *d;
}

std::string render(Value v, int decimals) {
  if (!v) return "unknown";
  if (std::isinf(*v)) return *v > 0 ? "inf" : "-inf";
  if (std::isnan(*v)) return "nan";
  if (decimals >= 0) return fmt::format("{:.{}f}", *v, decimals);
  if (*v == std::floor(*v) && std::fabs(*v) < 1e15) return fmt::format("{}", static_cast<long long>(*v));
  return fmt::format("{}", *v);
}

}  // namespace x0x::gates
