#include "orchestrator/lifecycle/local_mesh.h"

#include "core/text.h"

#include "core/atomic_file.h"
#include "core/process.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>

#include <nlohmann/json.hpp>

#include "orchestrator/lifecycle/node_config_toml.h"
#include "probes/rest_client.h"

namespace x0x::orchestrator {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::string_view kRunMarker = "=== LocalMesh: start ";
constexpr auto kStopGrace = 5s;
constexpr auto kPollInterval = 50ms;

// Trimmed file contents, nullopt when the file does not exist / can't be read.
std::optional<std::string> read_trimmed(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return trim(ss.str());
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "127.0.0.1:40124" (or "40124", "[::1]:40124", "0.0.0.0:40124") -> "http://127.0.0.1:40124".
// nullopt while the contents don't look like a complete address.
std::optional<std::string> api_base_from(std::string s) {
  if (s.rfind("http://", 0) == 0) {
    while (!s.empty() && s.back() == '/') s.pop_back();
    return s;
  }
  if (all_digits(s)) s = "127.0.0.1:" + s;
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string host = s.substr(0, colon);
  const std::string port = s.substr(colon + 1);
  if (!all_digits(port) || port.size() > 5 || std::stoi(port) < 1 || std::stoi(port) > 65535) return std::nullopt;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::" || host == "[::]") host = "[::1]";
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  return "http://" + host + ":" + port;
}

std::string now_text() {
  const std::time_t t = std::time(nullptr);
  char buf[64];
  std::tm tm{};
  ::localtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

void sleep_until_or(Clock::time_point deadline, std::chrono::milliseconds step) {
  const auto now = Clock::now();
  if (now >= deadline) return;
  std::this_thread::sleep_for(std::min<Clock::duration>(step, deadline - now));
}

}  // namespace

std::string LocalMesh::default_name(std::size_t i) {
  static const char* const names[] = {"nyc", "sfo", "helsinki", "nuremberg", "singapore", "sydney"};
  if (i < std::size(names)) return names[i];
  return "node-" + std::to_string(i + 1);
}

LocalMesh::LocalMesh(Options opts) : opts_(std::move(opts)) {
  if (opts_.nodes <= 0) throw std::invalid_argument("local mesh: nodes must be > 0");
  if (opts_.names.size() > static_cast<std::size_t>(opts_.nodes))
    throw std::invalid_argument("local mesh: " + std::to_string(opts_.names.size()) + " names given for " +
                                std::to_string(opts_.nodes) + " nodes");
  if (opts_.root_dir.empty()) throw std::invalid_argument("local mesh: root_dir is empty");
  if (opts_.node_binary.empty()) throw std::invalid_argument("local mesh: node_binary is empty");

  // Resolve the binary once: nodes run with their own folder as cwd.
  if (!opts_.node_binary.has_parent_path()) {
    const auto found = find_program(opts_.node_binary.string());
    if (found.empty())
      throw std::runtime_error("local mesh: node binary '" + opts_.node_binary.string() + "' not found in PATH");
    opts_.node_binary = found.string();
  } else {
    opts_.node_binary = fs::absolute(opts_.node_binary);
  }
  if (!fs::is_regular_file(opts_.node_binary) || ::access(opts_.node_binary.c_str(), X_OK) != 0)
    throw std::runtime_error("local mesh: node binary '" + opts_.node_binary.string() +
                             "' is not an executable file");

  opts_.root_dir = fs::absolute(opts_.root_dir);
  const auto count = static_cast<std::size_t>(opts_.nodes);
  std::set<std::string> seen;
  nodes_.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    LocalNode& n = nodes_[i];
    n.name = i < opts_.names.size() ? opts_.names[i] : LocalMesh::default_name(i);
    if (n.name.empty() || n.name == "." || n.name == ".." ||
        n.name.find_first_of("/\\") != std::string::npos)
      throw std::invalid_argument("local mesh: bad node name '" + n.name + "'");
    if (!seen.insert(n.name).second)
      throw std::invalid_argument("local mesh: duplicate node name '" + n.name + "'");
    n.dir = opts_.root_dir / n.name;
    n.data_dir = n.dir / "data";
    n.config_path = n.dir / "config.toml";
    n.log_path = n.dir / "node.log";
    fs::create_directories(n.data_dir);
  }
  exit_status_.assign(count, -1);
  runs_.assign(count, 0);
}

LocalMesh::~LocalMesh() {
  try {
    stop_all();
  } catch (...) {
    // Last resort: SIGKILL whatever is still an un-reaped child of ours.
    for (std::size_t i = 0; i < nodes_.size(); ++i) kill_and_reap(i);
  }
}

LocalNode& LocalMesh::at(std::size_t i) {
  if (i >= nodes_.size())
    throw std::out_of_range("local mesh: node index " + std::to_string(i) + " out of range (" +
                            std::to_string(nodes_.size()) + " nodes)");
  return nodes_[i];
}

std::vector<LocalNode>& LocalMesh::nodes() {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    refresh(i);
    refresh_runner(i);
  }
  return nodes_;
}

