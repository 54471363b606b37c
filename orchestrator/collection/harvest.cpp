#include "orchestrator/collection/harvest.h"

#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/parallel_for.h"
#include "core/process.h"
#include "core/sha256.h"
#include "core/utc_time.h"
#include "orchestrator/control/api_access.h"
#include "orchestrator/lifecycle/service_manager.h"
#include "orchestrator/control/ssh_remote.h"
#include "probes/log_patterns.h"
#include "probes/rest_client.h"
#include "proofs/bundle_writer.h"

namespace x0x::orchestrator {

namespace fs = std::filesystem;
using nlohmann::json;

std::chrono::seconds parse_since(const std::string& s) {
  std::size_t used = 0;
  long n = -1;
  try {
    n = std::stol(s, &used);
  } catch (...) {
  }
  if (n < 0 || used + 1 != s.size())
    throw std::invalid_argument("--since " + s + ": expected a number and a unit, like 90s, 30m, 2h or 1d");
  switch (s.back()) {
    case 's': return std::chrono::seconds(n);
    case 'm': return std::chrono::minutes(n);
    case 'h': return std::chrono::hours(n);
    case 'd': return std::chrono::hours(24 * n);
  }
  throw std::invalid_argument("--since " + s + ": unit must be s, m, h or d");
}

namespace {

std::string read_local(const fs::path& p, std::size_t max_bytes) {
  std::ifstream in(p, std::ios::binary | std::ios::ate);
  if (!in) return {};
  auto size = static_cast<std::size_t>(in.tellg());
  auto from = size > max_bytes ? size - max_bytes : 0;
  in.seekg(static_cast<std::streamoff>(from));
  std::string s(size - from, '\0');
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  return s;
}

// A facts script on this machine (sh, no login shell), stdout only.
std::string run_local_script(const std::string& script) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.out = Stdio::pipe();
  return run_process(spec, std::chrono::seconds(30)).out;
}

const char* kEndpoints[][2] = {{"/health", "health.json"},
                               {"/agent", "agent.json"},
                               {"/status", "status.json"},
                               {"/peers", "peers.json"},
                               {"/diagnostics/gossip", "diagnostics-gossip.json"},
                               {"/diagnostics/connectivity", "diagnostics-connectivity.json"},
                               {"/diagnostics/dm", "diagnostics-dm.json"},
                               {"/diagnostics/ack", "diagnostics-ack.json"}};

// The node's log files: deploy's layout (log/) or the local fleet's.
std::vector<std::string> log_candidates(const Host& h) {
  auto root = HostLayout::for_host(h).root;
  return {root + "/log/node.log", root + "/node.log", root + "/log/runner.log", root + "/runner.log"};
}

bool reads_journal(const Host& h) { return h.transport == "ssh" && h.service_manager == "systemd"; }

// The journal of the host's units, UTC timestamps (so the window filter of
// other sources compares them lexically too).
std::string journal_command(const Host& h, std::chrono::seconds since) {
  return "journalctl -u " + shell_quote(systemd_unit_name(h, Service::node)) + " -u " +
         shell_quote(systemd_unit_name(h, Service::runner)) + " --since \"-" + std::to_string(since.count()) +
         "s\" --no-pager -o short-iso --utc";
}

std::string harvest_section(const std::string& name, const std::string& cmd) {
  return "echo " + shell_quote("==" + name) + "\n{ " + cmd + "; } 2>&1\n";
}

// Spec §4.3 facts of the machine, shared by the hosts on it (gathered once).
std::string machine_facts_script(const Host& h) {
  auto section = harvest_section;
  std::string s = section("uptime", "uptime") + section("nproc", "nproc") + section("udp_listeners", "ss -ulnp") +
                  section("tcp_listeners", "ss -tlnp") + section("qdisc", "tc qdisc show") +
                  section("partition_rules", "iptables -S INPUT 2>/dev/null | grep -c x0x-partition || true");
  if (h.transport == "ssh")  // whichever host of the machine comes first
    s += section("system_state", "systemctl is-system-running") + section("journal_disk_usage", "journalctl --disk-usage");
  return s;
}

// Spec §4.3 facts of one instance as "==name" sections (each command best
// effort), and per service: `systemctl show` of its unit on systemd hosts, else
// the pidfile's process from /proc (resident memory, CPU time).
std::string facts_script(const Host& h) {
  auto l = HostLayout::for_host(h);
  auto q = [](const std::string& s) { return shell_quote(s); };
  std::string s;
  auto section = [&](const std::string& name, const std::string& cmd) { s += harvest_section(name, cmd); };
  section("df", "df -Pk " + q(l.root) + " 2>/dev/null || df -Pk /");
  section("du_kb", "du -sk " + q(l.root) + " | cut -f1");
  section("binaries_sha256", "sha256sum " + q(l.node_binary) + " " + q(l.runner_binary));
  section("upgrade_leftovers", "ls -d " + q(l.root) + "/.x0x-upgrade-* 2>/dev/null | wc -l");
  if (reads_journal(h)) {
    for (auto svc : {Service::node, Service::runner})
      section(std::string("unit:") + service_name(svc),
              "systemctl show -p MainPID,ActiveState,NRestarts,MemoryCurrent,CPUUsageNSec " + q(systemd_unit_name(h, svc)));
  } else {
    for (auto svc : {Service::node, Service::runner})
      section(std::string("process:") + service_name(svc),
              "p=$(head -n 1 " + q(l.run_dir + "/" + service_name(svc) + ".pid") +
                  " 2>/dev/null | tr -cd 0-9); if [ -n \"$p\" ] && [ -r /proc/$p/status ]; then echo pid=$p; "
                  "awk '/^VmRSS:/{print \"rss_kb=\" $2}' /proc/$p/status; "
                  "set -- $(sed 's/.*) //' /proc/$p/stat); echo cpu_ticks=$((${12} + ${13})); "
                  "echo clk_tck=$(getconf CLK_TCK); else echo 'pid='; fi");
  }
  return s;
}

// "==name" sections → {"name": text}; "unit:x" and "process:x" sections as
// key=value objects under "units" / "processes".
json parse_facts(const std::string& out) {
  json facts = json::object();
  std::string name, body;
  auto flush = [&] {
    if (name.empty()) return;
    while (!body.empty() && body.back() == '\n') body.pop_back();
    auto colon = name.find(':');
    if (colon == std::string::npos) {
      facts[name] = body;
    } else {
      json kv = json::object();
      std::istringstream in(body);
      for (std::string line; std::getline(in, line);)
        if (auto eq = line.find('='); eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
      auto group = name.substr(0, colon) == "unit" ? "units" : "processes";
      if (kv.contains("cpu_ticks") && kv.contains("clk_tck")) {
        try {
          kv["cpu_seconds"] = std::stod(kv["cpu_ticks"].get<std::string>()) / std::stod(kv["clk_tck"].get<std::string>());
        } catch (...) {
        }
      }
      facts[group][name.substr(colon + 1)] = kv;
    }
    body.clear();
  };
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("==", 0) == 0) {
      flush();
      name = line.substr(2);
    } else {
      body += line + "\n";
    }
  }
  flush();
  return facts;
}

