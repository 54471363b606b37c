// The soak certifier's judgement (spec gates-and-proofs.md §5.3–§5.6) over
// the windows and their continuous accounting, plus the burn-rate alerts.
// evaluate_soak (soak_model.h) puts the pieces below together; they are
// exposed so each can be tested on its own.
#pragma once
#include <string>
#include <vector>

#include "gates/soak_model.h"

namespace x0x::gates::soak {

// The reference's constants (§5.3–§5.5, §10): keep them.
inline constexpr double kLegacyCountCap = 5;       // dispatcher timeouts "per 12 h" (not scaled)
inline constexpr double kFleetRateCap = 1e-4;      // total timeouts / completions
inline constexpr double kWindowRateCap = 1e-4;     // one window's timeouts / completions
inline constexpr double kAnomalyFactor = 4.0;      // × the upper median of the earlier normal windows
inline constexpr double kAnomalyFloor = 5e-5;      // the anomaly threshold never goes below this
inline constexpr int kMaxConsecutiveAnomalies = 2;
inline constexpr double kPhaseATarget = 0.98;      // aggregate Phase A sent and received ratios
inline constexpr double kPhaseAFloor = 0.70;       // catastrophe floor of the infra-degraded pass
inline constexpr double kDegradedLossPpm = 5000;   // transport loss that makes a node degraded
inline constexpr double kDegradedRttMs = 2000;     // transport RTT that makes a node degraded

// timeouts / completions the reference's way: 0 when both are 0, +inf when only the denominator is.
double rate_or_inf(double num, double den);

// A window that counts: ran or missing, not a warm-up.
bool is_counted(const SoakWindow& w);

// One counted window's numbers: continuous accounting, else the scenario
// fields (§5.2). disp and completed feed the noise policy and the burn rate.
struct WindowLoad {
  int index = 0;
  double disp = 0;       // continuous sum_disp, else scenario sum_disp_to_delta
  double completed = 0;  // continuous sum_completed, else 0
  double drop = 0;       // continuous sum_drop, else scenario sum_drop_full_delta
  double max_drop = 0;   // continuous max_drop, else scenario max_drop_full_delta
  double pp = 0;         // continuous sum_pp, else scenario max_pp_to_delta (the reference's fallback)
};
WindowLoad window_load(const SoakWindow& w, const WindowAccounting& a);

// §5.3 over the counted windows in order.
NoisePolicy dispatcher_noise_policy(const std::vector<WindowLoad>& loads);

// A violation's class from its rule name; scenario_error: the scenario errored.
ViolationClass classify_rule(const std::string& rule, bool scenario_error);

// A node's own transport is degraded (loss ≥ 5000 ppm or RTT ≥ 2000 ms; unknown: not degraded).
bool transport_degraded(const NodeWindow& n);
// Ours (§9.1 item 10): the Phase A shortfall is the network's fault only if
// every failed pair has a degraded endpoint; without failed pairs, the
// reference's rule (any node degraded).
bool infra_attributable(const SoakWindow& w);

// N of §5.5 for one window: its scored fleet's n(n−1), else the config's.
long phase_a_bar(const SoakWindow& w, const SoakConfig& c);

// §5.4, first match wins; warm-up and skipped/interrupted slots are not counted.
WindowClass classify_window(const SoakWindow& w, const WindowAccounting& a, long phase_a_bar, bool aggregate_ok);

// §5.5 over the counted windows that ran; the two counts come from the classification.
AggregatePhaseA aggregate_phase_a(const SoakConfig& c, const std::vector<SoakWindow>& windows, std::size_t tolerated_phase_a,
                                  std::size_t tolerated_infra);

// Whole windows an alert looks back over: ceil(soak_windows × fraction), at least 1.
int alert_windows(int soak_windows, double fraction);
// The burn-rate alerts over the counted windows (soak_model.h BurnRate).
BurnRate burn_rate(const std::vector<WindowLoad>& loads, int soak_windows);

}  // namespace x0x::gates::soak
