// Deploy's states are enums inside; these are their one spelling each at the
// edge (deploy.json, the tables, the log), as operators' scripts read them.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "orchestrator/lifecycle/deploy.h"

using namespace x0x::orchestrator;

TEST_CASE("deploy states: one spelling each, and back", "[deploy]") {
  const std::pair<DeployAction, const char*> actions[] = {{DeployAction::none, "-"},
                                                          {DeployAction::install, "install"},
                                                          {DeployAction::upgrade, "upgrade"},
                                                          {DeployAction::restart, "restart"},
                                                          {DeployAction::skip, "skip"}};
  for (auto& [a, s] : actions) {
    CHECK(to_string(a) == s);
    CHECK(deploy_action_from_string(s) == a);
  }
  const std::pair<DeployResult, const char*> results[] = {
      {DeployResult::planned, "planned"}, {DeployResult::not_attempted, "not-attempted"}, {DeployResult::healthy, "healthy"},
      {DeployResult::unchanged, "unchanged"}, {DeployResult::failed, "failed"},           {DeployResult::rolled_back, "rolled-back"},
      {DeployResult::cleaned, "cleaned"}, {DeployResult::unknown, "unknown"},             {DeployResult::interrupted, "interrupted"}};
  for (auto& [r, s] : results) {
    CHECK(to_string(r) == s);
    CHECK(deploy_result_from_string(s) == r);
  }
  const std::pair<DeployPhase, const char*> phases[] = {
      {DeployPhase::probe, "probe"},  {DeployPhase::connect, "connect"},      {DeployPhase::upload, "upload"},
      {DeployPhase::stage, "stage"},  {DeployPhase::switch_files, "switch"}, {DeployPhase::restart, "restart"},
      {DeployPhase::gate, "gate"},    {DeployPhase::rollback, "rollback"}};
  for (auto& [p, s] : phases) {
    CHECK(to_string(p) == s);
    CHECK(deploy_phase_from_string(s) == p);
  }
  CHECK_FALSE(deploy_result_from_string("rolled_back"));
  CHECK_FALSE(deploy_action_from_string("Install"));
}

TEST_CASE("deploy states: deploy.json carries the same strings as before the enums", "[deploy]") {
  DeployReport rep;
  rep.run_id = "r1";
  HostReport h;
  h.name = "nyc";
  h.wave = 1;
  h.action = DeployAction::upgrade;
  h.result = DeployResult::rolled_back;
  h.phases = {{DeployPhase::connect, 0.5}, {DeployPhase::switch_files, 0.25}};
  rep.hosts = {h};
  HostReport plan_failed;
  plan_failed.name = "sfo";
  plan_failed.result = DeployResult::failed;
  rep.hosts.push_back(plan_failed);
  auto j = rep.to_json()["deploy"]["hosts"];
  CHECK(j[0]["action"] == "upgrade");
  CHECK(j[0]["result"] == "rolled-back");
  CHECK(j[0]["phases"] == nlohmann::json{{"connect", 0.5}, {"switch", 0.25}});
  CHECK(j[1]["action"] == "-");
  CHECK(j[1]["result"] == "failed");
  CHECK(rep.to_json()["deploy"]["verdict"] == "fail");
}
