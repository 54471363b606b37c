// soak.json: the enum spellings and the JSON of the soak model, both ways
// (soak_model.h has the schema). +inf is the string "inf" (JSON has no
// infinity), unknown is null; reading back is strict and names the field.
#include "gates/soak_model.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "core/enum_names.h"

#include "gates/soak_policy.h"
#include "gates/soak_scenario.h"

namespace x0x::gates::soak {
namespace {

using nlohmann::json;

template <class E, std::size_t N>
using Spellings = std::array<std::pair<E, std::string_view>, N>;

constexpr Spellings<WindowState, 4> kState = {{{WindowState::ran, "ran"},
                                               {WindowState::missing, "missing"},
                                               {WindowState::skipped, "skipped"},
                                               {WindowState::interrupted, "interrupted"}}};
constexpr Spellings<WindowClass, 7> kClass = {{{WindowClass::clean, "clean"},
                                               {WindowClass::tolerated_dispatcher, "tolerated_dispatcher"},
                                               {WindowClass::tolerated_phase_a, "tolerated_phase_a"},
                                               {WindowClass::tolerated_infra_phase_a, "tolerated_infra_phase_a"},
                                               {WindowClass::effective_failed, "effective_failed"},
                                               {WindowClass::warmup, "warmup"},
                                               {WindowClass::not_counted, "not_counted"}}};
constexpr Spellings<ViolationClass, 5> kViolation = {{{ViolationClass::dispatcher, "dispatcher"},
                                                      {ViolationClass::phase_a, "phase_a"},
                                                      {ViolationClass::drop, "drop"},
                                                      {ViolationClass::error, "error"},
                                                      {ViolationClass::other, "other"}}};


// ---- writing ---------------------------------------------------------------

json number(double x) {
  if (std::isnan(x)) return nullptr;
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  return x;
}
json number(const std::optional<double>& x) { return x ? number(*x) : json(nullptr); }
json count(long n) { return n < 0 ? json(nullptr) : json(n); }  // -1: the reference's "?"

json sample_json(const std::optional<AccountingSample>& s) {
  if (!s) return nullptr;
  return {{"completed", number(s->completed)},
          {"timed_out", number(s->timed_out)},
          {"dropped_full", number(s->dropped_full)},
          {"per_peer_timeout", number(s->per_peer_timeout)},
          {"uptime_secs", number(s->uptime_secs)},
          {"unix_time", number(s->unix_time)}};
}

json node_json(const NodeWindow& n) {
  return {{"pre", sample_json(n.pre)},
          {"post", sample_json(n.post)},
          {"disp_to", number(n.disp_to)},
          {"drop_full", number(n.drop_full)},
          {"pp_to", number(n.pp_to)},
          {"completed", number(n.completed)},
          {"suppressed", number(n.suppressed)},
          {"suppressed_ratio", number(n.suppressed_ratio)},
          {"suppressed_topics", number(n.suppressed_topics)},
          {"transport_peers", number(n.transport_peers)},
          {"transport_rtt_ms", number(n.transport_rtt_ms)},
          {"transport_loss_ppm", number(n.transport_loss_ppm)},
          {"workers", number(n.workers)},
          {"top_suppressed_topics", n.top_suppressed_topics},
          {"phase_a_delivered", n.phase_a_delivered},
          {"phase_a_expected", n.phase_a_expected},
          {"phase_a_p50_ms", number(n.phase_a_p50_ms)},
          {"phase_a_p99_ms", number(n.phase_a_p99_ms)},
          {"rss_kb", number(n.rss_kb)},
          {"cpu_seconds", number(n.cpu_seconds)}};
}

// The timeline's verdict column: what the slot came to.
std::string verdict_column(const SoakWindow& w) {
  switch (w.state) {
    case WindowState::ran: return w.verdict ? std::string(to_string(*w.verdict)) : "?";
    case WindowState::missing: return "MISSING";
    case WindowState::skipped: return "SKIPPED";
    case WindowState::interrupted: return "INTERRUPTED";
  }
  return "?";
}

json scenario_summary_json(const SoakWindow& w) {
  ScenarioSummary s = summarize_scenario(w);
  return {{"max_disp_to_delta", number(s.max_disp_to_delta)},
          {"sum_disp_to_delta", number(s.sum_disp_to_delta)},
          {"max_drop_full_delta", number(s.max_drop_full_delta)},
          {"sum_drop_full_delta", number(s.sum_drop_full_delta)},
          {"max_pp_to_delta", number(s.max_pp_to_delta)},
          {"max_suppressed", number(s.max_suppressed)},
          {"max_suppressed_ratio", number(s.max_suppressed_ratio)},
          {"max_suppressed_topics", number(s.max_suppressed_topics)},
          {"top_suppressed_topics", s.top_suppressed_topics},
          {"max_transport_peers", number(s.max_transport_peers)},
          {"max_transport_rtt_ms", number(s.max_transport_rtt_ms)},
          {"max_transport_loss_ppm", number(s.max_transport_loss_ppm)},
          {"max_workers", number(s.max_workers)},
          {"violations", s.violations}};
}

json accounting_json(const WindowAccounting& a) {
  json nodes = json::object();
  for (auto& [name, n] : a.nodes)
    nodes[name] = {{"disp", number(n.disp)},         {"drop", number(n.drop)},           {"pp", number(n.pp)},
                   {"completed", number(n.completed)}, {"from_unix", number(n.from_unix)}, {"to_unix", number(n.to_unix)}};
  return {{"has_data", a.has_data},
          {"max_disp", number(a.max_disp)},
          {"sum_disp", number(a.sum_disp)},
          {"max_drop", number(a.max_drop)},
          {"sum_drop", number(a.sum_drop)},
          {"max_pp", number(a.max_pp)},
          {"sum_pp", number(a.sum_pp)},
          {"sum_completed", number(a.sum_completed)},
          {"gaps", a.gaps},
          {"unaccounted", a.unaccounted},
          {"nodes", std::move(nodes)}};
}

// ---- reading ---------------------------------------------------------------

// Typed access with errors naming the field: "soak.json window 3: nodes.a.pre.completed: expected a number".
class Reader {
 public:
  explicit Reader(std::string what) : what_(std::move(what)) {}
  void rename(std::string what) { what_ = std::move(what); }

