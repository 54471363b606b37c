#include "orchestrator/control/api_access.h"

#include "core/socket_addr.h"
#include "orchestrator/control/remote.h"
#include "orchestrator/control/ssh_remote.h"

#include <fstream>
#include <map>
#include <sstream>

namespace x0x::orchestrator {

std::string read_token_file(const std::string& path, const std::string& host) {
  std::ifstream in(path);
  if (!in) throw ApiAccessError(host + ": cannot read the API token file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto s = ss.str();
  auto b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  if (b == std::string::npos) throw ApiAccessError(host + ": the API token file " + path + " is empty");
  return s.substr(b, e - b + 1);
}

SshTarget ssh_target_of(const Host& h, bool accept_new) {
  SshTarget t;
  t.name = h.name;
  t.address = h.address;
  t.port = h.ssh_port;
  t.user = h.ssh_user;
  t.identity = h.ssh_identity;
  t.known_hosts = h.known_hosts;
  t.accept_new = accept_new;
  t.command_shell = h.ssh_command_shell;
  return t;
}

namespace {

class FleetAccess : public ApiAccess {
 public:
  explicit FleetAccess(ApiAccessOptions o) : opts_(o) {}
  ApiEndpoint open(const Host& h) override {
    if (h.transport == "local") return {"http://" + h.api_addr, read_token_file(h.token_path, h.name)};
    auto it = tunnels_.find(h.name);
    if (it == tunnels_.end()) {
      auto api = parse_socket_addr(h.api_addr);
      if (!api) throw ApiAccessError(h.name + ": api_addr \"" + h.api_addr + "\" is not host:port");
      Tunnel t;
      try {
        t.session = ssh_connect(ssh_target_of(h, opts_.accept_new_host_keys));
        auto token = t.session->read_file(h.token_path, 4096);
        auto b = token.find_first_not_of(" \t\r\n"), e = token.find_last_not_of(" \t\r\n");
        if (b == std::string::npos) throw ApiAccessError(h.name + ": the API token file " + h.token_path + " is empty");
        t.token = token.substr(b, e - b + 1);
        t.forward = t.session->forward(api->host, api->port);
      } catch (const RemoteError& e) {
        throw ApiAccessError(e.what());
      }
      it = tunnels_.emplace(h.name, std::move(t)).first;
    }
    return {"http://127.0.0.1:" + std::to_string(it->second.forward->local_port()), it->second.token};
  }

 private:
  struct Tunnel {
    std::unique_ptr<RemoteHost> session;
    std::unique_ptr<PortForward> forward;
    std::string token;
  };
  ApiAccessOptions opts_;
  std::map<std::string, Tunnel> tunnels_;
};

}  // namespace

std::unique_ptr<ApiAccess> make_api_access(const Fleet&, ApiAccessOptions opts) {
  return std::make_unique<FleetAccess>(opts);
}

}  // namespace x0x::orchestrator
