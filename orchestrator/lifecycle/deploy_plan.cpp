#include "orchestrator/lifecycle/deploy_plan.h"

#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "core/encoding.h"
#include "core/process.h"
#include "core/sha256.h"
#include "core/socket_addr.h"
#include "orchestrator/control/ssh_remote.h"
#include "orchestrator/lifecycle/node_config_toml.h"

namespace x0x::orchestrator {

namespace fs = std::filesystem;

namespace {

// Runs argv (no shell) with a deadline; returns {exit code, stdout}.
std::pair<int, std::string> run_program(std::vector<std::string> args, std::chrono::milliseconds limit) {
  ProcessSpec spec;
  spec.argv = args;
  spec.in = Stdio::null();
  spec.out = Stdio::pipe();
  spec.err = Stdio::null();
  ProcessResult r;
  try {
    r = run_process(spec, limit, 65536);
  } catch (const ProcessError&) {
    return {127, ""};  // as a shell would say: not found / cannot run
  }
  if (r.timed_out) throw DeployUsageError(args[0] + " " + args[1] + ": no answer within " + std::to_string(limit.count() / 1000) + " s");
  return {r.exit_code(), r.out};
}

std::string unspecified_to(const SocketAddr& a, const std::string& replacement) {
  if (a.host == "0.0.0.0" || a.host == "::") {
    SocketAddr b = a;
    b.host = replacement;
    return b.to_string();
  }
  return a.to_string();
}

}  // namespace

Artefact inspect_artefact(const fs::path& path, const std::string& version_override) {
  Artefact a;
  std::error_code ec;
  a.path = fs::absolute(path, ec);
  if (ec || !fs::is_regular_file(a.path)) throw DeployUsageError(path.string() + ": no such file");
  if (::access(a.path.c_str(), X_OK) != 0) throw DeployUsageError(path.string() + ": not executable");
  a.size = fs::file_size(a.path);
  try {
    a.sha256 = sha256_file(a.path);
  } catch (const std::runtime_error& e) {
    throw DeployUsageError(e.what());
  }
  if (!version_override.empty()) {
    a.version = version_override;
    return a;
  }
  auto [rc, out] = run_program({a.path.string(), "--version"}, std::chrono::seconds(10));
  auto first = out.substr(0, out.find('\n'));
  std::istringstream words(first);
  std::string w, last;
  while (words >> w) last = w;
  if (rc != 0 || last.empty())
    throw DeployUsageError(path.string() + " --version: " + (rc != 0 ? "exit " + std::to_string(rc) : std::string("no output")) +
                           " (give the version with --expect-version when the binary cannot run here)");
  a.version = last;
  return a;
}

Artefact strip_artefact(const Artefact& original, const fs::path& out_dir, const std::string& version_override) {
  fs::create_directories(out_dir);
  auto out = out_dir / (original.path.filename().string() + ".stripped");
  auto [rc, text] = run_program({"strip", "--strip-debug", "-o", out.string(), original.path.string()}, std::chrono::seconds(120));
  if (rc != 0)
    throw DeployUsageError("--strip: `strip --strip-debug " + original.path.string() + "` failed (exit " + std::to_string(rc) +
                           (rc == 127 ? ": is binutils installed?" : "") + ")");
  fs::permissions(out, fs::status(original.path).permissions());
  auto a = inspect_artefact(out, version_override.empty() ? original.version : version_override);
  a.source = original.path;
  return a;
}

std::vector<std::size_t> parse_waves(const std::string& spec, std::size_t n) {
  std::vector<std::size_t> sizes;
  if (n == 0) return sizes;
  std::size_t done = 0;
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto trim = [](std::string s) {
      while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
      while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
      return s;
    };
    item = trim(item);
    if (item.empty()) throw std::invalid_argument("--waves: empty entry in \"" + spec + "\"");
    std::size_t target;
    try {
      std::size_t pos = 0;
      if (item.back() == '%') {
        double pct = std::stod(item.substr(0, item.size() - 1), &pos);
        if (pos != item.size() - 1 || pct <= 0 || pct > 100) throw std::invalid_argument("");
        target = static_cast<std::size_t>(std::ceil(pct * static_cast<double>(n) / 100.0 - 1e-9));
      } else {
        long v = std::stol(item, &pos);
        if (pos != item.size() || v <= 0) throw std::invalid_argument("");
        target = static_cast<std::size_t>(v);
      }
    } catch (const std::exception&) {
      throw std::invalid_argument("--waves: \"" + item + "\" is not a host count (>= 1) or a percentage (1%..100%)");
    }
    target = std::min(target, n);
    if (target > done) {
      sizes.push_back(target - done);
      done = target;
    }
  }
  if (done < n) sizes.push_back(n - done);  // the rest: one more wave
  return sizes;
}

