// The soak certifier's loop (spec gates-and-proofs.md §5): gate windows on a
// wall-clock schedule, each one the same run as `x0xctl gate` writes, under
// windows/NNN/ of the soak bundle, with PubSub traffic between them on a
// fleet the soak started itself. After every window the whole state is on
// disk (soak.json: schedule, windows, accounting inputs; timeline.csv;
// summary.md; the manifest), so `--resume` continues a soak whose orchestrator
// was killed or whose machine rebooted, and records the gap.
#pragma once
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gates/profile.h"
#include "gates/soak_model.h"
#include "harness/scenario.h"
#include "orchestrator/control/inventory.h"

namespace x0x::orchestrator {
class LocalMesh;
}

namespace x0x::harness {

enum class SoakVariant { combined, fixed_roster, pubsub_pressure };  // "combined", "fixed-roster", "pubsub-pressure"
std::string_view to_string(SoakVariant v);
std::optional<SoakVariant> parse_soak_variant(std::string_view s);
// The scenario each window runs: baseline, or fanout_burst under PubSub pressure.
std::string window_scenario(SoakVariant v);

// How to reach the fleet again on --resume (soak.json "run").
struct SoakRunSettings {
  std::string fleet_path;  // "" = the embedded default
  std::string network;
  int local_nodes = 6;
  double background_rate = 0;  // PubSub messages per second between windows (0 = none)
  double discover_secs = 30, settle_secs = 45;
  int burst_messages = 5000, burst_payload_bytes = 4096, burst_delay_ms = 1;
  nlohmann::json to_json() const;
  static SoakRunSettings from_json(const nlohmann::json& j);  // throws std::runtime_error naming the field
};

struct SoakRequest {
  orchestrator::Fleet fleet;
  gates::GateProfile profile;
  gates::soak::SoakConfig config;  // gate, variant, duration, interval, warm-up, nodes, expected pairs
  SoakVariant variant = SoakVariant::combined;
  SoakRunSettings run;
  ScenarioOptions scenario;
  std::filesystem::path soak_dir;
  bool resume = false;             // soak_dir holds an unfinished soak: continue it
  int fleet_epoch = 0;             // resume on the embedded default: a fresh fleet, a new epoch
  std::vector<std::string> argv;
  bool accept_new_host_keys = false;
  orchestrator::LocalMesh* local_mesh = nullptr;
  const std::atomic<bool>* interrupted = nullptr;  // SIGINT/SIGTERM: finish or abandon the window, write, exit 3
  std::chrono::milliseconds settle_poll{500};
};

struct SoakOutcome {
  int exit_code = 0;       // 0 GO, 1 NO-GO, 2 usage (unusable --resume dir), 3 interrupted or crashed
  nlohmann::json soak;     // soak.json
  std::string junit;
  std::string crash;
  std::filesystem::path dir;
};

// An unfinished soak's recorded state, for --resume: throws std::runtime_error
// naming the file and field when soak_dir holds no resumable soak.
struct SoakState {
  gates::soak::SoakConfig config;
  SoakRunSettings run;
  SoakVariant variant = SoakVariant::combined;
  std::vector<gates::soak::SoakWindow> windows;
  nlohmann::json gaps = nlohmann::json::array(), warnings = nlohmann::json::array();
  int fleet_epoch = 0;
  std::string state;  // running, complete, interrupted
};
SoakState load_soak_state(const std::filesystem::path& soak_dir);

SoakOutcome run_soak(const SoakRequest& request, const std::function<void(const std::string&)>& progress);

// The soak document from its parts (also what `proof rescore` rebuilds).
nlohmann::json soak_document(const gates::soak::SoakConfig& config, const SoakRunSettings& run,
                             const std::vector<gates::soak::SoakWindow>& windows, const gates::soak::SoakResult& result,
                             const nlohmann::json& gaps, const nlohmann::json& warnings, const std::string& state, int fleet_epoch);

}  // namespace x0x::harness