void add_counts(probes::LogCounts& into, const probes::LogCounts& more) {
  into.lines += more.lines;
  into.lines_in_window += more.lines_in_window;
  for (auto& [k, v] : more.counts) into.counts[k] += v;
  for (auto& [k, v] : more.timeout_peers) into.timeout_peers[k] += v;
}

// Lines that are log content (journalctl's "-- No entries --" and "-- Boot …" are not).
std::size_t content_lines(const std::string& text) {
  std::size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += !line.empty() && line.rfind("-- ", 0) != 0;
  return n;
}

struct NodeRow {
  std::string name;
  bool reached = false;
  std::string error, version;
  long peers = -1;
  std::uint64_t timed_out = 0, dropped_full = 0, per_peer_timeouts = 0, suppressed = 0, warnings = 0, errors = 0;
  json top_peers = json::array();
  double score() const { return static_cast<double>(timed_out * 100 + dropped_full * 10 + per_peer_timeouts + suppressed * 5 + errors); }
};

std::uint64_t u64_at(const json& j, const json::json_pointer& p) {
  return j.contains(p) && j.at(p).is_number() ? j.at(p).get<std::uint64_t>() : 0;
}

}  // namespace

HarvestResult harvest(const Fleet& fleet, const HarvestOptions& o) {
  auto since_secs = parse_since(o.since);
  auto since_iso = format_utc(std::time(nullptr) - since_secs.count(), "%Y-%m-%dT%H:%M:%S");
  std::vector<const Host*> targets;
  for (auto& h : fleet.hosts)
    if (o.hosts.empty() || std::find(o.hosts.begin(), o.hosts.end(), h.name) != o.hosts.end()) targets.push_back(&h);
  for (auto& want : o.hosts)
    if (!fleet.find(want)) throw std::invalid_argument("--hosts: " + want + " is not a host of " + fleet.path.string());

  auto dir = o.out.empty() ? fs::path("proofs") / ("harvest-" + utc_stamp()) : o.out;
  proofs::BundleWriter bundle(dir, "harvest", {{"fleet", fleet.name}, {"since", o.since}, {"since_utc", since_iso},
                                               {"inventory", fleet.path.string()},
                                               {"inventory_sha256", fs::exists(fleet.path) ? sha256_file(fleet.path) : ""}});
  auto access = make_api_access(fleet, {o.accept_new_host_keys});
  std::mutex access_mu;
  // Machine facts, once per machine ("local", or address:ssh_port).
  std::mutex machines_mu;
  std::map<std::string, std::shared_ptr<std::pair<std::once_flag, std::string>>> machines;
  auto machine_facts = [&](const Host& h, const std::function<std::string(const std::string&)>& run) {
    std::shared_ptr<std::pair<std::once_flag, std::string>> m;
    {
      std::lock_guard lk(machines_mu);
      auto& slot = machines[h.transport == "local" ? std::string("local") : h.address + ":" + std::to_string(h.ssh_port)];
      if (!slot) slot = std::make_shared<std::pair<std::once_flag, std::string>>();
      m = slot;
    }
    std::call_once(m->first, [&] { m->second = run(machine_facts_script(h)); });
    return m->second;
  };
  std::vector<NodeRow> rows(targets.size());
  // A host that cannot be reached is recorded in its row (caught inside);
  // what escapes (the bundle cannot be written) ends the harvest.
  parallel_for(targets.size(), o.parallel, [&](std::size_t k) {
    const Host& h = *targets[k];
    NodeRow& row = rows[k];
    row.name = h.name;
    auto base = "harvest/" + h.name + "/";
    json status = {{"host", h.name}, {"transport", h.transport}};
    // API diagnostics.
    try {
      ApiEndpoint ep;
      {
        std::lock_guard lk(access_mu);
        ep = access->open(h);
        bundle.redactor().add_secret(ep.token);
      }
      probes::RestClient c(ep.base_url, ep.token, o.request_timeout);
      json fetched = json::object();
      for (auto& [path, file] : kEndpoints) {
        try {
          auto r = c.get(path);
          auto j = json::parse(r.body, nullptr, false);
          bundle.write_text(base + file, j.is_discarded() ? r.body : j.dump(2) + "\n");
          fetched[path] = r.status;
          if (std::string(path) == "/health" && j.is_object()) {
            row.version = j.value("version", "");
            row.peers = j.value("peers", -1L);
          }
          if (std::string(path) == "/diagnostics/gossip" && j.is_object()) {
            row.timed_out = u64_at(j, "/dispatcher/pubsub/timed_out"_json_pointer);
            row.dropped_full = u64_at(j, "/recv_pump/pubsub/dropped_full"_json_pointer);
            row.per_peer_timeouts = u64_at(j, "/pubsub_stages/republish_per_peer_timeout"_json_pointer);
            auto sp = j.contains("pubsub_stages") ? j["pubsub_stages"].value("suppressed_peers", json::array()) : json::array();
            row.suppressed = sp.size();
            auto scores = j.contains("pubsub_stages") ? j["pubsub_stages"].value("peer_scores", json::array()) : json::array();
            std::sort(scores.begin(), scores.end(), [](auto& a, auto& b) {
              return a.value("outbound_send_timeouts", 0.0) > b.value("outbound_send_timeouts", 0.0);
            });
            for (std::size_t i = 0; i < scores.size() && i < 3; ++i)
              if (scores[i].value("outbound_send_timeouts", 0.0) > 0)
                row.top_peers.push_back({{"peer_id", scores[i].value("peer_id", "")},
                                         {"topic", scores[i].value("topic", "")},
                                         {"outbound_send_timeouts", scores[i].value("outbound_send_timeouts", 0.0)}});
          }
        } catch (const std::exception& e) {
          fetched[path] = std::string("error: ") + e.what();
        }
      }
      status["api"] = fetched;
      row.reached = fetched["/health"].is_number();
      if (!row.reached) row.error = fetched["/health"].dump();
    } catch (const std::exception& e) {
      row.error = e.what();
      status["api"] = {{"error", row.error}};
    }
    // Logs and host facts, on the host itself. Logs: the units' journal
    // on systemd hosts (already cut to the window by --since) and the log
    // files; which sources gave lines is recorded.
    try {
      std::string journal, files, facts;
      json sources = json::array();
      json journal_status;
      auto add_file = [&](const std::string& path, std::string text) {
        if (text.empty()) return;
        sources.push_back({{"source", "log-file"}, {"path", path}, {"bytes", text.size()}});
        files += text;
        if (files.back() != '\n') files += '\n';
      };
      if (h.transport == "local") {
        for (auto& p : log_candidates(h)) add_file(p, read_local(p, 64u << 20));
        facts = machine_facts(h, run_local_script) + run_local_script(facts_script(h));
      } else {
        auto remote = ssh_connect(ssh_target_of(h, o.accept_new_host_keys));
        if (reads_journal(h)) {
          auto cmd = journal_command(h, since_secs);
          auto j = remote->exec(cmd, std::chrono::seconds(60));
          auto lines = content_lines(j.out);
          journal_status = {{"command", cmd}, {"exit_code", j.exit_code}, {"lines", lines}};
          if (j.exit_code == 0 && lines > 0) {
            journal = j.out;
            sources.push_back({{"source", "journal"}, {"units", {systemd_unit_name(h, Service::node), systemd_unit_name(h, Service::runner)}},
                               {"lines", lines}});
          } else {
            journal_status["fallback"] = j.exit_code != 0 ? "journalctl failed: " + one_line(j.err.empty() ? j.out : j.err, 200)
                                                          : std::string("no journal entries in the window");
          }
        }
        for (auto& p : log_candidates(h)) {
          auto r = remote->exec("tail -c 67108864 " + shell_quote(p) + " 2>/dev/null", std::chrono::seconds(30));
          add_file(p, r.out);
        }
        auto remote_sh = [&](const std::string& script) { return remote->exec("sh -s", std::chrono::seconds(30), script).out; };
        facts = machine_facts(h, remote_sh) + remote_sh(facts_script(h));
      }
      auto counts = probes::count_log_patterns(journal, probes::default_log_patterns());
      add_counts(counts, probes::count_log_patterns(files, probes::default_log_patterns(), since_iso));
      row.warnings = counts.counts["warnings"];
      row.errors = counts.counts["errors"];
      auto counts_json = counts.to_json();
      counts_json["sources"] = sources;
      bundle.write_json(base + "grep-counts.json", counts_json);
      bundle.write_text(base + "host.txt", facts);
      bundle.write_json(base + "facts.json", parse_facts(facts));
      std::string source;
      for (auto& s : sources) {
        auto name = s["source"].get<std::string>();
        if (source.find(name) == std::string::npos) source += (source.empty() ? "" : "+") + name;
      }
      status["logs"] = {{"lines_in_window", counts.lines_in_window}, {"source", source.empty() ? "none" : source}, {"sources", sources}};
      if (!journal_status.is_null()) status["logs"]["journal"] = journal_status;
    } catch (const std::exception& e) {
      status["logs"] = {{"error", e.what()}};
    }
    status["reached"] = row.reached;
    if (!row.error.empty()) status["error"] = row.error;
    bundle.write_json(base + "status.json", status);
    bundle.checkpoint();
  });

  HarvestResult res;
  res.bundle = dir;
  std::vector<NodeRow*> ranked;
  for (auto& r : rows) {
    (r.reached ? res.reached : res.unreachable)++;
    if (!r.reached) res.unreachable_hosts.push_back(r.name);
    ranked.push_back(&r);
  }
  std::sort(ranked.begin(), ranked.end(), [](auto* a, auto* b) { return a->score() > b->score(); });
  std::ostringstream md;
  md << "# Harvest " << fleet.name << "\n\nWindow: logs since " << since_iso << "Z (" << o.since << "). "
     << res.reached << " node(s) reached, " << res.unreachable << " unreachable.\n\n";
  if (res.unreachable) {
    md << "## Unreachable\n\n";
    for (auto& r : rows)
      if (!r.reached) md << "- **" << r.name << "**: " << r.error << "\n";
    md << "\n";
  }
  md << "## Nodes, most suspicious first\n\n| node | version | peers | dispatcher timed_out | dropped_full | per-peer timeouts | suppressed | log warnings | log errors | top per-peer timeout sources |\n|---|---|---|---|---|---|---|---|---|---|\n";
  json summary_rows = json::array();
  for (auto* r : ranked) {
    std::string top;
    for (auto& p : r->top_peers) top += fmt::format("{} ({:.0f}) ", p["peer_id"].get<std::string>(), p["outbound_send_timeouts"].get<double>());
    md << "| " << r->name << " | " << (r->reached ? r->version : "unreachable") << " | " << r->peers << " | " << r->timed_out
       << " | " << r->dropped_full << " | " << r->per_peer_timeouts << " | " << r->suppressed << " | " << r->warnings << " | "
       << r->errors << " | " << (top.empty() ? "-" : top) << " |\n";
    summary_rows.push_back({{"node", r->name}, {"reached", r->reached}, {"version", r->version}, {"peers", r->peers},
                            {"dispatcher_timed_out", r->timed_out}, {"dropped_full", r->dropped_full},
                            {"per_peer_timeouts", r->per_peer_timeouts}, {"suppressed", r->suppressed},
                            {"top_peers", r->top_peers}, {"error", r->error}});
  }
  bundle.write_text("summary.md", md.str());
  bundle.set("nodes", summary_rows);
  bundle.finish(res.unreachable ? 1 : 0);
  return res;
}

}  // namespace x0x::orchestrator