std::string reachable_gossip_addr(const Host& host) {
  auto a = parse_socket_addr(host.gossip_addr);
  if (!a) return host.gossip_addr;
  return unspecified_to(*a, host.address);
}

std::vector<std::string> bootstrap_peers_for(const Fleet& fleet, const Host& host) {
  std::vector<const Host*> boot;
  for (auto& h : fleet.hosts)
    for (auto& r : h.roles)
      if (r == "bootstrap") {
        boot.push_back(&h);
        break;
      }
  if (boot.empty() && !fleet.hosts.empty()) boot.push_back(&fleet.hosts.front());
  std::vector<std::string> out;
  for (auto* b : boot)
    if (b->name != host.name && !b->gossip_addr.empty()) out.push_back(reachable_gossip_addr(*b));
  return out;
}

std::pair<std::string, std::uint16_t> api_target(const Host& host) {
  auto a = parse_socket_addr(host.api_addr);
  if (!a) throw DeployUsageError(host.name + ": api_addr \"" + host.api_addr + "\" is not host:port");
  std::string h = a->host;
  if (h == "0.0.0.0") h = "127.0.0.1";
  else if (h == "::") h = "::1";
  return {h, a->port};
}

std::string render_node_config(const Fleet& fleet, const Host& host, const HostLayout& layout,
                               const std::string& template_text, const std::string& template_name,
                               const std::string& log_level) {
  if (host.gossip_addr.empty())
    throw DeployUsageError(fleet.path.string() + ":" + std::to_string(host.line) + ": host (" + host.name +
                           ").gossip_addr: required for deploy (the node's mesh bind address)");
  NodeConfigKeys keys{host.api_addr, host.gossip_addr, layout.data_dir, host.name, log_level, bootstrap_peers_for(fleet, host)};
  std::string header = "Rendered by x0xctl deploy for host " + host.name;
  if (!template_text.empty()) header += " from " + fs::path(template_name).filename().string();
  header += "; the next deploy overwrites it.";
  try {
    return render_node_config_toml(keys, template_text, template_name, header);
  } catch (const NodeConfigError& e) {
    throw DeployUsageError(e.what());
  }
}

std::string render_runner_env(const Host& host, const HostLayout& layout, const std::string& log_level,
                              const std::string& trusted_agents) {
  auto [h, port] = api_target(host);
  auto base = "http://" + SocketAddr{h, port}.to_string();
  // Single-quoted as sh wants it ('\'' for a quote), which systemd's
  // EnvironmentFile= reads the same way; only a line break cannot be carried.
  auto line = [&](const std::string& k, const std::string& v) {
    if (v.find_first_of("\n\r") != std::string::npos)
      throw DeployUsageError(host.name + ": " + k + " value \"" + v + "\" has a line break the env file cannot carry");
    return k + "=" + shell_quote(v) + "\n";
  };
  std::string level = log_level.empty() ? "INFO" : log_level;
  for (auto& c : level) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return "# Rendered by x0xctl deploy for host " + host.name + ". X0X_API_TOKEN is the token FILE, never the token.\n" +
         line("NODE_NAME", host.name) + line("X0X_API_BASE", base) + line("X0X_API_TOKEN", layout.token) +
         line("LOG_LEVEL", level) + (trusted_agents.empty() ? "" : line("X0X_RUNNER_TRUSTED_AGENTS", trusted_agents));
}

std::vector<ManagedFile> managed_files(const Fleet& fleet, const Host& host, const HostLayout& layout,
                                       const ServiceManager& sm, const Artefact& binary,
                                       const std::optional<Artefact>& runner, const std::string& template_text,
                                       const std::string& template_name, const std::string& log_level,
                                       const std::string& runner_trusted_agents) {
  std::vector<ManagedFile> files;
  auto artefact = [&](const char* key, const std::string& remote, const Artefact& a) {
    ManagedFile f;
    f.key = key;
    f.remote_path = remote;
    f.local = a.path;
    f.mode = 0755;
    f.sha256 = a.sha256;
    f.size = a.size;
    files.push_back(std::move(f));
  };
  auto rendered = [&](const std::string& key, const std::string& remote, std::string content, unsigned mode) {
    ManagedFile f;
    f.key = key;
    f.remote_path = remote;
    f.rendered = true;
    f.mode = mode;
    f.sha256 = sha256_hex(content);
    f.content = std::move(content);
    files.push_back(std::move(f));
  };
  artefact("node", layout.node_binary, binary);
  rendered("config", layout.config, render_node_config(fleet, host, layout, template_text, template_name, log_level), 0644);
  if (runner) {
    artefact("runner", layout.runner_binary, *runner);
    rendered("runner_env", layout.runner_env, render_runner_env(host, layout, log_level == "debug" ? "DEBUG" : "INFO", runner_trusted_agents),
             0644);
  }
  for (auto& f : sm.files()) rendered(f.key, f.remote_path, f.content, f.mode);
  return files;
}

}  // namespace x0x::orchestrator
