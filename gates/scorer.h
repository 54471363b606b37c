// Scores scenario windows against a gate profile (spec gates-and-proofs.md
// §3), keeping the reference's delta/clamp/ratio rules and fixing its
// fail-open behaviour (§9.1): an unknown value fails every rule that needs it
// ("unmeasurable"), a scenario that was asked for but not run is NOT RUN and
// makes the verdict NO-GO, and each violation names the node, the observed
// value, the threshold and the raw snapshot file it came from.
//
// Everything the scorer reads is in ScenarioRun, and ScenarioRun is stored in
// the proof bundle (gates/observations_io.h), so `x0xctl proof rescore`
// recomputes the same verdict from the raw snapshots alone.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gates/counters.h"
#include "gates/profile.h"
#include "gates/scenario_scoring.h"
#include "gates/status.h"

namespace x0x::gates {

// A fault that was active on a node during a scenario (for the report's timelines).
struct FaultWindow {
  std::string node, kind, detail;
  double start_unix = 0, end_unix = 0;  // end 0 = never observed cleared
};

// How a scenario's window closed (harness/settle.h): after the scenario's
// effects, the post snapshot waits until every node shows nothing pending on
// two polls in a row, not before min_secs; at max_secs it closes anyway and
// what was still pending counts against the gate.
struct WindowSettle {
  bool recorded = false;  // false in bundles written before windows settled
  double min_secs = 0, max_secs = 0, waited_secs = 0;
  bool settled = false;   // quiescent twice in a row within max_secs
  int polls = 0;
  // node -> what was still pending (or could not be read) at the last poll
  std::map<std::string, std::vector<std::string>> pending;
};

// What the harness observed in one scenario.
struct ScenarioRun {
  std::string name;
  int index = 0;                       // position in the run (bundle order)
  RunStatus status = RunStatus::ran;
  std::string reason;                  // not_run: why it never started; errored: the error
  std::vector<std::string> nodes;                          // the nodes scored, in fleet order
  std::map<std::string, std::vector<std::string>> roles;   // "anchor" -> [nyc], "target" -> [sfo], "pair" -> [a, b]
  std::map<std::string, RawSnapshot> pre, post;            // by node; a node absent here was not fetched at all
  nlohmann::json metrics = nlohmann::json::object();       // scenario facts: burst_*, recovery_secs_per_node,
                                                           // max_recovery_secs, partition_recovery_secs, cleanup_ok, ...
  nlohmann::json phase_a;                                  // PhaseAReport::to_json()["phase_a"], or null if not run
  nlohmann::json phase_b;                                  // PhaseBReport::to_json()["phase_b"] (scenario phase_b), or null
  std::vector<FaultWindow> faults;
  WindowSettle settle;
  double started_unix = 0, ended_unix = 0;
};

struct Violation {
  std::string scenario, rule, node;  // node empty for a scenario-level rule
  std::string observed, threshold;   // rendered: "7", "0.310", "inf", "unknown"
  std::string message;               // the reference's sentence (spec §3.2), or "<node>: <what> unmeasurable: <why>"
  std::string evidence;              // bundle-relative file(s) the value came from
};

// One rule in one scenario: the verdict table row and one JUnit test case.
struct RuleOutcome {
  std::string rule;
  RuleStatus status = RuleStatus::pass;
  std::string worst_node, observed, threshold;  // worst node by the rule's value ("" if none)
};

// Phase A pairs that a peer fault fails on purpose, scored apart.
struct ExcludedPairs {
  std::string role;                 // "target"
  std::vector<std::string> nodes;   // the role's nodes
  long pairs = 0, delivered = 0;    // pairs involving them, and how many were delivered anyway
};

struct ScenarioVerdict {
  std::string name;
  ScenarioStatus status = ScenarioStatus::pass;
  std::string reason;
  std::vector<Violation> violations;
  std::vector<std::string> warnings;  // not blocking: "the fault did not bite: …"
  std::optional<ExcludedPairs> phase_a_excluded;
  std::vector<RuleOutcome> rules;  // one per rule of the profile, in profile evaluation order
  // Per node: {"pre": {name: v|null}, "post": {...}, "delta": {...},
  // "ratios": {"per_peer_timeout", "drop", "suppression"} (number, "inf" or null),
  // "text": {...}, "gossip_pre_ok", "gossip_post_ok", "conn_pre_ok", "conn_post_ok",
  // "counter_reset", "problems": [...]}
  nlohmann::json nodes = nlohmann::json::object();
};

struct RunVerdict {
  std::string gate, gate_source;
  nlohmann::json thresholds;  // as applied (min_phase_a_pairs already scaled)
  std::vector<std::string> nodes;
  std::vector<ScenarioVerdict> scenarios;
  Verdict verdict = Verdict::no_go;  // GO: every requested scenario PASS (a NOT RUN or none at all is NO-GO)
  bool go() const { return verdict == Verdict::go; }

  // verdict.json: {"gate","gate_source","verdict":"GO"|"NO-GO","nodes","thresholds",
  // "blocking":[violation...], "scenarios":[{"name","status","reason","violations",
  // "rules","nodes","metrics","phase_a","phase_b","faults","settle","warnings","phase_a_excluded",
  // "started_unix","ended_unix"}]}
  // Scenario metrics/phase_a/faults are copied from the runs so renderers need only this.
  nlohmann::json to_json(const std::vector<ScenarioRun>& runs) const;
};

// scoring: the scenarios' own rules, exemptions and Phase A exclusions (the
// harness's registry: harness::scenario_scoring).
RunVerdict score(const GateProfile& profile, const std::vector<ScenarioRun>& runs, const ScoringLookup& scoring);

nlohmann::json violation_json(const Violation& v);
// {"min_secs","max_secs","waited_secs","settled","polls","pending":{node:[what]}}
nlohmann::json settle_json(const WindowSettle& w);

}  // namespace x0x::gates
