// proofs/bundle_diff.h: `x0xctl proof diff` on two recorded gate verdicts
// (tests/data/diff/gate-{go,nogo}.json, trimmed from a real local gate run)
// and two hand-written soak.json fixtures (soak-{go,nogo}.json).
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "core/encoding.h"
#include "proofs/bundle_diff.h"
#include "proofs/bundle_read.h"
#include "tests/support/source_dir.h"

using namespace x0x::proofs;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json fixture(const std::string& name) {
  std::ifstream in(x0x::testing::test_data("diff") / name);
  if (!in) throw std::runtime_error("missing fixture " + name);
  return json::parse(in);
}

const RuleChange* rule(const std::vector<RuleChange>& rules, const std::string& name) {
  for (auto& r : rules)
    if (r.rule == name) return &r;
  return nullptr;
}

const PairChange* pair(const PhaseADiff& pa, const std::string& src, const std::string& dst) {
  for (auto& p : pa.pairs)
    if (p.src == src && p.dst == dst) return &p;
  return nullptr;
}

const ValueChange* value(const std::vector<ValueChange>& list, const std::string& name) {
  for (auto& v : list)
    if (v.name == name) return &v;
  return nullptr;
}

json& pair_json(json& verdict, const std::string& src, const std::string& dst) {
  for (auto& p : verdict["scenarios"][0]["phase_a"]["pairs"])
    if (p["src"] == src && p["dst"] == dst) return p;
  throw std::runtime_error("no pair " + src + ">" + dst);
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("x0x-proof-diff-" + x0x::random_hex(6));
  TempDir() { fs::create_directories(path); }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write(const fs::path& p, const std::string& body) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << body;
}

}  // namespace

TEST_CASE("proof diff: GO against NO-GO names the verdict, the rules, the violations, the failing pair and the counter jump",
          "[proof-diff]") {
  auto d = diff_bundles(fixture("gate-go.json"), fixture("gate-nogo.json"));
  REQUIRE(d.kind == BundleKind::gate);
  CHECK(d.verdict.a == "GO");
  CHECK(d.verdict.b == "NO-GO");
  REQUIRE(d.gate);
  REQUIRE(d.gate->scenarios.size() == 1);
  auto& s = d.gate->scenarios[0];
  CHECK(s.name == "baseline");
  CHECK(s.status_a == "PASS");
  CHECK(s.status_b == "FAIL");

  // Rules: exactly the two that broke, both regressions; unchanged rules are not listed.
  REQUIRE(s.rules.size() == 2);
  auto* disp = rule(s.rules, "max_dispatcher_timed_out_delta");
  REQUIRE(disp);
  CHECK(disp->status_a == "pass");
  CHECK(disp->status_b == "fail");
  CHECK(disp->observed_a == "0");
  CHECK(disp->observed_b == "7");
  CHECK(disp->worst_b == "sfo");
  CHECK(disp->threshold_b == "5");
  CHECK(disp->regressed);
  auto* pairs_rule = rule(s.rules, "min_phase_a_pairs");
  REQUIRE(pairs_rule);
  CHECK(pairs_rule->observed_a == "30");
  CHECK(pairs_rule->observed_b == "29");
  CHECK(pairs_rule->regressed);

  // Blocking violations: two new, none gone.
  REQUIRE(d.gate->violations_appeared.size() == 2);
  CHECK(d.gate->violations_disappeared.empty());
  CHECK(std::any_of(d.gate->violations_appeared.begin(), d.gate->violations_appeared.end(),
                    [](auto& v) { return v.rule == "max_dispatcher_timed_out_delta" && v.node == "sfo"; }));

  // Phase A: helsinki→sydney newly fails (listed first), nyc→sfo's latency shifted.
  REQUIRE(s.phase_a);
  CHECK(s.phase_a->a.delivered == 30);
  CHECK(s.phase_a->b.delivered == 29);
  REQUIRE(s.phase_a->pairs.size() == 2);
  CHECK(s.phase_a->pairs[0].kind == PairChangeKind::newly_failed);
  CHECK(s.phase_a->pairs[0].src == "helsinki");
  CHECK(s.phase_a->pairs[0].dst == "sydney");
  CHECK(s.phase_a->pairs[0].outcome_b == "not received");
  auto* shift = pair(*s.phase_a, "nyc", "sfo");
  REQUIRE(shift);
  CHECK(shift->kind == PairChangeKind::latency_shift);
  CHECK(*shift->latency_b == Approx(120.5));
  REQUIRE(s.phase_a->a.p99);
  REQUIRE(s.phase_a->b.p99);
  CHECK(*s.phase_a->b.p99 == Approx(120.5));  // the shifted pair is now the fleet's tail
  CHECK(*s.phase_a->a.p99 < 100);

  // Counters: only the one that changed, with both values.
  REQUIRE(s.counters.size() == 1);
  CHECK(s.counters[0].node == "sfo");
  CHECK(s.counters[0].counter == "dispatcher_timed_out");
  CHECK(*s.counters[0].a == 0);
  CHECK(*s.counters[0].b == 7);

  // Regression: verdict, two rules, one pair.
  CHECK(d.regressed());
  CHECK(d.regressions.size() == 4);
  CHECK(d.regressions[0] == "verdict GO -> NO-GO");
  CHECK(d.has_changes());
}

