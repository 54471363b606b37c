// One-time group invites: x0x://invite/<base64url-no-pad JSON>, signed by the
// group authority. The JSON carries what a joiner needs (group id, name,
// description, preset, inviter, authority key, one-time secret, expiry, the
// current roster and revision). The signature is Ed25519 over
// "x0x.lean.invite.v1\n" + the JSON without "signature" (nlohmann's dump: keys
// sorted, no spaces). The inviter keeps the secrets it issued (InviteBook) and
// consumes each on first use, so a reused invite is refused where it matters.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "node/identity.h"

namespace x0x::node::groups {

inline constexpr std::string_view kInvitePrefix = "x0x://invite/";

struct Invite {
  std::string group_id, name, description, preset;
  std::string inviter;        // agent id, 64 hex
  std::string authority_key;  // Ed25519 public key, 64 hex
  std::string secret;         // one-time secret, 64 hex
  std::uint64_t expires_at = 0;  // unix seconds; 0 = never
  std::vector<std::string> roster;
  std::uint64_t revision = 0;
  std::string signature;  // 128 hex
};

// Signs with the authority key and returns the x0x://invite/ link.
std::string make_invite_link(Invite& inv, const KeyPair& authority);

enum class InviteProblem { none, malformed, bad_signature, expired };
struct ParsedInvite {
  Invite invite;
  InviteProblem problem = InviteProblem::none;
  std::string detail;  // what is wrong, for the 400 body
};
// Accepts the link or its raw base64url part. Checks shape, the signature
// against the invite's own authority key, and the expiry at `now_secs`.
ParsedInvite parse_invite(std::string_view link, std::uint64_t now_secs);

// The inviter's record of the secrets it issued.
enum class Redeem { ok, unknown_secret, reused, expired };
class InviteBook {
 public:
  void issue(const std::string& group_id, const std::string& secret, std::uint64_t expires_at);
  Redeem redeem(const std::string& group_id, const std::string& secret, std::uint64_t now_secs);
  void forget_group(const std::string& group_id);
  nlohmann::json to_json() const;
  static InviteBook from_json(const nlohmann::json& j);

 private:
  struct Entry {
    std::string group_id;
    std::uint64_t expires_at = 0;
    bool consumed = false;
  };
  std::map<std::string, Entry> by_secret_;
};

}  // namespace x0x::node::groups
