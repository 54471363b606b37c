// Which orchestrator identities a runner takes commands from (the hardening of
// issue 12; the reference runner obeys any sender, spec mesh-protocol.md §8.12).
//
// A sender is the agent id the runner's own daemon vouches for: the verified
// `sender` of a /direct/events DM, or of a /events topic message (the signed
// origin of the publish). Trusted are:
//  * the runner's own agent (whoever can publish or DM as this node holds its
//    API token, which the runner trusts anyway: the anchor-collocated runner);
//  * allow_list mode (X0X_RUNNER_TRUSTED_AGENTS set): exactly the listed agents;
//  * trust_on_first_discover mode (no list): the sender of the first `discover`
//    that names no other reply address than its sender, pinned for the life of
//    the process. Until then only discovers can be accepted; afterwards every
//    other sender is refused. A restart of the runner forgets the pin.
#pragma once
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace x0x::runners {

struct Command;

enum class TrustMode { allow_list, trust_on_first_discover };

enum class TrustVerdict {
  trusted,         // a listed agent, the pinned one, or the runner's own agent
  newly_pinned,    // trust_on_first_discover: this discover pinned its sender
  untrusted,       // a verified sender nobody configured or pinned
  unattributed,    // no verified 64-hex sender: nobody to trust, nobody to answer
};

// X0X_RUNNER_TRUSTED_AGENTS: agent ids separated by commas, spaces or newlines
// (case-insensitive, stored lowercase). Empty → an empty set (trust on first
// discover). ConfigError-worthy problems are std::invalid_argument naming the entry.
std::set<std::string> parse_trusted_agents(std::string_view text);

class TrustedOrchestrators {
 public:
  TrustedOrchestrators(std::set<std::string> allow_list, std::string own_agent_id);

  TrustMode mode() const { return mode_; }
  // Decides for one command from `sender` (verified: the daemon says it checked the
  // signature). May pin the sender (trust_on_first_discover, a discover).
  TrustVerdict admit(const Command& cmd, const std::string& sender, bool verified);
  // Whether reports may go to this agent (hop anchors): trusted now, never pins.
  bool is_trusted(const std::string& agent_id) const;
  // The pinned orchestrator ("" when none, or in allow_list mode).
  std::string pinned() const;
  void set_own_agent_id(std::string id);
  std::size_t allow_list_size() const { return allow_list_.size(); }

 private:
  bool trusted_locked(const std::string& agent_id) const;

  const std::set<std::string> allow_list_;
  const TrustMode mode_;
  mutable std::mutex mu_;
  std::string own_agent_id_, pinned_;
};

std::string_view to_string(TrustMode m);

}  // namespace x0x::runners