const LocalMesh::Options& LocalMesh::options() const { return opts_; }

std::size_t LocalMesh::running_count() {
  std::size_t n = 0;
  for (std::size_t i = 0; i < nodes_.size(); ++i) n += refresh(i) ? 1 : 0;
  return n;
}

bool LocalMesh::refresh(std::size_t i) {
  LocalNode& n = nodes_[i];
  if (!n.running || n.pid <= 0) {
    n.running = false;
    return false;
  }
  const auto st = try_reap(n.pid);
  if (!st) return true;
  // Reaped now, or not our child any more (-1, e.g. SIGCHLD ignored): the
  // PID may be recycled from here on, so forget it.
  exit_status_[i] = *st;
  n.running = false;
  n.pid = -1;
  return false;
}

void LocalMesh::write_config(std::size_t i, const std::vector<std::string>& bootstrap, const std::string& api_addr,
                             const std::string& bind_addr) const {
  const LocalNode& n = nodes_[i];
  NodeConfigKeys keys{api_addr, bind_addr, n.data_dir.string(), n.name, opts_.log_level, bootstrap};
  std::string text;
  try {
    text = render_node_config_toml(keys, opts_.extra_toml, "local mesh extra_toml", "Written by x0x LocalMesh for node " + n.name + ".");
  } catch (const NodeConfigError& e) {
    throw std::invalid_argument(std::string("local mesh: ") + e.what());
  }
  write_file_atomically(n.config_path, text);
}

void LocalMesh::spawn(std::size_t i) {
  LocalNode& n = nodes_[i];
  if (refresh(i)) throw std::logic_error("local mesh: node '" + n.name + "' is already running");

  // Never read the previous run's addresses.
  std::error_code ec;
  fs::remove(n.data_dir / "api.port", ec);
  fs::remove(n.data_dir / "mesh.addr", ec);
  n.api_base.clear();
  n.mesh_addr.clear();
  n.token.clear();

  std::unique_ptr<FILE, int (*)(FILE*)> log(std::fopen(n.log_path.c_str(), "ae"), &std::fclose);
  if (!log) throw std::runtime_error("local mesh: cannot open " + n.log_path.string() + ": " + std::strerror(errno));
  ++runs_[i];
  std::fprintf(log.get(), "\n%.*s#%d of %s at %s: %s --config %s --no-hard-coded-bootstrap ===\n",
               static_cast<int>(kRunMarker.size()), kRunMarker.data(), runs_[i], n.name.c_str(),
               now_text().c_str(), opts_.node_binary.c_str(), n.config_path.c_str());
  std::fflush(log.get());

  n.pid = spawn_child(opts_.node_binary.string(), {"--config", n.config_path.string(), "--no-hard-coded-bootstrap"}, {},
                      n, n.log_path, "node");
  n.running = true;
  exit_status_[i] = -1;
}

