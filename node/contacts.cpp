#include "node/contacts.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"

namespace x0x::node {

using nlohmann::json;

static std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::optional<TrustLevel> parse_trust_level(std::string_view s) {
  auto l = lower(s);
  if (l == "blocked") return TrustLevel::blocked;
  if (l == "unknown") return TrustLevel::unknown;
  if (l == "known") return TrustLevel::known;
  if (l == "trusted") return TrustLevel::trusted;
  return std::nullopt;
}

std::optional<IdentityType> parse_identity_type(std::string_view s) {
  auto l = lower(s);
  if (l == "anonymous") return IdentityType::anonymous;
  if (l == "known") return IdentityType::known;
  if (l == "trusted") return IdentityType::trusted;
  if (l == "pinned") return IdentityType::pinned;
  return std::nullopt;
}

const char* to_string(TrustLevel t) {
  switch (t) {
    case TrustLevel::blocked: return "blocked";
    case TrustLevel::unknown: return "unknown";
    case TrustLevel::known: return "known";
    case TrustLevel::trusted: return "trusted";
  }
  return "unknown";
}

const char* to_string(IdentityType t) {
  switch (t) {
    case IdentityType::anonymous: return "anonymous";
    case IdentityType::known: return "known";
    case IdentityType::trusted: return "trusted";
    case IdentityType::pinned: return "pinned";
  }
  return "anonymous";
}

static std::uint64_t now_secs() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

Contacts::Contacts(std::filesystem::path file) : file_(std::move(file)) {
  if (!std::filesystem::exists(file_)) return;
  std::ifstream in(file_);
  json doc = json::parse(in, nullptr, false);
  if (doc.is_discarded() || !doc.contains("contacts") || !doc["contacts"].is_array())
    throw std::runtime_error(file_.string() + ": not a contacts file (expected {\"contacts\":[...]})");
  std::size_t i = 0;
  for (auto& c : doc["contacts"]) {
    auto where = file_.string() + ": contacts[" + std::to_string(i++) + "]";
    if (!c.is_object() || !c.value("agent_id", json()).is_string()) throw std::runtime_error(where + ".agent_id missing");
    auto trust = parse_trust_level(c.value("trust_level", "known"));
    auto ident = parse_identity_type(c.value("identity_type", "anonymous"));
    if (!trust) throw std::runtime_error(where + ".trust_level invalid");
    if (!ident) throw std::runtime_error(where + ".identity_type invalid");
    Contact k;
    k.agent_id = c["agent_id"].get<std::string>();
    k.trust = *trust;
    k.identity = *ident;
    if (c.contains("label") && c["label"].is_string()) k.label = c["label"].get<std::string>();
    k.added_at = c.value("added_at", std::uint64_t{0});
    if (c.contains("last_seen") && c["last_seen"].is_number_unsigned()) k.last_seen = c["last_seen"].get<std::uint64_t>();
    by_id_[k.agent_id] = std::move(k);
  }
}

void Contacts::save_locked() const {
  json list = json::array();
  for (auto& [id, c] : by_id_)
    list.push_back({{"agent_id", id}, {"trust_level", to_string(c.trust)}, {"identity_type", to_string(c.identity)},
                    {"label", c.label ? json(*c.label) : json()}, {"added_at", c.added_at},
                    {"last_seen", c.last_seen ? json(*c.last_seen) : json()}});
  write_file_atomically(file_, json{{"contacts", list}}.dump(2) + "\n", 0600);
}

void Contacts::add(Contact c) {
  std::lock_guard lk(mu_);
  auto it = by_id_.find(c.agent_id);
  c.added_at = it != by_id_.end() ? it->second.added_at : now_secs();
  if (it != by_id_.end()) c.last_seen = it->second.last_seen;
  by_id_[c.agent_id] = std::move(c);
  save_locked();
}

void Contacts::update(const std::string& agent_id, std::optional<TrustLevel> trust, std::optional<IdentityType> identity) {
  std::lock_guard lk(mu_);
  auto [it, fresh] = by_id_.try_emplace(agent_id);
  if (fresh) {
    it->second.agent_id = agent_id;
    it->second.added_at = now_secs();
  }
  if (trust) it->second.trust = *trust;
  if (identity) it->second.identity = *identity;
  save_locked();
}

bool Contacts::remove(const std::string& agent_id) {
  std::lock_guard lk(mu_);
  if (!by_id_.erase(agent_id)) return false;
  save_locked();
  return true;
}

std::vector<Contact> Contacts::list() const {
  std::lock_guard lk(mu_);
  std::vector<Contact> out;
  for (auto& [_, c] : by_id_) out.push_back(c);
  return out;
}

std::optional<Contact> Contacts::find(const std::string& agent_id) const {
  std::lock_guard lk(mu_);
  auto it = by_id_.find(agent_id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

std::string Contacts::trust_decision(const std::string& agent_id) const {
  auto c = find(agent_id);
  if (!c) return "unknown";
  switch (c->trust) {
    case TrustLevel::blocked: return "reject_blocked";
    case TrustLevel::trusted: return "accept";
    case TrustLevel::known: return "accept_with_flag";
    case TrustLevel::unknown: return "unknown";
  }
  return "unknown";
}

bool Contacts::blocked(const std::string& agent_id) const {
  auto c = find(agent_id);
  return c && c->trust == TrustLevel::blocked;
}

}  // namespace x0x::node
