// A mesh of x0x-lean-node processes on loopback: used by the integration tests
// and by `x0xctl`'s quickstart demo.
//
// Layout under Options::root_dir, one folder per node:
//   <root>/<name>/config.toml   written by start()
//   <root>/<name>/data/         the node's data_dir (identity, api-token, mesh.addr, api.port)
//   <root>/<name>/node.log      the node's stdout+stderr, appended across (re)starts
//
// Processes are tracked by PID and only ever signalled while they are still
// un-reaped children of this process, so a signal can never hit a recycled PID.
// Not thread-safe: drive one LocalMesh from one thread.
#pragma once
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace x0x::orchestrator {

struct LocalNode {
  std::string name;
  int pid = -1;
  std::filesystem::path dir, data_dir, config_path, log_path;
  std::string api_base;  // http://127.0.0.1:P
  std::string token;     // contents of data/api-token, trimmed
  std::string mesh_addr; // contents of data/mesh.addr, e.g. 127.0.0.1:40123
  std::string agent_id;  // from GET /agent once the node serves (its identity survives restarts)
  bool running = false;
  int runner_pid = -1;   // -1: no runner
  bool runner_running = false;
  std::filesystem::path runner_log_path;
};

class LocalMesh {
 public:
  struct Options {
    std::filesystem::path node_binary;  // a path, or a bare name looked up in PATH
    std::filesystem::path root_dir;     // created (with parents) when missing
    int nodes = 6;
    // names[i] names node i; missing entries get the defaults nyc, sfo,
    // helsinki, nuremberg, singapore, sydney, then node-7, node-8, ...
    std::vector<std::string> names;
    std::string log_level = "info";
    // Merged into every config.toml: its keys and sections are kept, the
    // node's own (addresses, data_dir, name, log_level, peers) set over it.
    std::string extra_toml;
    std::chrono::milliseconds start_timeout{20000};
    // Children get PR_SET_PDEATHSIG=SIGTERM so they die with this process even
    // when it crashes. Linux ties that to the *thread* that spawned them: turn it
    // off when start()/restart_node() run on a thread that ends before the mesh.
    bool kill_on_parent_exit = true;
    // When set, one x0x-test-runner runs beside each node (NODE_NAME = the
    // node's name, its API base and token file), logging to runner.log. Its
    // trusted orchestrators (X0X_RUNNER_TRUSTED_AGENTS) are the agents of every
    // node of this mesh: any of them may be the anchor of a run, nothing else.
    std::filesystem::path runner_binary;
    // Detached processes get their own session and outlive this process
    // (`x0xctl local up`); implies kill_on_parent_exit = false.
    bool detached = false;
  };

  // Node i's name when Options::names has none for it.
  static std::string default_name(std::size_t i);

  // Validates options (node count, names, binary), creates the directories. No
  // process is started before start().
  explicit LocalMesh(Options);
  // Stops every node still running (SIGTERM, up to 5 s, then SIGKILL); never
  // leaves a process behind. Never throws.
  ~LocalMesh();
  LocalMesh(const LocalMesh&) = delete;
  LocalMesh& operator=(const LocalMesh&) = delete;

  // Node 0 first (no bootstrap peers), then all the others at once with
  // bootstrap_peers = [node 0's mesh addr]; returns when each one has written
  // api.port and answers GET /health. On failure or timeout it stops every node
  // it started and throws std::runtime_error naming the node and quoting the
  // tail of its log. std::logic_error when a node is already running.
  void start();
  // True once every running node's /health reports peers >= running - 1; polls,
  // false at the deadline (or when no node is running).
  bool wait_mesh_formed(std::chrono::milliseconds timeout);
  void stop_node(std::size_t i);     // SIGTERM, wait up to 5 s, then SIGKILL
  void kill_node(std::size_t i);     // SIGKILL right away (a crash), and reap
  // Stops the node if running, then starts it again with the same data dir
  // (same identity and token) on the same API and mesh ports, as a real
  // daemon's fixed ports would be, and waits for /health as start() does.
  void restart_node(std::size_t i);
  void stop_all();  // SIGTERM to all at once, then as stop_node

  // The nodes, with `running` refreshed (exited processes are reaped).
  std::vector<LocalNode>& nodes();
  const Options& options() const;
  std::size_t running_count();
  void start_runner(std::size_t i);  // needs Options::runner_binary and a serving node
  // The same, with these variables set over the runner's defaults (tests: another
  // trust list, a shorter command timeout); an empty value unsets nothing, it is passed as "".
  void start_runner(std::size_t i, const std::vector<std::pair<std::string, std::string>>& env_overrides);
  void stop_runner(std::size_t i);   // SIGTERM, up to 5 s, then SIGKILL
  void kill_runner(std::size_t i);   // SIGKILL right away
  // Forgets every process without stopping it: they keep running (detached
  // mode); the caller has recorded their PIDs.
  void release();

  // The end of node i's log for its latest run (at most max_bytes).
  std::string log_tail(std::size_t i, std::size_t max_bytes = 4000) const;

 private:
  void write_config(std::size_t i, const std::vector<std::string>& bootstrap,
                    const std::string& api_addr = "127.0.0.1:0", const std::string& bind_addr = "127.0.0.1:0") const;
  void spawn(std::size_t i);
  void wait_ready(const std::vector<std::size_t>& which, std::chrono::milliseconds timeout);
  bool refresh(std::size_t i);  // reaps if exited; returns running
  bool refresh_runner(std::size_t i);
  int spawn_child(const std::string& exe, const std::vector<std::string>& args,
                  const std::vector<std::pair<std::string, std::string>>& env, const LocalNode& n,
                  const std::filesystem::path& log_path, const std::string& what);
  void terminate(const std::vector<std::size_t>& which, std::chrono::milliseconds grace);
  void kill_and_reap(std::size_t i) noexcept;  // SIGKILL + blocking waitpid
  [[noreturn]] void fail(std::size_t i, const std::string& what);
  LocalNode& at(std::size_t i);

  Options opts_;
  std::vector<LocalNode> nodes_;
  std::vector<int> exit_status_;  // last wait status per node, -1 = unknown
  std::vector<int> runs_;         // how many times each node was spawned
};

}  // namespace x0x::orchestrator
