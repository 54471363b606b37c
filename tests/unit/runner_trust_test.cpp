// The runner's control-channel trust and bounds (runners/control_trust.h,
// runners/sender_limits.h): who may command a runner, and what a sender can cost it.
#include <catch2/catch.hpp>

#include <map>

#include "runners/control_trust.h"
#include "runners/runner.h"
#include "runners/sender_limits.h"

using namespace x0x::runners;
using namespace std::chrono_literals;

namespace {

const std::string kOrch(64, 'a'), kOther(64, 'b'), kSelf(64, 'c');

Command cmd(std::string action, std::string anchor = {}) {
  Command c;
  c.command_id = "id";
  c.action = std::move(action);
  c.anchor_aid = std::move(anchor);
  return c;
}

}  // namespace

TEST_CASE("runner trust: X0X_RUNNER_TRUSTED_AGENTS takes commas, spaces and newlines, and refuses what is not an agent id") {
  auto set = parse_trusted_agents(" " + kOrch + ",\n" + std::string(64, 'B') + "  ");
  CHECK(set == std::set<std::string>{kOrch, kOther});  // stored lowercase
  CHECK(parse_trusted_agents("").empty());
  CHECK_THROWS_WITH(parse_trusted_agents(kOrch + ",nyc"), Catch::Contains("\"nyc\" is not a 64-hex agent id"));
  CHECK_THROWS_WITH(parse_trusted_agents("\x1b[31m"), Catch::Contains("\\x1b"));  // escaped in the message
}

TEST_CASE("runner trust: an allow-list trusts its agents and the runner's own, and never pins") {
  TrustedOrchestrators t({kOrch}, kSelf);
  CHECK(t.mode() == TrustMode::allow_list);
  CHECK(t.admit(cmd("send_dm"), kOrch, true) == TrustVerdict::trusted);
  CHECK(t.admit(cmd("noop_ack"), kSelf, true) == TrustVerdict::trusted);
  CHECK(t.admit(cmd("discover"), kOther, true) == TrustVerdict::untrusted);
  CHECK(t.admit(cmd("discover"), kOrch, false) == TrustVerdict::unattributed);  // signature not checked
  CHECK(t.admit(cmd("discover"), "", true) == TrustVerdict::unattributed);
  CHECK(t.pinned().empty());
  CHECK(t.is_trusted(std::string(64, 'A')));
}

TEST_CASE("runner trust: without a list, the first discover naming only its sender pins it, and nobody else gets in") {
  TrustedOrchestrators t({}, kSelf);
  CHECK(t.mode() == TrustMode::trust_on_first_discover);
  CHECK(t.admit(cmd("send_dm"), kOther, true) == TrustVerdict::untrusted);        // only a discover can pin
  CHECK(t.admit(cmd("discover", kOrch), kOther, true) == TrustVerdict::untrusted);  // results elsewhere: no pin
  CHECK(t.admit(cmd("discover", kOrch), kOrch, true) == TrustVerdict::newly_pinned);
  CHECK(t.pinned() == kOrch);
  CHECK(t.admit(cmd("send_dm"), kOrch, true) == TrustVerdict::trusted);
  CHECK(t.admit(cmd("discover"), kOther, true) == TrustVerdict::untrusted);
  CHECK(t.admit(cmd("noop_ack"), kSelf, true) == TrustVerdict::trusted);
}

TEST_CASE("runner limits: a sender's bucket allows its burst, then its rate, and the senders tracked are bounded") {
  SenderRateLimiter lim(2);
  const RateLimit r{2, 3};
  auto t = LimitClock::now();
  int allowed = 0;
  for (int i = 0; i < 10; ++i) allowed += lim.allow("x", r, t);
  CHECK(allowed == 3);
  CHECK(lim.allow("x", r, t + 500ms));  // one token back after half a second at 2/s
  CHECK_FALSE(lim.allow("x", r, t + 500ms));
  lim.allow("y", r, t);
  lim.allow("z", r, t);
  CHECK(lim.tracked() == 2);
}

TEST_CASE("runner limits: the log throttle lets a few lines through per window and counts the rest") {
  LogThrottle th(2, 10s);
  auto t = LimitClock::now();
  CHECK(th.allow(t));
  CHECK(th.allow(t));
  CHECK_FALSE(th.allow(t));
  CHECK_FALSE(th.allow(t + 1s));
  CHECK(th.take_suppressed() == 2);
  CHECK(th.take_suppressed() == 0);
  CHECK(th.allow(t + 11s));
}

TEST_CASE("runner config: trusted agents and the command timeout come from the environment, bad values are errors") {
  std::map<std::string, std::string> env = {{"NODE_NAME", "sfo"}, {"X0X_API_TOKEN", "tok"},
                                            {"X0X_RUNNER_TRUSTED_AGENTS", kOrch + "," + kOther},
                                            {"X0X_RUNNER_COMMAND_TIMEOUT_SECS", "8"}};
  auto get = [&](const char* k) -> std::optional<std::string> {
    auto it = env.find(k);
    return it == env.end() ? std::nullopt : std::optional(it->second);
  };
  auto cfg = resolve_config({}, get);
  CHECK(cfg.trusted_agents.size() == 2);
  CHECK(cfg.command_timeout == 8s);
  env["X0X_RUNNER_TRUSTED_AGENTS"] = "nyc";
  CHECK_THROWS_AS(resolve_config({}, get), ConfigError);
  env["X0X_RUNNER_TRUSTED_AGENTS"] = "";
  env["X0X_RUNNER_COMMAND_TIMEOUT_SECS"] = "0";
  CHECK_THROWS_AS(resolve_config({}, get), ConfigError);
  env["X0X_RUNNER_COMMAND_TIMEOUT_SECS"] = "";
  cfg = resolve_config({}, get);
  CHECK(cfg.trusted_agents.empty());
  CHECK(cfg.command_timeout == 30s);
}