TEST_CASE("proof diff: the other way round is a recovery, not a regression", "[proof-diff]") {
  auto d = diff_bundles(fixture("gate-nogo.json"), fixture("gate-go.json"));
  CHECK_FALSE(d.regressed());
  CHECK(d.has_changes());
  auto& s = d.gate->scenarios[0];
  for (auto& r : s.rules) {
    CHECK(r.recovered);
    CHECK_FALSE(r.regressed);
  }
  CHECK(d.gate->violations_disappeared.size() == 2);
  CHECK(d.gate->violations_appeared.empty());
  REQUIRE(s.phase_a);
  CHECK(s.phase_a->pairs[0].kind == PairChangeKind::recovered);
  // 120.5 → 37.8 ms is a shift too (more than half of A's latency).
  CHECK(pair(*s.phase_a, "nyc", "sfo"));
}

TEST_CASE("proof diff: a bundle against itself has no differences", "[proof-diff]") {
  auto go = fixture("gate-go.json");
  auto d = diff_bundles(go, go);
  CHECK_FALSE(d.has_changes());
  CHECK_FALSE(d.regressed());
  auto text = render_diff_text(d);
  CHECK(contains(text, "no differences"));
  CHECK(contains(render_diff_html(d), "No differences."));
  auto soak = fixture("soak-go.json");
  auto s = diff_bundles(soak, soak);
  CHECK_FALSE(s.has_changes());
  CHECK(contains(render_diff_text(s), "no differences"));
}

TEST_CASE("proof diff: latency shifts beyond max(50%, 5 ms) only, and the fleet p50/p99 before and after", "[proof-diff]") {
  auto a = fixture("gate-go.json"), b = a;
  pair_json(a, "nyc", "sfo")["latency_ms"] = 4.0;
  pair_json(b, "nyc", "sfo")["latency_ms"] = 8.9;  // +4.9 ms: under the 5 ms floor
  pair_json(a, "sfo", "nyc")["latency_ms"] = 4.0;
  pair_json(b, "sfo", "nyc")["latency_ms"] = 9.5;  // +5.5 ms: a shift
  pair_json(a, "helsinki", "nyc")["latency_ms"] = 100.0;
  pair_json(b, "helsinki", "nyc")["latency_ms"] = 149.0;  // +49 %: not a shift
  pair_json(a, "helsinki", "sfo")["latency_ms"] = 100.0;
  pair_json(b, "helsinki", "sfo")["latency_ms"] = 49.0;  // −51 %: a shift
  auto d = diff_gate(a, b);
  auto& pa = *d.scenarios.at(0).phase_a;
  CHECK_FALSE(pair(pa, "nyc", "sfo"));
  CHECK(pair(pa, "sfo", "nyc"));
  CHECK_FALSE(pair(pa, "helsinki", "nyc"));
  CHECK(pair(pa, "helsinki", "sfo"));
  REQUIRE(pa.pairs.size() == 2);
  CHECK(pa.pairs[0].src == "helsinki");  // the larger shift first
  // Fleet percentiles: nearest rank over the delivered pairs.
  CHECK(pa.a.p50.has_value());
  CHECK(pa.b.p99.has_value());
  CHECK(latency_shifted(10, 16));
  CHECK_FALSE(latency_shifted(10, 14.9));
  CHECK(latency_shifted(std::nullopt, 3));
}