  [[noreturn]] void fail(const std::string& field, const std::string& why) const {
    throw std::runtime_error(fmt::format("{}: {}: {}", what_, field, why));
  }
  static std::string sub(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }

  const json& at(const json& obj, std::string_view key, const std::string& path) const {
    if (!obj.is_object()) fail(path.empty() ? "(top level)" : path, "expected an object");
    auto it = obj.find(key);
    if (it == obj.end()) fail(sub(path, key), "missing");
    return *it;
  }
  const json& object(const json& obj, std::string_view key, const std::string& path) const {
    const json& v = at(obj, key, path);
    if (!v.is_object()) fail(sub(path, key), std::string("expected an object, got ") + v.type_name());
    return v;
  }
  const json& array(const json& obj, std::string_view key, const std::string& path) const {
    const json& v = at(obj, key, path);
    if (!v.is_array()) fail(sub(path, key), std::string("expected an array, got ") + v.type_name());
    return v;
  }
  double num_value(const json& v, const std::string& field) const {
    if (v.is_number()) return v.get<double>();
    if (v.is_string() && v.get<std::string>() == "inf") return INFINITY;
    if (v.is_string() && v.get<std::string>() == "-inf") return -INFINITY;
    fail(field, std::string("expected a number or \"inf\", got ") + v.dump());
  }
  double num(const json& obj, std::string_view key, const std::string& path) const {
    return num_value(at(obj, key, path), sub(path, key));
  }
  std::optional<double> opt_num(const json& obj, std::string_view key, const std::string& path) const {
    const json& v = at(obj, key, path);
    if (v.is_null()) return std::nullopt;
    return num_value(v, sub(path, key));
  }
  long integer(const json& obj, std::string_view key, const std::string& path) const {
    const json& v = at(obj, key, path);
    if (!v.is_number_integer()) fail(sub(path, key), std::string("expected an integer, got ") + v.dump());
    return v.get<long>();
  }
  long opt_count(const json& obj, std::string_view key, const std::string& path) const {  // null → -1
    if (at(obj, key, path).is_null()) return -1;
    return integer(obj, key, path);
  }
  bool boolean(const json& obj, std::string_view key, const std::string& path) const {
    const json& v = at(obj, key, path);
    if (!v.is_boolean()) fail(sub(path, key), std::string("expected true or false, got ") + v.dump());
    return v.get<bool>();
  }
  std::string str_value(const json& v, const std::string& field) const {
    if (!v.is_string()) fail(field, std::string("expected a string, got ") + v.type_name());
    return v.get<std::string>();
  }
  std::string str(const json& obj, std::string_view key, const std::string& path) const {
    return str_value(at(obj, key, path), sub(path, key));
  }
  std::vector<std::string> strings(const json& obj, std::string_view key, const std::string& path) const {
    std::vector<std::string> out;
    const json& a = array(obj, key, path);
    for (std::size_t i = 0; i < a.size(); ++i) out.push_back(str_value(a[i], fmt::format("{}[{}]", sub(path, key), i)));
    return out;
  }

