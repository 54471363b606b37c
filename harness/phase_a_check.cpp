#include "harness/phase_a_check.h"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace x0x::harness {

using nlohmann::json;

namespace {

// The daemon's error code from a failed send_result's outcome.
std::string error_code_of(const json& outcome) {
  if (!outcome.is_object()) return outcome.dump();
  std::string code;
  const auto& err = outcome.contains("error") ? outcome["error"] : json();
  if (err.is_object() && err.contains("error") && err["error"].is_string()) code = err["error"].get<std::string>();
  else if (err.is_string()) code = err.get<std::string>();
  else code = err.dump();
  if (outcome.contains("http_status")) code = fmt::format("HTTP {} {}", outcome["http_status"].dump(), code);
  return code;
}

const runners::Result* send_of(const SessionResults& r, const PlannedPair& p) {
  auto it = r.by_request.find(p.request_id);
  return it != r.by_request.end() && it->second.kind == "send_result" ? &it->second : nullptr;
}

const Receipt* receipt_of(const SessionResults& r, const PlannedPair& p) {
  auto it = r.receipts.find({p.dst, p.request_id});
  return it != r.receipts.end() ? &it->second : nullptr;
}

}  // namespace

bool phase_a_pair_settled(const PlannedPair& pair, const Dispatch& dispatch, const SessionResults& results) {
  if (!dispatch.accepted()) return true;
  const auto* send = send_of(results, pair);
  if (!send) return false;
  return !send->ok() || receipt_of(results, pair) != nullptr;
}

PhaseAReport check_phase_a(const PhaseAPlan& plan, const std::vector<Dispatch>& dispatches, const SessionResults& results) {
  PhaseAReport rep;
  rep.nodes = plan.nodes;
  rep.discovered = plan.discovered;
  rep.missing = plan.missing;
  rep.allow_missing = plan.allow_missing;
  for (const auto& p : plan.pairs) {
    PairResult pr;
    pr.src = p.src;
    pr.dst = p.dst;
    pr.marker = p.marker;
    if (!p.command || *p.command >= dispatches.size()) {
      pr.stage = PairStage::not_discovered;
      pr.detail = (!plan.agents.count(p.src) ? p.src : p.dst) + " did not answer discovery";
      rep.pairs.push_back(std::move(pr));
      continue;
    }
    const auto& dispatch = dispatches[*p.command];
    const auto* send = send_of(results, p);
    const auto* receipt = receipt_of(results, p);
    bool send_ok = send && send->ok();
    std::string receipt_problem;
    if (receipt) {
      auto src_agent = plan.agents.find(p.src);
      if (receipt->result.details.value("sender", "") != (src_agent != plan.agents.end() ? src_agent->second : ""))
        receipt_problem = "receipt names another sender";
      else if (receipt->result.digest_marker.value_or("") != p.marker)
        receipt_problem = "receipt carries another marker (" + receipt->result.digest_marker.value_or("none") + ")";
    }
    bool receipt_ok = receipt && receipt_problem.empty();
    if (send_ok) {
      rep.send_ok++;
      pr.path = send->details.value("path", "");
      pr.attempts = send->details.value("runner_attempts", 0);
    }
    if (receipt_ok) {
      rep.received++;
      pr.latency_ms = std::chrono::duration<double, std::milli>(receipt->arrived - dispatch.sent_at).count();
    }
    if (send_ok && receipt_ok) {
      pr.stage = PairStage::delivered;
      rep.delivered_pairs++;
    } else if (!dispatch.accepted() && !send && !receipt) {
      pr.stage = PairStage::not_delivered;
      pr.detail = dispatch.error.empty() ? fmt::format("HTTP {}", dispatch.http_status) : dispatch.error;
      if (dispatch.attempts > 1) pr.detail += fmt::format(" (after {} attempts)", dispatch.attempts);
    } else if (send && !send_ok) {
      pr.stage = PairStage::send_failed;
      pr.detail = error_code_of(send->outcome);
    } else if (send_ok) {
      pr.stage = PairStage::not_received;
      pr.detail = receipt_problem.empty() ? "no received_dm from " + p.dst : receipt_problem;
    } else if (receipt_ok) {
      pr.stage = PairStage::result_lost;
      pr.detail = "the hop arrived but the source's send_result did not";
    } else {
      pr.stage = PairStage::not_delivered;
      pr.detail = "no result from " + p.src + " (command or result lost)";
      if (!receipt_problem.empty()) pr.detail += "; " + receipt_problem;
    }
    rep.pairs.push_back(std::move(pr));
  }
  rep.expected_pairs = rep.pairs.size();
  return rep;
}

}  // namespace x0x::harness