TEST_CASE("proof diff: counters sorted by the size of their change, scenarios and nodes on one side only", "[proof-diff]") {
  auto a = fixture("gate-go.json"), b = a;
  auto& nb = b["scenarios"][0]["nodes"];
  nb["nyc"]["delta"]["dispatcher_completed"] = a["scenarios"][0]["nodes"]["nyc"]["delta"]["dispatcher_completed"].get<double>() + 3;
  nb["sydney"]["delta"]["recv_pump_dropped_full"] = 40;
  nb["sfo"]["delta"]["per_peer_timeout_count"] = nullptr;  // unknown in B: listed first
  nb.erase("singapore");
  nb["tokyo"] = a["scenarios"][0]["nodes"]["nyc"];
  auto extra = b["scenarios"][0];
  extra["name"] = "fanout_burst";
  b["scenarios"].push_back(extra);
  auto d = diff_gate(a, b);
  auto& s = d.scenarios.at(0);
  REQUIRE(s.counters.size() == 3);
  CHECK(s.counters[0].counter == "per_peer_timeout_count");
  CHECK_FALSE(s.counters[0].b.has_value());
  CHECK(s.counters[1].counter == "recv_pump_dropped_full");
  CHECK(s.counters[2].counter == "dispatcher_completed");
  CHECK(s.nodes_only_a == std::vector<std::string>{"singapore"});
  CHECK(s.nodes_only_b == std::vector<std::string>{"tokyo"});
  CHECK(d.scenarios_only_b == std::vector<std::string>{"fanout_burst"});
  CHECK(d.scenarios_only_a.empty());
  auto text = render_diff_text(diff_bundles(a, b));
  CHECK(contains(text, "Scenarios only in B: fanout_burst"));
  CHECK(contains(text, "Nodes scored only in A (baseline): singapore"));
}

TEST_CASE("proof diff: wrong types in a bundle are skipped, not crashes", "[proof-diff]") {
  auto a = fixture("gate-go.json"), b = a;
  auto& s = b["scenarios"][0];
  s["rules"] = "not a list";
  s["nodes"] = json::array({1, 2, 3});
  s["phase_a"]["pairs"] = json::object({{"src", "x"}});
  b["blocking"] = 7;
  b["scenarios"].push_back(42);
  b["scenarios"].push_back({{"name", 5}});
  auto d = diff_bundles(a, b);
  auto& sd = d.gate->scenarios.at(0);
  // A's rules are all "only in A" (B has none it can read), none a regression.
  CHECK(sd.rules.size() == a["scenarios"][0]["rules"].size());
  CHECK_FALSE(std::any_of(sd.rules.begin(), sd.rules.end(), [](auto& r) { return r.regressed; }));
  CHECK(sd.nodes_only_a.size() == 6);
  REQUIRE(sd.phase_a);
  CHECK(sd.phase_a->b.pairs == 0);
  CHECK(d.gate->scenarios_only_b.empty());  // nameless scenarios are ignored
  CHECK_NOTHROW(render_diff_text(d));
  CHECK_NOTHROW(render_diff_html(d));
  CHECK_NOTHROW(d.to_json().dump());

  // Pair fields of the wrong type.
  auto c = a;
  pair_json(c, "nyc", "sfo")["latency_ms"] = "fast";
  pair_json(c, "sfo", "nyc")["outcome"] = json::array();
  auto d2 = diff_gate(a, c);
  auto& pa = *d2.scenarios.at(0).phase_a;
  REQUIRE(pair(pa, "sfo", "nyc"));
  CHECK(pair(pa, "sfo", "nyc")->kind == PairChangeKind::newly_failed);
  CHECK_FALSE(pair(pa, "nyc", "sfo"));  // a latency it cannot read is not a shift

  // A soak window's lists of the wrong type count as empty.
  auto sa = fixture("soak-go.json"), sb = sa;
  sb["windows"][2]["phase_a"]["failed_pairs"] = json::object({{"a", 1}, {"b", 2}});
  sb["windows"][3]["continuous"]["nodes"] = json::array({1, 2});
  sb["rules"][0] = "windows_ran";
  auto soak = diff_soak(sa, sb);
  CHECK(soak.phase_a_b.failed_pairs == 0);
  CHECK(soak.node_totals.size() == 3);  // window 4's accounting is gone on every node
}