int LocalMesh::spawn_child(const std::string& exe, const std::vector<std::string>& args,
                           const std::vector<std::pair<std::string, std::string>>& env, const LocalNode& n,
                           const fs::path& log_path, const std::string& what) {
  ProcessSpec spec;
  spec.argv.push_back(exe);
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.env = env;
  spec.cwd = n.dir;
  spec.in = Stdio::null();
  spec.out = Stdio::append_to(log_path);
  spec.err = Stdio::same_as_stdout();
  spec.new_session = opts_.detached;  // detached: no terminal hang-up reaches it
  // A terminal's Ctrl-C reaches the foreground group: only x0xctl must see it,
  // so it can finish its step and stop the fleet in order (a soak's window is
  // not lost to a node killed under it; spec gates-and-proofs.md §9.1 item 8).
  spec.new_process_group = !opts_.detached;
  spec.die_with_parent = opts_.kill_on_parent_exit && !opts_.detached;
  try {
    // From here on the PID is ours to manage (waitpid).
    int pid = spawn_process(spec).pid;
    // The pidfile a plain host's supervisor keeps (<root>/run/<service>.pid):
    // the harvest reads each process's RSS and CPU time through it.
    std::error_code ec;
    fs::create_directories(n.dir / "run", ec);
    std::ofstream(n.dir / "run" / (what + ".pid"), std::ios::trunc) << pid << "\n";
    return pid;
  } catch (const ProcessError& e) {
    throw std::runtime_error("local mesh: cannot start " + what + " for '" + n.name + "': " + e.what());
  }
}

