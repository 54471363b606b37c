#include "runners/control_trust.h"

#include <cctype>
#include <stdexcept>

#include "core/text.h"
#include "runners/control_protocol.h"

namespace x0x::runners {

namespace {

constexpr std::size_t kMaxTrustedAgents = 1024;  // an allow-list, not a roster of the world

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A discover that names a reply address other than its sender is not how an
// orchestrator discovers (it uses its own anchor identity): it must not pin.
bool names_only_its_sender(const Command& cmd, const std::string& sender) {
  if (!cmd.anchor_aid.empty() && lowercase(cmd.anchor_aid) != sender) return false;
  if (cmd.params.is_object())
    if (auto it = cmd.params.find("anchor_aid"); it != cmd.params.end() && it->is_string() &&
                                                 !it->get<std::string>().empty() &&
                                                 lowercase(it->get<std::string>()) != sender)
      return false;
  return true;
}

}  // namespace

std::set<std::string> parse_trusted_agents(std::string_view text) {
  std::set<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    auto end = text.find_first_of(", \t\r\n", i);
    if (end == std::string_view::npos) end = text.size();
    auto entry = text.substr(i, end - i);
    i = end + 1;
    if (entry.empty()) continue;
    if (!is_agent_id(entry))
      throw std::invalid_argument("X0X_RUNNER_TRUSTED_AGENTS: \"" + printable(entry.substr(0, 80)) +
                                  "\" is not a 64-hex agent id");
    if (out.size() >= kMaxTrustedAgents)
      throw std::invalid_argument("X0X_RUNNER_TRUSTED_AGENTS: more than " + std::to_string(kMaxTrustedAgents) +
                                  " agents");
    out.insert(lowercase(entry));
  }
  return out;
}

TrustedOrchestrators::TrustedOrchestrators(std::set<std::string> allow_list, std::string own_agent_id)
    : allow_list_(std::move(allow_list)),
      mode_(allow_list_.empty() ? TrustMode::trust_on_first_discover : TrustMode::allow_list),
      own_agent_id_(lowercase(own_agent_id)) {}

void TrustedOrchestrators::set_own_agent_id(std::string id) {
  std::lock_guard lk(mu_);
  own_agent_id_ = lowercase(id);
}

bool TrustedOrchestrators::trusted_locked(const std::string& agent_id) const {
  if (agent_id.empty()) return false;
  if (agent_id == own_agent_id_ || agent_id == pinned_) return true;
  return allow_list_.count(agent_id) > 0;
}

TrustVerdict TrustedOrchestrators::admit(const Command& cmd, const std::string& sender_in, bool verified) {
  if (!verified || !is_agent_id(sender_in)) return TrustVerdict::unattributed;
  const std::string sender = lowercase(sender_in);
  std::lock_guard lk(mu_);
  if (trusted_locked(sender)) return TrustVerdict::trusted;
  if (mode_ == TrustMode::trust_on_first_discover && pinned_.empty() && cmd.action == "discover" &&
      names_only_its_sender(cmd, sender)) {
    pinned_ = sender;
    return TrustVerdict::newly_pinned;
  }
  return TrustVerdict::untrusted;
}

bool TrustedOrchestrators::is_trusted(const std::string& agent_id) const {
  std::lock_guard lk(mu_);
  return trusted_locked(lowercase(agent_id));
}

std::string TrustedOrchestrators::pinned() const {
  std::lock_guard lk(mu_);
  return pinned_;
}

std::string_view to_string(TrustMode m) {
  switch (m) {
    case TrustMode::allow_list: return "allow_list";
    case TrustMode::trust_on_first_discover: return "trust_on_first_discover";
  }
  return "?";
}

}  // namespace x0x::runners
