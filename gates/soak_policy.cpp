#include "gates/soak_policy.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "gates/profile.h"
#include "gates/soak_accounting.h"
#include "gates/soak_scenario.h"

namespace x0x::gates::soak {
namespace {

std::string ratio_text(double x) { return std::isinf(x) ? "inf" : fmt::format("{:.8f}", x); }

std::string list_text(const std::vector<int>& v) {
  if (v.empty()) return "none";
  std::string out;
  for (int i : v) out += (out.empty() ? "" : ",") + std::to_string(i);
  return out;
}

std::optional<double> parse_number(const std::string& s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

bool contains(const std::string& text, std::string_view what) { return text.find(what) != std::string::npos; }

bool mentions_phase_a(const std::string& message) {
  std::string lower(message);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return contains(lower, "phase a");
}

// received ≥ N and sent ≥ N, unknown counting as 0.
bool phase_a_ok(const SoakWindow& w, long n) {
  return std::max(0L, w.phase_a_received) >= n && std::max(0L, w.phase_a_sent) >= n;
}

bool is_dispatcher_violation(const WindowViolation& v) { return v.rule == kDispatcherTimedOut; }

// A Phase A shortfall the soak may tolerate: the scorer's min_phase_a_pairs
// violation whose observed count is the window's own sent/received count and
// below its bar (numbers that disagree make it malformed: not tolerated), or a
// scenario error about Phase A while the counts are short.
bool is_phase_a_violation(const WindowViolation& v, const SoakWindow& w, bool counts_ok) {
  if (v.cls == ViolationClass::error) return mentions_phase_a(v.message) && !counts_ok;
  if (v.rule != kMinPhaseAPairs) return false;
  auto observed = parse_number(v.observed), bar = parse_number(v.threshold);
  if (!observed || !bar || *observed >= *bar) return false;
  bool received = *observed == static_cast<double>(w.phase_a_received);
  bool sent = *observed == static_cast<double>(w.phase_a_sent);
  bool says_received = contains(v.message, "phase A received"), says_sent = contains(v.message, "phase A sent");
  if (says_received != says_sent) return says_received ? received : sent;
  return received || sent;
}

BurnAlert run_alert(const std::vector<WindowLoad>& loads, const BurnRate& b, std::string name, double threshold, double fraction,
                    int soak_windows) {
  BurnAlert alert;
  alert.name = std::move(name);
  alert.burn_threshold = threshold;
  alert.long_windows = alert_windows(soak_windows, fraction);
  alert.short_windows = alert_windows(soak_windows, fraction / 12);
  auto sums = [&](std::size_t end, int span) {  // timeouts and completions of the `span` windows ending at `end`
    std::pair<double, double> s{0, 0};
    for (std::size_t k = end + 1 - std::min<std::size_t>(end + 1, span); k <= end; ++k) {
      s.first += loads[k].disp;
      s.second += loads[k].completed;
    }
    return s;
  };
  auto burn = [&](std::pair<double, double> s) { return rate_or_inf(s.first, s.second) / b.budget_ratio; };
  for (std::size_t i = 0; i < loads.size(); ++i) {
    auto long_sums = sums(i, alert.long_windows);
    double long_burn = burn(long_sums), short_burn = burn(sums(i, alert.short_windows));
    alert.max_long_burn = std::max(alert.max_long_burn, long_burn);
    if (!(long_burn > threshold && short_burn > threshold)) continue;
    // A timeout or two in a quiet stretch is not an outage.
    bool enough = long_sums.first >= static_cast<double>(b.min_timeouts) && long_sums.second >= b.min_completions;
    (enough ? alert.fired_windows : alert.guarded_windows).push_back(loads[i].index);
  }
  return alert;
}

}  // namespace

double rate_or_inf(double num, double den) {
  if (den > 0) return num / den;
  return num > 0 ? INFINITY : 0.0;
}

bool is_counted(const SoakWindow& w) {
  return !w.warmup && (w.state == WindowState::ran || w.state == WindowState::missing);
}

WindowLoad window_load(const SoakWindow& w, const WindowAccounting& a) {
  WindowLoad l;
  l.index = w.index;
  if (a.has_data) {
    l.disp = a.sum_disp;
    l.completed = a.sum_completed;
    l.drop = a.sum_drop;
    l.max_drop = a.max_drop;
    l.pp = a.sum_pp;
    return l;
  }
  ScenarioSummary s = summarize_scenario(w);
  l.disp = s.sum_disp_to_delta.value_or(0);
  l.drop = s.sum_drop_full_delta.value_or(0);
  l.max_drop = s.max_drop_full_delta.value_or(0);
  l.pp = s.max_pp_to_delta.value_or(0);
  return l;
}

NoisePolicy dispatcher_noise_policy(const std::vector<WindowLoad>& loads) {
  NoisePolicy p;
  for (auto& l : loads) {
    p.total_disp += l.disp;
    p.total_completed += l.completed;
  }
  p.total_ratio = rate_or_inf(p.total_disp, p.total_completed);

  std::vector<double> normal;  // ratios of the earlier non-anomalous windows
  int run = 0;
  for (auto& l : loads) {
    if (l.completed <= 0) continue;  // the reference skips these entirely, timeouts or not (§9.1 item 11)
    double r = l.disp / l.completed;
    p.max_window_ratio = std::max(p.max_window_ratio, r);
    double baseline = 0;
    if (!normal.empty()) {
      std::vector<double> sorted = normal;
      std::sort(sorted.begin(), sorted.end());
      baseline = sorted[sorted.size() / 2];  // upper median
    }
    double threshold = std::max(kAnomalyFactor * baseline, kAnomalyFloor);
    if (r > threshold && l.disp > 0) {
      p.max_consecutive_anomalies = std::max(p.max_consecutive_anomalies, ++run);
      p.anomaly_windows.push_back(l.index);
    } else {
      run = 0;
      normal.push_back(r);
    }
  }

  // In this order: a later rule overrides an earlier one.
  if (p.total_disp <= kLegacyCountCap)
    p.verdict = "legacy-count-ok";
  else if (p.total_ratio <= kFleetRateCap)
    p.verdict = "adaptive-rate-ok";
  else
    p.verdict = "fleet-rate-high";
  if (p.max_window_ratio > kWindowRateCap) p.verdict = "window-rate-high";
  if (p.max_consecutive_anomalies > kMaxConsecutiveAnomalies) p.verdict = "consecutive-anomalies";
  p.passed = p.verdict == "legacy-count-ok" || p.verdict == "adaptive-rate-ok";
  return p;
}

ViolationClass classify_rule(const std::string& rule, bool scenario_error) {
  if (scenario_error || rule == kScenarioErrored) return ViolationClass::error;
  if (rule == kDispatcherTimedOut) return ViolationClass::dispatcher;
  if (rule == kMinPhaseAPairs) return ViolationClass::phase_a;
  if (rule == kDroppedFull) return ViolationClass::drop;
  return ViolationClass::other;
}

bool transport_degraded(const NodeWindow& n) {
  return n.transport_loss_ppm.value_or(0) >= kDegradedLossPpm || n.transport_rtt_ms.value_or(0) >= kDegradedRttMs;
}

bool infra_attributable(const SoakWindow& w) {
  auto degraded = [&](const std::string& name) {
    auto it = w.nodes.find(name);
    return it != w.nodes.end() && transport_degraded(it->second);
  };
  if (!w.phase_a_failed_pairs.empty())
    return std::all_of(w.phase_a_failed_pairs.begin(), w.phase_a_failed_pairs.end(),
                       [&](auto& pair) { return degraded(pair.first) || degraded(pair.second); });
  return std::any_of(w.nodes.begin(), w.nodes.end(), [](auto& n) { return transport_degraded(n.second); });
}

long phase_a_bar(const SoakWindow& w, const SoakConfig& c) { return w.phase_a_expected > 0 ? w.phase_a_expected : c.expected_pairs; }

WindowClass classify_window(const SoakWindow& w, const WindowAccounting& a, long bar, bool aggregate_ok) {
  if (w.state == WindowState::skipped || w.state == WindowState::interrupted) return WindowClass::not_counted;
  if (w.warmup) return WindowClass::warmup;
  if (w.state == WindowState::missing || !w.verdict) return WindowClass::effective_failed;
  if (*w.verdict == Verdict::go) return WindowClass::clean;

  bool counts_ok = phase_a_ok(w, bar);
  bool drop_clean = window_load(w, a).max_drop <= 0;
  bool only_tail = !w.violations.empty() && std::all_of(w.violations.begin(), w.violations.end(), [&](auto& v) {
    return is_dispatcher_violation(v) || is_phase_a_violation(v, w, counts_ok);
  });
  bool only_dispatcher = !w.violations.empty() && std::all_of(w.violations.begin(), w.violations.end(), is_dispatcher_violation);
  if (!drop_clean || !only_tail) return WindowClass::effective_failed;
  if (counts_ok && only_dispatcher) return WindowClass::tolerated_dispatcher;
  if (aggregate_ok) return WindowClass::tolerated_phase_a;
  if (infra_attributable(w)) return WindowClass::tolerated_infra_phase_a;
  return WindowClass::effective_failed;
}

AggregatePhaseA aggregate_phase_a(const SoakConfig& c, const std::vector<SoakWindow>& windows, std::size_t tolerated_phase_a,
                                  std::size_t tolerated_infra) {
  AggregatePhaseA g;
  for (auto& w : windows) {
    if (!is_counted(w) || w.state != WindowState::ran) continue;  // data rows: MISSING has none
    g.target += phase_a_bar(w, c);
    g.sent += std::max(0L, w.phase_a_sent);
    g.received += std::max(0L, w.phase_a_received);
  }
  if (g.target > 0) {
    g.sent_ratio = static_cast<double>(g.sent) / static_cast<double>(g.target);
    g.recv_ratio = static_cast<double>(g.received) / static_cast<double>(g.target);
  }
  g.ok = g.target > 0 && g.sent_ratio >= kPhaseATarget && g.recv_ratio >= kPhaseATarget;
  g.infra_degraded = !g.ok && g.target > 0 && tolerated_phase_a == 0 && tolerated_infra > 0 && g.sent_ratio >= kPhaseAFloor &&
                     g.recv_ratio >= kPhaseAFloor;
  g.pass = g.ok || g.infra_degraded;
  g.status = g.ok ? "PASS" : g.infra_degraded ? "INFRA-DEGRADED (tolerated, ≥ 70% floor)" : "FAIL";
  return g;
}

int alert_windows(int soak_windows, double fraction) {
  double x = static_cast<double>(soak_windows) * fraction;
  return std::max(1, static_cast<int>(std::ceil(x - 1e-9)));  // 30 × 0.1 is 3, not 4
}

BurnRate burn_rate(const std::vector<WindowLoad>& loads, int soak_windows) {
  BurnRate b;
  double timeouts = 0, completions = 0;
  for (auto& l : loads) {
    timeouts += l.disp;
    completions += l.completed;
  }
  b.budget_consumed = rate_or_inf(timeouts, completions) / b.budget_ratio;
  // Table 5-8: 2 % of a 30-day budget in 1 h, 5 % in 6 h, 10 % in 3 d; the soak stands for the 30 days.
  constexpr double kPeriodHours = 30 * 24;
  b.alerts.push_back(run_alert(loads, b, "page-fast", 14.4, 1 / kPeriodHours, soak_windows));
  b.alerts.push_back(run_alert(loads, b, "page-slow", 6, 6 / kPeriodHours, soak_windows));
  b.alerts.push_back(run_alert(loads, b, "ticket", 1, 72 / kPeriodHours, soak_windows));
  return b;
}

SoakResult evaluate_soak(const SoakConfig& config, const std::vector<SoakWindow>& windows) {
  SoakResult r;
  r.accounting = account_windows(windows);

  std::vector<WindowLoad> loads;
  for (std::size_t i = 0; i < windows.size(); ++i)
    if (is_counted(windows[i])) loads.push_back(window_load(windows[i], r.accounting[i]));

  // The PubSub-pressure soak (§5.8 variant B) passes only if every window is
  // GO: no tolerance, and its fanout_burst windows run no Phase A to aggregate.
  const bool pressure = config.variant == "pubsub-pressure";
  // Tolerated Phase A windows need the aggregate's ok, which needs no classification.
  bool aggregate_ok = aggregate_phase_a(config, windows, 0, 0).ok;
  for (std::size_t i = 0; i < windows.size(); ++i) {
    const SoakWindow& w = windows[i];
    WindowClass c = classify_window(w, r.accounting[i], phase_a_bar(w, config), aggregate_ok);
    if (pressure && (c == WindowClass::tolerated_dispatcher || c == WindowClass::tolerated_phase_a ||
                     c == WindowClass::tolerated_infra_phase_a))
      c = WindowClass::effective_failed;
    r.classes.push_back(c);
    switch (c) {
      case WindowClass::tolerated_dispatcher: r.tolerated_dispatcher.push_back(w.index); break;
      case WindowClass::tolerated_phase_a: r.tolerated_phase_a.push_back(w.index); break;
      case WindowClass::tolerated_infra_phase_a: r.tolerated_infra.push_back(w.index); break;
      case WindowClass::effective_failed: r.effective_failed.push_back(w.index); break;
      case WindowClass::warmup: r.warmup.push_back(w.index); break;
      case WindowClass::clean:
      case WindowClass::not_counted: break;
    }
    if (w.state == WindowState::skipped) r.skipped.push_back(w.index);
    if (!is_counted(w)) continue;
    if (w.state == WindowState::missing) r.missing.push_back(w.index);
    if (!r.accounting[i].unaccounted.empty()) r.unaccounted_gap_windows.push_back(w.index);
  }
  r.aggregate = aggregate_phase_a(config, windows, r.tolerated_phase_a.size(), r.tolerated_infra.size());
  if (pressure) {
    r.aggregate.pass = true;
    r.aggregate.status = "N/A (pubsub-pressure windows run fanout_burst, no Phase A)";
  }
  r.noise = dispatcher_noise_policy(loads);
  int soak_windows = config.target_windows > 0 ? config.target_windows : static_cast<int>(loads.size());
  r.burn = burn_rate(loads, std::max(1, soak_windows));

  for (auto& l : loads) {
    r.cumulative_disp += l.disp;
    r.cumulative_drop += l.drop;
    r.cumulative_completed += l.completed;
    r.cumulative_pp += l.pp;
  }

  // §5.6, one SoakRule per conjunct, in the reference's order.
  long ran = std::count_if(windows.begin(), windows.end(), [](auto& w) { return is_counted(w) && w.state == WindowState::ran; });
  r.rules.push_back({"windows_ran", ran >= 1, fmt::format("{} window{} ran", ran, ran == 1 ? "" : "s")});
  r.rules.push_back({"no_missing_windows", r.missing.empty(), "missing: " + list_text(r.missing)});
  r.rules.push_back({"no_effective_failed", r.effective_failed.empty(), "effective failed: " + list_text(r.effective_failed)});
  std::string gaps;
  for (std::size_t i = 0; i < windows.size(); ++i) {
    if (!is_counted(windows[i]) || r.accounting[i].unaccounted.empty()) continue;
    std::string names;
    for (auto& g : r.accounting[i].unaccounted) names += (names.empty() ? "" : ";") + g;
    gaps += fmt::format("{}{} ({})", gaps.empty() ? "" : ", ", windows[i].index, names);
  }
  r.rules.push_back({"no_unaccounted_gaps", r.unaccounted_gap_windows.empty(), "unaccounted gaps: " + (gaps.empty() ? "none" : gaps)});
  const NoisePolicy& n = r.noise;
  r.rules.push_back({"dispatcher_noise_policy", n.passed,
                     fmt::format("{}: {} timeouts / {} completions (ratio {}), max_window_ratio={}, "
                                 "max_consecutive_anomalies={}, anomaly_windows={}",
                                 n.verdict, n.total_disp, n.total_completed, ratio_text(n.total_ratio),
                                 ratio_text(n.max_window_ratio), n.max_consecutive_anomalies, list_text(n.anomaly_windows))});
  r.rules.push_back({"cumulative_drop_full", r.cumulative_drop <= 0, fmt::format("drop_full {} (gate ≤ 0)", r.cumulative_drop)});
  const AggregatePhaseA& g = r.aggregate;
  r.rules.push_back({"aggregate_phase_a", g.pass,
                     fmt::format("{}: sent {}/{} ({:.3f}%), received {}/{} ({:.3f}%), gate ≥ 98%", g.status, g.sent, g.target,
                                 g.sent_ratio * 100, g.received, g.target, g.recv_ratio * 100)});
  r.overall_pass = std::all_of(r.rules.begin(), r.rules.end(), [](auto& rule) { return rule.passed; });
  return r;
}

}  // namespace x0x::gates::soak