std::string LocalMesh::log_tail(std::size_t i, std::size_t max_bytes) const {
  if (i >= nodes_.size()) return {};
  std::ifstream in(nodes_[i].log_path, std::ios::binary | std::ios::ate);
  if (!in) return "<no log at " + nodes_[i].log_path.string() + ">";
  const std::streamoff size = in.tellg();
  const std::streamoff window = std::max<std::streamoff>(static_cast<std::streamoff>(max_bytes), 256 * 1024);
  const std::streamoff from = size > window ? size - window : 0;
  in.seekg(from);
  std::string text(static_cast<std::size_t>(size - from), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  // Only the latest run.
  if (const auto m = text.rfind(kRunMarker); m != std::string::npos) text.erase(0, m);
  if (text.size() > max_bytes) {
    text.erase(0, text.size() - max_bytes);
    if (const auto nl = text.find('\n'); nl != std::string::npos) text.erase(0, nl + 1);
    text.insert(0, "[…]\n");
  }
  return text;
}

void LocalMesh::fail(std::size_t i, const std::string& what) {
  const LocalNode& n = nodes_[i];
  std::string tail = log_tail(i);
  while (!tail.empty() && tail.back() == '\n') tail.pop_back();
  throw std::runtime_error("local mesh: node '" + n.name + "' " + what + "\n--- end of " + n.log_path.string() +
                           " ---\n" + tail + "\n---");
}

void LocalMesh::wait_ready(const std::vector<std::size_t>& which, std::chrono::milliseconds timeout) {
  struct Pending {
    std::size_t i;
    int pid;
    std::unique_ptr<probes::RestClient> client;
    std::string base;
    std::string last = "no api.port yet";
  };
  std::vector<Pending> pending;
  for (std::size_t i : which) pending.push_back({i, nodes_[i].pid, nullptr, {}});
  const auto deadline = Clock::now() + timeout;

  while (true) {
    for (auto it = pending.begin(); it != pending.end();) {
      LocalNode& n = nodes_[it->i];
      if (!refresh(it->i))
        fail(it->i, "(pid " + std::to_string(it->pid) + ") " + describe_wait_status(exit_status_[it->i]) +
                        " before serving its API");
      const auto port = read_trimmed(n.data_dir / "api.port");
      if (!port) {
        ++it;
        continue;
      }
      const auto base = api_base_from(*port);
      if (!base) {
        it->last = "api.port holds '" + *port + "'";
        ++it;
        continue;
      }
      if (!it->client || it->base != *base) {
        it->client = std::make_unique<probes::RestClient>(*base, std::string{}, 1000ms);
        it->base = *base;
      }
      try {
        const auto r = it->client->get("/health");
        const auto j = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
        const auto ok = j.is_object() ? j.find("ok") : j.end();
        const bool healthy = r.ok() && j.is_object() && (ok == j.end() || (ok->is_boolean() && ok->get<bool>()));
        if (healthy) {
          const auto mesh = read_trimmed(n.data_dir / "mesh.addr");
          const auto token = read_trimmed(n.data_dir / "api-token");
          if (mesh && !mesh->empty() && token && !token->empty()) {
            // The identity its runner and the other nodes' runners trust as an anchor.
            probes::RestClient authed(*base, *token, 1000ms);
            const auto a = nlohmann::json::parse(authed.get("/agent").body, nullptr, /*allow_exceptions=*/false);
            if (a.is_object() && a.contains("agent_id") && a["agent_id"].is_string()) {
              n.api_base = *base;
              n.mesh_addr = *mesh;
              n.token = *token;
              n.agent_id = a["agent_id"].get<std::string>();
              it = pending.erase(it);
              continue;
            }
            it->last = "healthy, but GET /agent names no agent_id";
            ++it;
            continue;
          }
          it->last = std::string("healthy, but ") + (mesh && !mesh->empty() ? "api-token" : "mesh.addr") +
                     " is missing or empty";
        } else {
          it->last = "GET " + *base + "/health: HTTP " + std::to_string(r.status) + ": " +
                     probes::detail::snippet(r.body, 200);
        }
      } catch (const probes::ProbeError& e) {
        it->last = e.what();
      }
      ++it;
    }
    if (pending.empty()) return;
    if (Clock::now() >= deadline) {
      const Pending& p = pending.front();
      fail(p.i, "(pid " + std::to_string(p.pid) + ") not ready after " + std::to_string(timeout.count()) +
                    " ms (" + std::to_string(pending.size()) + " node(s) pending); last: " + p.last);
    }
    sleep_until_or(deadline, kPollInterval);
  }
}

void LocalMesh::start() {
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (refresh(i)) throw std::logic_error("local mesh: start(): node '" + nodes_[i].name + "' is already running");
  try {
    write_config(0, {});
    spawn(0);
    wait_ready({0}, opts_.start_timeout);
    std::vector<std::size_t> rest;
    for (std::size_t i = 1; i < nodes_.size(); ++i) {
      write_config(i, {nodes_[0].mesh_addr});
      spawn(i);
      rest.push_back(i);
    }
    if (!rest.empty()) wait_ready(rest, opts_.start_timeout);
    if (!opts_.runner_binary.empty())
      for (std::size_t i = 0; i < nodes_.size(); ++i) start_runner(i);
  } catch (...) {
    try {
      stop_all();
    } catch (...) {
      // The start failure is what the caller must see; the destructor stops what is left.
    }
    throw;
  }
}

void LocalMesh::restart_node(std::size_t i) {
  LocalNode& n = at(i);
  if (refresh(i)) stop_node(i);
  std::vector<std::string> bootstrap;
  if (i != 0 && !nodes_[0].mesh_addr.empty()) bootstrap.push_back(nodes_[0].mesh_addr);
  if (!n.api_base.empty() && !n.mesh_addr.empty())
    write_config(i, bootstrap, n.api_base.substr(std::string("http://").size()), n.mesh_addr);  // same ports again
  else if (!fs::exists(n.config_path))
    write_config(i, bootstrap);
  spawn(i);
  try {
    wait_ready({i}, opts_.start_timeout);
  } catch (...) {
    try {
      terminate({i}, kStopGrace);
    } catch (...) {
      // As in start(): the readiness failure is the error to report.
    }
    throw;
  }
}

void LocalMesh::terminate(const std::vector<std::size_t>& which, std::chrono::milliseconds grace) {
  std::vector<std::size_t> live;
  for (std::size_t i : which)
    if (refresh(i)) {
      send_signal(nodes_[i].pid, SIGTERM);  // an un-reaped child of ours: the PID can't be recycled
      live.push_back(i);
    }
  const auto deadline = Clock::now() + grace;
  while (!live.empty()) {
    std::erase_if(live, [&](std::size_t i) { return !refresh(i); });
    if (live.empty() || Clock::now() >= deadline) break;
    sleep_until_or(deadline, 10ms);
  }
  for (std::size_t i : live) kill_and_reap(i);
}

void LocalMesh::kill_and_reap(std::size_t i) noexcept {
  if (!refresh(i)) return;
  LocalNode& n = nodes_[i];
  send_signal(n.pid, SIGKILL);
  exit_status_[i] = reap(n.pid);
  n.running = false;
  n.pid = -1;
}

bool LocalMesh::refresh_runner(std::size_t i) {
  LocalNode& n = nodes_[i];
  if (!n.runner_running || n.runner_pid <= 0) return n.runner_running = false;
  if (!try_reap(n.runner_pid)) return true;
  n.runner_running = false;
  n.runner_pid = -1;
  return false;
}

void LocalMesh::start_runner(std::size_t i) { start_runner(i, {}); }

void LocalMesh::start_runner(std::size_t i, const std::vector<std::pair<std::string, std::string>>& env_overrides) {
  LocalNode& n = at(i);
  if (opts_.runner_binary.empty()) throw std::logic_error("local mesh: no runner binary configured");
  if (refresh_runner(i)) throw std::logic_error("local mesh: runner of '" + n.name + "' is already running");
  if (!refresh(i) || n.api_base.empty()) throw std::logic_error("local mesh: node '" + n.name + "' is not serving");
  n.runner_log_path = n.dir / "runner.log";
  std::string trusted;
  for (auto& other : nodes_)
    if (!other.agent_id.empty()) trusted += (trusted.empty() ? "" : ",") + other.agent_id;
  // The token travels as a file path, never on a command line.
  std::vector<std::pair<std::string, std::string>> env = {{"NODE_NAME", n.name},
                                                          {"X0X_API_BASE", n.api_base},
                                                          {"X0X_API_TOKEN", (n.data_dir / "api-token").string()},
                                                          {"LOG_LEVEL", "INFO"},
                                                          {"X0X_RUNNER_TRUSTED_AGENTS", trusted}};
  for (auto& [key, value] : env_overrides) {
    auto it = std::find_if(env.begin(), env.end(), [&](auto& kv) { return kv.first == key; });
    if (it != env.end()) it->second = value;
    else env.emplace_back(key, value);
  }
  n.runner_pid = spawn_child(fs::absolute(opts_.runner_binary).string(), {}, env, n, n.runner_log_path, "runner");
  n.runner_running = true;
}

void LocalMesh::stop_runner(std::size_t i) {
  LocalNode& n = at(i);
  if (!refresh_runner(i)) return;
  send_signal(n.runner_pid, SIGTERM);
  const auto deadline = Clock::now() + kStopGrace;
  while (refresh_runner(i) && Clock::now() < deadline) sleep_until_or(deadline, 10ms);
  kill_runner(i);
}

void LocalMesh::kill_runner(std::size_t i) {
  LocalNode& n = at(i);
  if (!refresh_runner(i)) return;
  send_signal(n.runner_pid, SIGKILL);
  reap(n.runner_pid);
  n.runner_running = false;
  n.runner_pid = -1;
}

void LocalMesh::release() {
  for (auto& n : nodes_) {
    n.running = n.runner_running = false;
    n.pid = n.runner_pid = -1;
  }
}

void LocalMesh::stop_node(std::size_t i) {
  at(i);
  terminate({i}, kStopGrace);
}

void LocalMesh::kill_node(std::size_t i) {
  at(i);
  kill_and_reap(i);  // no SIGTERM first: a crash, not a shutdown
}

void LocalMesh::stop_all() {
  for (std::size_t i = 0; i < nodes_.size(); ++i) stop_runner(i);  // runners first: they depend on their node
  std::vector<std::size_t> all(nodes_.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  terminate(all, kStopGrace);
}

bool LocalMesh::wait_mesh_formed(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::vector<std::unique_ptr<probes::RestClient>> clients(nodes_.size());
  while (true) {
    std::vector<std::size_t> running;
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (refresh(i)) running.push_back(i);
    if (!running.empty()) {
      const auto want = static_cast<std::int64_t>(running.size()) - 1;
      bool formed = true;
      for (std::size_t i : running) {
        const LocalNode& n = nodes_[i];
        if (n.api_base.empty()) {
          formed = false;
          break;
        }
        auto& c = clients[i];
        if (!c || c->base_url() != n.api_base)
          c = std::make_unique<probes::RestClient>(n.api_base, n.token, 1000ms);
        try {
          const auto r = c->get("/health");
          const auto j = nlohmann::json::parse(r.body, nullptr, false);
          const auto p = j.is_object() ? j.find("peers") : j.end();
          if (!r.ok() || p == j.end() || !p->is_number_integer() || p->get<std::int64_t>() < want) {
            formed = false;
            break;
          }
        } catch (const probes::ProbeError&) {
          formed = false;
          break;
        }
      }
      if (formed) return true;
    }
    if (Clock::now() >= deadline) return false;
    sleep_until_or(deadline, 100ms);
  }
}

}  // namespace x0x::orchestrator
