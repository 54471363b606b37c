// How a deployed node and its runner are started, stopped and observed on a
// host: `systemd` on real hosts (rendered unit files, `systemctl` over exec),
// or `supervisor` for hosts without systemd (a small POSIX-sh supervisor that
// x0xctl uploads: a restart loop per service, pidfiles, a log file).
//
// Host layout under the host's install_root (default /opt/x0x):
//   bin/x0x-node          the node binary (x0xd or x0x-lean-node), .prev kept
//   bin/x0x-test-runner   the runner, .prev kept
//   bin/x0x-supervise     the supervisor script (supervisor hosts)
//   etc/config.toml       the node's config, .prev kept
//   etc/runner.env        the runner's environment (NODE_NAME, X0X_API_BASE,
//                         X0X_API_TOKEN = the token FILE path, LOG_LEVEL)
//   data/                 the node's data_dir (api-token, keys)
//   run/<svc>.pid         the running child; run/<svc>.loop.pid its restart loop
//   run/deploy.state      the deploy journal (see deploy.h)
//   log/node.log, log/runner.log
// and beside the root, shared by every install root in the same folder:
//   ../.x0x-cache/<sha256>  verified artefacts, hard-linked into bin/ (deploy.h)
#pragma once
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "orchestrator/control/inventory.h"
#include "orchestrator/control/remote.h"

namespace x0x::orchestrator {

struct HostLayout {
  std::string root, bin_dir, etc_dir, data_dir, run_dir, log_dir;
  std::string node_binary, runner_binary, supervisor, config, runner_env, token, state_file;
  std::string node_log, runner_log;
  std::string cache_dir;  // <root>/../.x0x-cache
  static HostLayout for_host(const Host& host);  // install_root, or /opt/x0x when empty
};

enum class Service { node, runner };
const char* service_name(Service s);  // "node" | "runner"

// A file a service manager needs on the host, rendered for that host.
struct RenderedFile {
  std::string key;          // "supervisor", "unit:node", "unit:runner"
  std::string remote_path;  // absolute
  std::string content;
  unsigned mode = 0644;
};

struct ServiceStatus {
  bool running = false;  // the service's process is up (not in a restart back-off)
  std::string detail;    // what the manager said, one line
};

// A service operation failed (non-zero exit); the message names the host, the
// operation and quotes the command's output.
class ServiceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ServiceManagerOptions {
  std::string systemd_unit_dir = "/etc/systemd/system";
  std::string systemctl = "systemctl";  // tests point this at a recorder script
  std::chrono::milliseconds command_timeout{60000};
};

class ServiceManager {
 public:
  virtual ~ServiceManager() = default;
  virtual std::string kind() const = 0;  // "systemd" | "supervisor"
  // Files to install beside the binaries (compared, uploaded and kept as .prev
  // like them).
  virtual std::vector<RenderedFile> files() const = 0;
  // After the files were switched: e.g. `systemctl daemon-reload` + enable.
  virtual void prepare(RemoteHost& host, bool files_changed) = 0;
  virtual void start(RemoteHost& host, Service s) = 0;
  virtual void stop(RemoteHost& host, Service s) = 0;  // never fails when not running
  virtual void restart(RemoteHost& host, Service s) = 0;
  virtual ServiceStatus status(RemoteHost& host, Service s) = 0;
  // Stops both services and unregisters them (systemd: disable); the files
  // themselves are removed by the caller.
  virtual void remove(RemoteHost& host) = 0;
  // After remove() and the files are gone (systemd: daemon-reload).
  virtual void after_remove(RemoteHost& host) = 0;
  // The unit names (systemd) or service names (supervisor), for messages.
  virtual std::string unit(Service s) const = 0;
};

// "supervisor" or "systemd" from host.service_manager.
std::unique_ptr<ServiceManager> make_service_manager(const Host& host, const HostLayout& layout,
                                                     const ServiceManagerOptions& opts = {});

// The supervisor script (POSIX sh): `x0x-supervise start|stop|restart|status node|runner`.
// Paths are derived from the script's own location (<root>/bin/..).
std::string supervisor_script();

// systemd units for the host: the runner's unit is After=/Wants= the node's own
// unit (never another instance's). Logs are appended to the layout's log files.
// The node's unit is host.service (".service" added) when set, else x0x-node-<name>.service.
std::string systemd_unit_name(const Host& host, Service s);
std::string render_systemd_unit(const Host& host, const HostLayout& layout, Service s);

}  // namespace x0x::orchestrator
