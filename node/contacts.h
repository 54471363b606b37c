// Contacts (node-api.md §2.9): a trust overlay keyed by agent id, persisted in
// the data dir. Never a routing table: removing a contact must not forget how
// to reach the agent, so nothing here is consulted for routing.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace x0x::node {

enum class TrustLevel { blocked, unknown, known, trusted };
enum class IdentityType { anonymous, known, trusted, pinned };

// Case-insensitive parse ("Trusted", "trusted"); nullopt on anything else.
std::optional<TrustLevel> parse_trust_level(std::string_view s);
std::optional<IdentityType> parse_identity_type(std::string_view s);
const char* to_string(TrustLevel t);  // lower case, as /contacts reports it
const char* to_string(IdentityType t);

struct Contact {
  std::string agent_id;  // 64 lowercase hex
  TrustLevel trust = TrustLevel::known;
  IdentityType identity = IdentityType::anonymous;
  std::optional<std::string> label;
  std::uint64_t added_at = 0;  // unix seconds
  std::optional<std::uint64_t> last_seen;
};

class Contacts {
 public:
  // Loads <file> when present; a corrupt file throws naming it (a node must
  // not silently forget who is Blocked).
  explicit Contacts(std::filesystem::path file);

  void add(Contact c);  // adds or overwrites (keeps the original added_at)
  // Sets trust and/or identity type; creates the contact when absent.
  void update(const std::string& agent_id, std::optional<TrustLevel> trust, std::optional<IdentityType> identity);
  bool remove(const std::string& agent_id);
  std::vector<Contact> list() const;
  std::optional<Contact> find(const std::string& agent_id) const;
  // The trust_decision a DM from this agent gets on /direct/events (§2.1).
  std::string trust_decision(const std::string& agent_id) const;
  bool blocked(const std::string& agent_id) const;

 private:
  void save_locked() const;
  std::filesystem::path file_;
  mutable std::mutex mu_;
  std::map<std::string, Contact> by_id_;
};

}  // namespace x0x::node
