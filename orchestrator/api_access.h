// How the orchestrator reaches a node's REST API. A local host is reached
// directly on loopback with the token read from its file; remote hosts will
// be reached through an SSH port forward (issue 4), behind this same seam.
#pragma once
#include <memory>
#include <stdexcept>
#include <string>

#include "orchestrator/inventory.h"

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

// Local hosts only; a remote host is a clear error until the SSH layer lands.
std::unique_ptr<ApiAccess> make_api_access(const Fleet& fleet);

std::string read_token_file(const std::string& path, const std::string& host_name);

}  // namespace x0x::orchestrator