TEST_CASE("proof diff: a rule from pass to not_run, or to a status it cannot read, is a regression", "[proof-diff]") {
  auto a = fixture("gate-go.json"), b = a, c = a;
  b["scenarios"][0]["rules"][0]["status"] = "not_run";
  c["scenarios"][0]["rules"][0]["status"] = "PASSED";  // an unknown spelling reads as a failure
  for (auto* later : {&b, &c}) {
    auto d = diff_bundles(a, *later);
    REQUIRE(d.gate->scenarios.at(0).rules.size() == 1);
    CHECK(d.gate->scenarios.at(0).rules[0].regressed);
    CHECK(d.regressed());
  }
  // n/a → pass is no regression, pass → n/a neither.
  auto n = a;
  n["scenarios"][0]["rules"][0]["status"] = "n/a";
  CHECK_FALSE(diff_bundles(a, n).regressed());
  CHECK_FALSE(diff_bundles(n, a).regressed());
}

TEST_CASE("proof diff: not a bundle document, or a gate against a soak, is a usage error", "[proof-diff]") {
  CHECK_THROWS_AS(diff_bundles(fixture("gate-go.json"), fixture("soak-go.json")), DiffUsageError);
  CHECK_THROWS_AS(diff_bundles(fixture("soak-go.json"), fixture("gate-go.json")), DiffUsageError);
  CHECK_THROWS_AS(diff_bundles(json::object(), fixture("gate-go.json")), DiffUsageError);
  CHECK_THROWS_AS(diff_bundles(fixture("gate-go.json"), json::array()), DiffUsageError);
  json not_soak = fixture("soak-go.json");
  not_soak["windows"] = "none";
  CHECK_FALSE(bundle_kind(not_soak));
  CHECK(bundle_kind(fixture("gate-go.json")) == BundleKind::gate);
  CHECK(bundle_kind(fixture("soak-nogo.json")) == BundleKind::soak);
}

