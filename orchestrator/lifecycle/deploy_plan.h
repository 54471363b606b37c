// The pure half of `x0xctl deploy`: what goes where, computed locally before
// any host is touched — the artefacts (sha256, size, version), the rendered
// per-host files (node config, runner env, service-manager files), the waves.
#pragma once
#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "orchestrator/control/inventory.h"
#include "orchestrator/lifecycle/service_manager.h"

namespace x0x::orchestrator {

// A usage or inventory problem found while planning (exit 2).
class DeployUsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Artefact {
  std::filesystem::path path;
  std::string sha256;    // lowercase hex
  std::uintmax_t size = 0;
  std::string version;   // last word of `<path> --version`
  std::filesystem::path source;  // the operator's file when `path` is a stripped copy of it
};


// Hashes the file and runs `<path> --version` (10 s limit); the version is the
// last word of its first line. DeployUsageError when the file is missing, not
// executable, or prints no version (unless version_override is given).
Artefact inspect_artefact(const std::filesystem::path& path, const std::string& version_override = {});

// `--strip`: a copy of the artefact without debug sections (`strip
// --strip-debug`, symbols kept for backtraces) in out_dir, inspected like the
// original; source names the original. Only on request: the operator's file
// is what deploys otherwise. DeployUsageError when strip fails.
Artefact strip_artefact(const Artefact& original, const std::filesystem::path& out_dir,
                        const std::string& version_override = {});

// "1,25%,100%" over n hosts → wave sizes, e.g. n=8: {1, 1, 6}. Entries are
// cumulative host counts or percentages (rounded up); empty waves are dropped
// and hosts left after the last entry form one more wave. std::invalid_argument on a bad entry.
std::vector<std::size_t> parse_waves(const std::string& spec, std::size_t n);

// Where this host's peers find it: the gossip_addr with an unspecified host
// (0.0.0.0, ::) replaced by the host's address.
std::string reachable_gossip_addr(const Host& host);
// The bootstrap peers of `host`: the reachable gossip addresses of the hosts
// with role "bootstrap" (or, when none has it, the first host), itself excluded.
std::vector<std::string> bootstrap_peers_for(const Fleet& fleet, const Host& host);

// The node's config.toml: api_address = api_addr, bind_address = gossip_addr,
// data_dir, instance_name = host name, log_level, bootstrap_peers. With a
// template, its content is kept and these keys override it (as top-level keys,
// before any [section]). DeployUsageError when the template is not TOML.
std::string render_node_config(const Fleet& fleet, const Host& host, const HostLayout& layout,
                               const std::string& template_text, const std::string& template_name,
                               const std::string& log_level);

// The runner's environment file (sh- and systemd-compatible, values quoted):
// NODE_NAME, X0X_API_BASE, X0X_API_TOKEN (the token FILE path), LOG_LEVEL, and
// X0X_RUNNER_TRUSTED_AGENTS when trusted_agents is not empty (without it the
// runner trusts the first orchestrator that discovers it).
std::string render_runner_env(const Host& host, const HostLayout& layout, const std::string& log_level,
                              const std::string& trusted_agents = {});

// The node API as reached from the host itself: api_addr with an unspecified
// host replaced by loopback. {host, port}.
std::pair<std::string, std::uint16_t> api_target(const Host& host);

// One file deploy manages on a host.
struct ManagedFile {
  std::string key;                  // "node", "runner", "config", "runner_env", "supervisor", "unit:node", "unit:runner"
  std::string remote_path;          // absolute, on the host
  std::filesystem::path local;      // what is uploaded (artefacts; rendered files once materialised)
  std::string content;              // rendered files: the bytes (empty for artefacts)
  std::uintmax_t size = 0;          // artefacts: bytes
  bool rendered = false;
  unsigned mode = 0644;
  std::string sha256;               // target
  std::string installed_sha256;     // what the host has ("" = absent; filled by the plan)
  bool changed() const { return sha256 != installed_sha256; }
};

// Every file for a host, with target hashes (installed hashes still empty).
std::vector<ManagedFile> managed_files(const Fleet& fleet, const Host& host, const HostLayout& layout,
                                       const ServiceManager& sm, const Artefact& binary,
                                       const std::optional<Artefact>& runner, const std::string& template_text,
                                       const std::string& template_name, const std::string& log_level,
                                       const std::string& runner_trusted_agents = {});

}  // namespace x0x::orchestrator
