// The runner's inbound control channel (spec mesh-protocol.md §2.2, hardened
// for issue 12): what arrives on /direct/events and /events, who sent it, whether
// that sender may command this runner (runners/control_trust.h), its rate, and
// where a command's result or a hop's report may go.
#include <spdlog/spdlog.h>

#include "core/encoding.h"
#include "runners/runner.h"

namespace x0x::runners {

using nlohmann::json;

void Runner::on_direct_event(const probes::SseEvent& ev) {
  if (ev.event != "direct_message") return;
  json data;
  try {
    data = json::parse(ev.data);
  } catch (const json::exception&) {
    spdlog::warn("/direct/events: event data is not JSON: {}", probes::detail::snippet(ev.data, 120));
    return;
  }
  if (!data.is_object()) return;
  auto sget = [&](const char* k) {
    auto it = data.find(k);
    return it != data.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string sender = sget("sender");
  auto payload = base64_decode(sget("payload"));
  if (!payload) {
    spdlog::debug("/direct/events: payload is not base64 (from {})", short_id(sender));
    return;
  }
  if (payload->rfind(kTestPrefix, 0) != 0) return;  // not ours
  // Results for the orchestrator: the anchor's own runner sees every runner's on its
  // daemon; they are neither commands nor hops, so they cost no sender's budget.
  if (payload->rfind(kResPrefix, 0) == 0) return;
  // Before any parsing: a flood costs the runner one bucket lookup per frame.
  if (!within_rate(sender, "test DM")) return;
  DmMessage m;
  try {
    m = decode_dm(*payload);
  } catch (const ProtocolError& e) {
    if (noisy_log_.allow())
      spdlog::warn("malformed test DM from {} ({} bytes): {}", short_id(sender), payload->size(), e.what());
    return;
  } catch (const std::exception& e) {
    if (noisy_log_.allow()) spdlog::warn("undecodable test DM from {}: {}", short_id(sender), e.what());
    return;
  }
  on_test_dm(m, data, sender, payload->size());
}

void Runner::on_test_dm(DmMessage& m, const json& data, const std::string& sender, std::size_t bytes) {
  switch (m.kind) {
    case DmKind::not_test:
      return;
    case DmKind::result:
      spdlog::debug("ignoring a result DM from {} (results are for the orchestrator)", short_id(sender));
      return;
    case DmKind::command: {
      auto v = data.find("verified");
      dispatch(std::move(*m.command), {sender, v != data.end() && json_truthy(*v)}, "dm");
      return;
    }
    case DmKind::hop:
    case DmKind::legacy: {
      auto field = [&](const char* k) {
        auto it = data.find(k);
        return it != data.end() ? *it : json(nullptr);
      };
      Result r;
      r.kind = "received_dm";
      r.details = {{"sender", field("sender")},     {"machine_id", field("machine_id")},
                   {"verified", field("verified")}, {"trust_decision", field("trust_decision")},
                   {"bytes", bytes},                {"via", m.kind == DmKind::hop ? "hop_dm" : "legacy_dm"}};
      std::string target;
      if (m.kind == DmKind::hop) {
        auto& h = *m.hop;
        if (!h.request_id.empty()) r.request_id = h.request_id;
        if (!h.tag.empty()) r.digest_marker = h.tag;
        // The hop names where to report; a name the runner does not trust gets
        // nothing (no third party is sent results), and the hop never changes
        // where the runner's own results go.
        if (is_agent_id(h.anchor_aid)) {
          if (!trust_.is_trusted(h.anchor_aid)) {
            stats_.hop_reports_refused++;
            if (noisy_log_.allow())
              spdlog::warn("hop DM rid={} from {} names anchor {}, not a trusted orchestrator: not reported",
                           r.request_id.value_or("-"), short_id(sender), short_id(h.anchor_aid));
            return;
          }
          target = h.anchor_aid;
        }
      } else {
        auto& l = *m.legacy;
        if (!l.request_id.empty()) r.request_id = l.request_id;
        if (!l.digest.empty()) r.digest_marker = l.digest;
        std::lock_guard lk(anchor_mu_);
        target = last_orchestrator_;
      }
      stats_.hops_reported++;
      spdlog::info("received {} rid={} tag={} from {} ({} bytes) → report to {}",
                   m.kind == DmKind::hop ? "hop DM" : "legacy DM", r.request_id.value_or("-"),
                   r.digest_marker.value_or("-"), short_id(sender), bytes,
                   target.empty() ? "results topic" : short_id(target));
      enqueue(std::move(r), std::move(target));
      return;
    }
  }
}

void Runner::on_topic_event(const probes::SseEvent& ev) {
  if (ev.event != "message") return;
  json data;
  try {
    data = json::parse(ev.data);
  } catch (const json::exception&) {
    spdlog::debug("/events: event data is not JSON: {}", probes::detail::snippet(ev.data, 120));
    return;
  }
  if (data.is_object() && data.contains("data") && data["data"].is_object()) data = data["data"];
  if (!data.is_object()) return;
  auto t = data.find("topic");
  if (t == data.end() || !t->is_string()) return;
  const std::string topic = t->get<std::string>();
  const bool is_discover = topic == kDiscoverTopic;
  if (!is_discover && topic != kControlTopic) return;
  if (!is_discover && pubsub_disabled_.load()) {
    spdlog::debug("ignoring a control-topic message: PubSub after discover is disabled");
    return;
  }
  auto p = data.find("payload");
  if (p == data.end() || !p->is_string()) return;
  auto payload = base64_decode(p->get<std::string>());
  if (!payload) {
    if (noisy_log_.allow()) spdlog::warn("{}: payload is not base64", topic);
    return;
  }
  // The publisher is the signed origin of the message, as the daemon verified it.
  Origin from;
  if (auto s = data.find("sender"); s != data.end() && s->is_string()) from.sender = s->get<std::string>();
  if (auto v = data.find("verified"); v != data.end()) from.verified = json_truthy(*v);
  if (!within_rate(from.sender, topic)) return;
  Command cmd;
  try {
    cmd = decode_topic_command(*payload);
  } catch (const ProtocolError& e) {
    if (noisy_log_.allow()) spdlog::warn("malformed command on {}: {}", topic, e.what());
    return;
  }
  dispatch(std::move(cmd), from, is_discover ? "discover topic" : "control topic");
}

bool Runner::within_rate(const std::string& sender, std::string_view what) {
  const bool trusted = trust_.is_trusted(sender);
  if (limiter_.allow(sender, trusted ? cfg_.trusted_rate : cfg_.stranger_rate)) return true;
  stats_.frames_rate_limited++;
  if (noisy_log_.allow())
    spdlog::warn("{} from {}: over the sender's rate limit ({}/s), dropped unanswered", what,
                 sender.empty() ? "an unnamed sender" : short_id(sender),
                 trusted ? cfg_.trusted_rate.per_second : cfg_.stranger_rate.per_second);
  return false;
}

void Runner::refuse(const Command& cmd, const std::string& sender, std::string_view via) {
  stats_.commands_refused_untrusted++;
  if (noisy_log_.allow())
    spdlog::warn("refused {} {} from {} via {}: not a trusted orchestrator; answered with an error, not run",
                 cmd.action, cmd.command_id.empty() ? "-" : cmd.command_id, short_id(sender), via);
  Result r = base_result("error", cmd);
  r.outcome = Result::error_outcome("unauthorised: " + sender + " is not an orchestrator this runner trusts");
  r.details = {{"action", cmd.action}};
  enqueue(std::move(r), sender);
}

void Runner::dispatch(Command cmd, const Origin& from, std::string_view via) {
  // (The sender's rate was checked before the frame was parsed.)
  if (cmd.target_node != "*" && cmd.target_node != cfg_.node_name) {
    spdlog::debug("ignoring {} {} for node {} (via {})", cmd.action, cmd.command_id, cmd.target_node, via);
    return;
  }
  switch (trust_.admit(cmd, from.sender, from.verified)) {
    case TrustVerdict::unattributed:
      stats_.commands_refused_unattributed++;
      if (noisy_log_.allow())
        spdlog::warn("refused {} {} via {}: no verified sender, so nobody to trust or answer", cmd.action,
                     cmd.command_id.empty() ? "-" : cmd.command_id, via);
      return;
    case TrustVerdict::untrusted:
      refuse(cmd, from.sender, via);
      return;
    case TrustVerdict::newly_pinned:
      spdlog::warn("trusting orchestrator {} from now on (its discover came first and X0X_RUNNER_TRUSTED_AGENTS is "
                   "not set); commands from any other agent are refused until the runner restarts",
                   from.sender);
      break;
    case TrustVerdict::trusted:
      break;
  }
  // Results go to the command's sender, whatever anchor_aid it names.
  const std::string reply = from.sender;
  if (auto named = cmd.reply_to(""); !named.empty() && named != reply)
    spdlog::debug("command {} names anchor {}; its result goes to its sender {}", cmd.command_id, short_id(named),
                  short_id(reply));
  {
    std::lock_guard lk(anchor_mu_);
    last_orchestrator_ = reply;
  }
  if (!cmd.command_id.empty() && !seen_commands_.insert(reply + "|" + cmd.command_id)) {
    stats_.commands_duplicate++;
    if (auto done = recent_results_.get(reply + "|" + cmd.command_id)) {
      spdlog::info("repeated command {} ({}, via {}): its result sent again, not run again", cmd.command_id, cmd.action, via);
      enqueue(std::move(*done), reply);
    } else {
      spdlog::info("duplicate command {} ({}, via {}) ignored", cmd.command_id, cmd.action, via);
    }
    return;
  }
  stats_.commands_accepted++;
  spdlog::info("command {} {} via {} → reply to {}", cmd.action, cmd.command_id.empty() ? "-" : cmd.command_id, via,
               short_id(reply));
  if (cmd.action == "discover" || cmd.action == "noop_ack") {
    answer_at_once(cmd, reply);
    return;
  }
  const Deadline deadline = std::chrono::steady_clock::now() + cfg_.command_timeout;
  auto shared = std::make_shared<Command>(std::move(cmd));
  bool queued = submit([this, shared, reply, deadline](probes::RestClient& rest) {
    if (std::chrono::steady_clock::now() >= deadline) {
      enqueue(timed_out(*shared, "it waited in the runner's queue past the command timeout"), reply);
      return;
    }
    execute(*shared, reply, rest, deadline);
  });
  if (!queued) {
    stats_.commands_backlog_full++;
    if (noisy_log_.allow())
      spdlog::error("command backlog full ({}): dropping {} {}", cfg_.command_backlog_max, shared->action,
                    shared->command_id);
    Result r = base_result("error", *shared);
    r.outcome = Result::error_outcome("runner command backlog full");
    enqueue(std::move(r), reply);
  }
}

json Runner::control_channel_state() const {
  json j = stats_.to_json();
  j["trust_mode"] = to_string(trust_.mode());
  if (auto p = trust_.pinned(); !p.empty()) j["pinned_orchestrator"] = p;
  return j;
}

void Runner::log_control_summary() {
  stats_.log_lines_suppressed += noisy_log_.take_suppressed();
  const auto total = stats_.total();
  if (total == last_summary_total_) return;
  last_summary_total_ = total;
  spdlog::info("control channel: {}", control_channel_state().dump());
}

}  // namespace x0x::runners