TEST_CASE("proof diff: soak GO against NO-GO: rules, policy, window classes, per-node accounting, Phase A", "[proof-diff]") {
  auto d = diff_bundles(fixture("soak-go.json"), fixture("soak-nogo.json"));
  REQUIRE(d.kind == BundleKind::soak);
  REQUIRE(d.soak);
  auto& s = *d.soak;
  CHECK(d.verdict.a == "GO");
  CHECK(d.verdict.b == "NO-GO");
  REQUIRE(s.rules.size() == 3);
  for (auto* name : {"no_effective_failed", "cumulative_drop_full", "aggregate_phase_a"}) {
    auto* r = rule(s.rules, name);
    REQUIRE(r);
    CHECK(r->regressed);
  }
  CHECK_FALSE(rule(s.rules, "dispatcher_noise_policy"));
  CHECK(d.regressions.size() == 4);

  auto* noise = value(s.policy, "dispatcher_noise.verdict");
  REQUIRE(noise);
  CHECK_FALSE(noise->changed());
  auto* ratio = value(s.policy, "dispatcher_noise.total_ratio");
  REQUIRE(ratio);
  CHECK(ratio->a == "0.000275");
  CHECK(ratio->b == "0.000844");
  auto* fired = value(s.policy, "burn_rate.page-fast.fired_windows");
  REQUIRE(fired);
  CHECK(fired->a == "none");
  CHECK(fired->b == "3");
  auto* recv = value(s.policy, "aggregate_phase_a.recv_ratio");
  REQUIRE(recv);
  CHECK(recv->changed());

  auto* clean = value(s.class_counts, "clean");
  REQUIRE(clean);
  CHECK(clean->a == "2");
  CHECK(clean->b == "1");
  auto* failed = value(s.class_counts, "effective_failed");
  REQUIRE(failed);
  CHECK(failed->a == "0");
  CHECK(failed->b == "1");

  CHECK(s.same_windows);
  REQUIRE(s.window_classes.size() == 2);
  CHECK(s.window_classes[0].index == 3);
  CHECK(s.window_classes[0].a == "tolerated_dispatcher");
  CHECK(s.window_classes[0].b == "effective_failed");
  CHECK(s.window_classes[1].index == 4);

  // Per node, summed over the counted windows 2–4 (the warm-up window 1 excluded).
  REQUIRE(s.node_totals.size() == 3);
  auto& nyc = s.node_totals[0];
  CHECK(nyc.node == "nyc");
  CHECK(*nyc.a[0] == 1);  // disp
  CHECK(*nyc.b[0] == 3);
  CHECK(*nyc.a[3] == 410 + 405 + 420);  // completed, without window 1's 400
  auto& sydney = s.node_totals[2];
  CHECK(*sydney.a[1] == 0);  // drop
  CHECK(*sydney.b[1] == 4);

  CHECK(s.phase_a_a.windows == 3);
  CHECK(s.phase_a_a.received == 18);
  CHECK(s.phase_a_b.received == 17);
  CHECK(s.phase_a_b.failed_pairs == 1);
  CHECK(*s.phase_a_a.p99_max == Approx(52.5));
  CHECK(*s.phase_a_b.p99_last == Approx(210));
  CHECK(*s.phase_a_b.p99_slope_ms_per_window == Approx(77.5));  // 55, 140, 210
  CHECK(*s.phase_a_a.p99_slope_ms_per_window < 0);
}

TEST_CASE("proof diff: soaks with different windows compare classes by count only", "[proof-diff]") {
  auto a = fixture("soak-go.json"), b = fixture("soak-nogo.json");
  b["windows"].erase(b["windows"].size() - 1);
  auto s = diff_soak(a, b);
  CHECK_FALSE(s.same_windows);
  CHECK(s.window_classes.empty());
  CHECK(contains(render_diff_text(diff_bundles(a, b)), "different windows"));
  // A soak rule that recovers is no regression.
  auto back = diff_bundles(fixture("soak-nogo.json"), fixture("soak-go.json"));
  CHECK_FALSE(back.regressed());
  CHECK(std::all_of(back.soak->rules.begin(), back.soak->rules.end(), [](auto& r) { return r.recovered; }));
}

