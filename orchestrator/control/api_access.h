// How the orchestrator reaches a node's REST API. A local host is reached
// directly on loopback with the token read from its file; an ssh host through
// a port forward to its loopback API, with the token read on the host through
// the SSH channel (never on a command line, never logged).
#pragma once
#include <memory>
#include <stdexcept>
#include <string>

#include "orchestrator/control/inventory.h"
#include "orchestrator/control/remote.h"

namespace x0x::orchestrator {

struct ApiEndpoint {
  std::string base_url;  // http://127.0.0.1:P
  std::string token;     // never logged
};

class ApiAccessError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

class ApiAccess {
 public:
  virtual ~ApiAccess() = default;
  // Opens (or reuses) a way to the host's API; ApiAccessError naming the host.
  virtual ApiEndpoint open(const Host& host) = 0;
};

struct ApiAccessOptions {
  bool accept_new_host_keys = false;
};
// Keeps every tunnel it opened until it is destroyed.
std::unique_ptr<ApiAccess> make_api_access(const Fleet& fleet, ApiAccessOptions opts = {});

SshTarget ssh_target_of(const Host& host, bool accept_new_host_keys);

std::string read_token_file(const std::string& path, const std::string& host_name);

}  // namespace x0x::orchestrator