 private:
  std::string what_;
};

std::optional<AccountingSample> read_sample(const Reader& r, const json& obj, std::string_view key, const std::string& path) {
  const json& v = r.at(obj, key, path);
  if (v.is_null()) return std::nullopt;
  std::string p = Reader::sub(path, key);
  if (!v.is_object()) r.fail(p, std::string("expected an object or null, got ") + v.type_name());
  AccountingSample s;
  s.completed = r.num(v, "completed", p);
  s.timed_out = r.num(v, "timed_out", p);
  s.dropped_full = r.num(v, "dropped_full", p);
  s.per_peer_timeout = r.num(v, "per_peer_timeout", p);
  s.uptime_secs = r.opt_num(v, "uptime_secs", p);
  s.unix_time = r.num(v, "unix_time", p);
  return s;
}

NodeWindow read_node(const Reader& r, const json& j, const std::string& p) {
  NodeWindow n;
  n.pre = read_sample(r, j, "pre", p);
  n.post = read_sample(r, j, "post", p);
  n.disp_to = r.opt_num(j, "disp_to", p);
  n.drop_full = r.opt_num(j, "drop_full", p);
  n.pp_to = r.opt_num(j, "pp_to", p);
  n.completed = r.opt_num(j, "completed", p);
  n.suppressed = r.opt_num(j, "suppressed", p);
  n.suppressed_ratio = r.opt_num(j, "suppressed_ratio", p);
  n.suppressed_topics = r.opt_num(j, "suppressed_topics", p);
  n.transport_peers = r.opt_num(j, "transport_peers", p);
  n.transport_rtt_ms = r.opt_num(j, "transport_rtt_ms", p);
  n.transport_loss_ppm = r.opt_num(j, "transport_loss_ppm", p);
  n.workers = r.opt_num(j, "workers", p);
  n.top_suppressed_topics = r.str(j, "top_suppressed_topics", p);
  n.phase_a_delivered = r.integer(j, "phase_a_delivered", p);
  n.phase_a_expected = r.integer(j, "phase_a_expected", p);
  n.phase_a_p50_ms = r.opt_num(j, "phase_a_p50_ms", p);
  n.phase_a_p99_ms = r.opt_num(j, "phase_a_p99_ms", p);
  n.rss_kb = r.opt_num(j, "rss_kb", p);
  n.cpu_seconds = r.opt_num(j, "cpu_seconds", p);
  return n;
}

}  // namespace

std::string_view to_string(WindowState s) { return name_in(kState, s); }
std::string_view to_string(WindowClass c) { return name_in(kClass, c); }
std::string_view to_string(ViolationClass c) { return name_in(kViolation, c); }
std::optional<WindowState> parse_window_state(std::string_view s) { return value_in(kState, s); }
std::optional<WindowClass> parse_window_class(std::string_view s) { return value_in(kClass, s); }
std::optional<ViolationClass> parse_violation_class(std::string_view s) { return value_in(kViolation, s); }

bool BurnRate::any_fired() const {
  return std::any_of(alerts.begin(), alerts.end(), [](const BurnAlert& a) { return !a.fired_windows.empty(); });
}

json window_json(const SoakWindow& w, const WindowAccounting* a, std::optional<WindowClass> c) {
  json pairs = json::array();
  for (auto& [src, dst] : w.phase_a_failed_pairs) pairs.push_back({src, dst});
  json violations = json::array();
  for (auto& v : w.violations)
    violations.push_back({{"rule", v.rule},
                          {"node", v.node},
                          {"observed", v.observed},
                          {"threshold", v.threshold},
                          {"message", v.message},
                          {"class", to_string(v.cls)}});
  json nodes = json::object();
  for (auto& [name, n] : w.nodes) nodes[name] = node_json(n);
  json j = {{"index", w.index},
            {"dir", fmt::format("windows/{:03}", w.index)},
            {"slot_unix", number(w.slot_unix)},
            {"start_unix", number(w.start_unix)},
            {"end_unix", number(w.end_unix)},
            {"state", to_string(w.state)},
            {"verdict", verdict_column(w)},
            {"warmup", w.warmup},
            {"exit_code", w.exit_code},
            {"fleet_epoch", w.fleet_epoch},
            {"scenario", w.scenario},
            {"note", w.note},
            {"phase_a",
             {{"sent", count(w.phase_a_sent)},
              {"received", count(w.phase_a_received)},
              {"expected", w.phase_a_expected},
              {"p50_ms", number(w.phase_a_p50_ms)},
              {"p99_ms", number(w.phase_a_p99_ms)},
              {"failed_pairs", std::move(pairs)}}},
            {"violations", std::move(violations)},
            {"node_order", w.node_order},
            {"nodes", std::move(nodes)},
            {"scenario_summary", scenario_summary_json(w)}};
  if (a) j["continuous"] = accounting_json(*a);
  if (c) j["class"] = to_string(*c);
  return j;
}

json config_json(const SoakConfig& c) {
  return {{"gate", c.gate},
          {"gate_source", c.gate_source},
          {"variant", c.variant},
          {"duration_secs", number(c.duration_secs)},
          {"interval_secs", number(c.interval_secs)},
          {"warmup_windows", c.warmup_windows},
          {"target_windows", c.target_windows},
          {"expected_pairs", c.expected_pairs},
          {"nodes", c.nodes},
          {"started_unix", number(c.started_unix)}};
}

json result_json(const SoakResult& r) {
  const NoisePolicy& n = r.noise;
  const AggregatePhaseA& a = r.aggregate;
  json alerts = json::array();
  for (auto& al : r.burn.alerts)
    alerts.push_back({{"name", al.name},
                      {"burn_threshold", number(al.burn_threshold)},
                      {"long_windows", al.long_windows},
                      {"short_windows", al.short_windows},
                      {"fired_windows", al.fired_windows},
                      {"guarded_windows", al.guarded_windows},
                      {"max_long_burn", number(al.max_long_burn)}});
  json policy = {
      {"dispatcher_noise",
       {{"passed", n.passed},
        {"verdict", n.verdict},
        {"total_disp", number(n.total_disp)},
        {"total_completed", number(n.total_completed)},
        {"total_ratio", number(n.total_ratio)},
        {"max_window_ratio", number(n.max_window_ratio)},
        {"max_consecutive_anomalies", n.max_consecutive_anomalies},
        {"anomaly_windows", n.anomaly_windows}}},
      {"aggregate_phase_a",
       {{"target", a.target},
        {"sent", a.sent},
        {"received", a.received},
        {"sent_ratio", number(a.sent_ratio)},
        {"recv_ratio", number(a.recv_ratio)},
        {"ok", a.ok},
        {"infra_degraded", a.infra_degraded},
        {"pass", a.pass},
        {"status", a.status}}},
      {"burn_rate",
       {{"budget_ratio", number(r.burn.budget_ratio)},
        {"min_timeouts", r.burn.min_timeouts},
        {"min_completions", number(r.burn.min_completions)},
        {"budget_consumed", number(r.burn.budget_consumed)},
        {"any_fired", r.burn.any_fired()},
        {"alerts", std::move(alerts)}}},
      {"tolerated_dispatcher_windows", r.tolerated_dispatcher},
      {"tolerated_phase_a_windows", r.tolerated_phase_a},
      {"tolerated_infra_phase_a_windows", r.tolerated_infra},
      {"effective_failed", r.effective_failed},
      {"missing_windows", r.missing},
      {"skipped_windows", r.skipped},
      {"unaccounted_gap_windows", r.unaccounted_gap_windows},
      {"warmup_windows", r.warmup},
      {"cumulative",
       {{"dispatcher_timeouts", number(r.cumulative_disp)},
        {"drop_full", number(r.cumulative_drop)},
        {"completions", number(r.cumulative_completed)},
        {"timeout_ratio", number(rate_or_inf(r.cumulative_disp, r.cumulative_completed))},
        {"per_peer_ratio", number(rate_or_inf(r.cumulative_pp, r.cumulative_completed))}}},
      {"overall_pass", r.overall_pass}};
  json rules = json::array();
  for (auto& rule : r.rules) rules.push_back({{"rule", rule.rule}, {"status", rule.passed ? "pass" : "fail"}, {"detail", rule.detail}});
  return {{"policy", std::move(policy)}, {"rules", std::move(rules)}};
}

SoakWindow window_from_json(const json& j) {
  Reader r("soak.json window");
  SoakWindow w;
  w.index = static_cast<int>(r.integer(j, "index", ""));
  r.rename(fmt::format("soak.json window {}", w.index));
  w.slot_unix = r.num(j, "slot_unix", "");
  w.start_unix = r.num(j, "start_unix", "");
  w.end_unix = r.num(j, "end_unix", "");
  std::string state = r.str(j, "state", "");
  auto parsed = parse_window_state(state);
  if (!parsed) r.fail("state", "expected \"ran\", \"missing\", \"skipped\" or \"interrupted\", got \"" + state + "\"");
  w.state = *parsed;
  std::string verdict = r.str(j, "verdict", "");
  if (w.state == WindowState::ran) w.verdict = parse_verdict(verdict);  // "?": ran, no verdict found
  w.warmup = r.boolean(j, "warmup", "");
  w.exit_code = static_cast<int>(r.integer(j, "exit_code", ""));
  w.fleet_epoch = static_cast<int>(r.integer(j, "fleet_epoch", ""));
  w.scenario = r.str(j, "scenario", "");
  w.note = r.str(j, "note", "");

  const json& pa = r.object(j, "phase_a", "");
  w.phase_a_sent = r.opt_count(pa, "sent", "phase_a");
  w.phase_a_received = r.opt_count(pa, "received", "phase_a");
  w.phase_a_expected = r.integer(pa, "expected", "phase_a");
  w.phase_a_p50_ms = r.opt_num(pa, "p50_ms", "phase_a");
  w.phase_a_p99_ms = r.opt_num(pa, "p99_ms", "phase_a");
  const json& pairs = r.array(pa, "failed_pairs", "phase_a");
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    auto& p = pairs[i];
    std::string field = fmt::format("phase_a.failed_pairs[{}]", i);
    if (!p.is_array() || p.size() != 2) r.fail(field, "expected [src, dst]");
    w.phase_a_failed_pairs.emplace_back(r.str_value(p[0], field), r.str_value(p[1], field));
  }