TEST_CASE("proof diff: text in aligned columns, JSON, and an escaped self-contained HTML page", "[proof-diff]") {
  auto a = fixture("gate-go.json"), b = fixture("gate-nogo.json");
  // A hostile node name in B: escaped in HTML, made printable in text.
  b["blocking"][0]["node"] = "<script>alert(1)</script>";
  b["blocking"][0]["message"] = "bad \x1b[31m <b>";
  auto d = diff_bundles(a, b);
  d.label_a = "/proofs/a";
  d.label_b = "/proofs/b";
  d.notes.push_back("B: bundle NOT ok: 1 problem(s), first: verdict.json: sha256 differs from the manifest");

  auto text = render_diff_text(d);
  CHECK(contains(text, "Verdict: GO -> NO-GO"));
  CHECK(contains(text, "note: B: bundle NOT ok"));
  CHECK(contains(text, "NEW FAILURE"));
  CHECK(contains(text, "REGRESSION: B is worse than A (4)"));
  CHECK_FALSE(contains(text, "\x1b"));
  // Columns line up: the rule rows' status column starts at the same offset.
  auto l1 = text.find("  baseline  max_dispatcher_timed_out_delta");
  auto l2 = text.find("  baseline  min_phase_a_pairs");
  REQUIRE(l1 != std::string::npos);
  REQUIRE(l2 != std::string::npos);
  auto col = [&](std::size_t line) { return text.find("pass -> fail", line) - line; };
  CHECK(col(l1) == col(l2));

  auto j = json::parse(d.to_json().dump());
  CHECK(j["kind"] == "gate");
  CHECK(j["regressed"] == true);
  CHECK(j["verdict"]["b"] == "NO-GO");
  CHECK(j["gate"]["scenarios"][0]["counters"][0]["change"] == 7);
  CHECK(j["gate"]["scenarios"][0]["phase_a"]["pairs"][0]["change"] == "newly_failed");
  CHECK(j["notes"].size() == 1);

  auto html = render_diff_html(d);
  CHECK(contains(html, "<!DOCTYPE html>"));
  CHECK(contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  CHECK_FALSE(contains(html, "<script"));
  CHECK_FALSE(contains(html, "<b>"));
  CHECK_FALSE(contains(html, "http"));
  CHECK(contains(html, "<tr class=\"regressed\">"));
  CHECK(contains(html, "<style>"));
  auto back = render_diff_html(diff_bundles(b, a));
  CHECK(contains(back, "<tr class=\"recovered\">"));
  CHECK(contains(render_diff_html(diff_bundles(fixture("soak-go.json"), fixture("soak-nogo.json"))), "<tr class=\"regressed\">"));
}

TEST_CASE("proof diff: bundles are read through the contained reader", "[proof-diff]") {
  TempDir t;
  auto gate = t.path / "gate", soak = t.path / "soak", both = t.path / "both", linked = t.path / "linked", empty = t.path / "empty";
  write(gate / "verdict.json", fixture("gate-go.json").dump());
  write(soak / "soak.json", fixture("soak-go.json").dump());
  write(both / "verdict.json", fixture("gate-go.json").dump());
  write(both / "soak.json", fixture("soak-go.json").dump());
  fs::create_directories(linked);
  fs::create_symlink(gate / "verdict.json", linked / "verdict.json");
  fs::create_directories(empty);
  write(t.path / "junk" / "verdict.json", "{\"verdict\": ");
  write(t.path / "other" / "verdict.json", "{\"verdict\": \"GO\"}");  // JSON, not a verdict (no scenarios)

  CHECK(read_bundle_document(gate).kind == BundleKind::gate);
  CHECK(read_bundle_document(soak).kind == BundleKind::soak);
  CHECK(read_bundle_document(both).file == "soak.json");  // a soak bundle's own document
  CHECK_THROWS_WITH(read_bundle_document(linked), Catch::Contains("hostile bundle"));
  CHECK_THROWS_WITH(read_bundle_document(empty), Catch::Contains("not a gate or soak bundle"));
  CHECK_THROWS_WITH(read_bundle_document(t.path / "junk"), Catch::Contains("not a gate bundle's verdict.json"));
  CHECK_THROWS_WITH(read_bundle_document(t.path / "other"), Catch::Contains("not a gate bundle's verdict.json"));
  CHECK_THROWS_AS(read_bundle_document(t.path / "nowhere"), DiffUsageError);
  if (::mkfifo((t.path / "fifo-bundle-verdict").c_str(), 0600) == 0) {
    fs::create_directories(t.path / "fifo");
    fs::rename(t.path / "fifo-bundle-verdict", t.path / "fifo" / "verdict.json");
    CHECK_THROWS_AS(read_bundle_document(t.path / "fifo"), DiffUsageError);  // never blocks on a FIFO
  }
}