  const json& violations = r.array(j, "violations", "");
  for (std::size_t i = 0; i < violations.size(); ++i) {
    std::string p = fmt::format("violations[{}]", i);
    auto& v = violations[i];
    WindowViolation out{r.str(v, "rule", p), r.str(v, "node", p), r.str(v, "observed", p), r.str(v, "threshold", p),
                        r.str(v, "message", p)};
    std::string cls = r.str(v, "class", p);
    auto c = parse_violation_class(cls);
    if (!c) r.fail(p + ".class", "unknown violation class \"" + cls + "\"");
    out.cls = *c;
    w.violations.push_back(std::move(out));
  }
  w.node_order = r.strings(j, "node_order", "");
  for (auto& [name, node] : r.object(j, "nodes", "").items()) w.nodes[name] = read_node(r, node, "nodes." + name);
  return w;
}

SoakConfig config_from_json(const json& j) {
  Reader r("soak.json config");
  SoakConfig c;
  c.gate = r.str(j, "gate", "");
  c.gate_source = r.str(j, "gate_source", "");
  c.variant = r.str(j, "variant", "");
  c.duration_secs = r.num(j, "duration_secs", "");
  c.interval_secs = r.num(j, "interval_secs", "");
  c.warmup_windows = static_cast<int>(r.integer(j, "warmup_windows", ""));
  c.target_windows = static_cast<int>(r.integer(j, "target_windows", ""));
  c.expected_pairs = r.integer(j, "expected_pairs", "");
  c.nodes = r.strings(j, "nodes", "");
  c.started_unix = r.num(j, "started_unix", "");
  return c;
}

}  // namespace x0x::gates::soak
