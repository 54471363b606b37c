#include "orchestrator/api_access.h"

#include <fstream>
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

namespace {

class LocalAccess : public ApiAccess {
 public:
  ApiEndpoint open(const Host& h) override {
    if (h.transport != "local")
      throw ApiAccessError(h.name + ": transport \"" + h.transport +
                           "\" needs an SSH tunnel, which arrives with `x0xctl deploy`; only local fleets can be driven today");
    return {"http://" + h.api_addr, read_token_file(h.token_path, h.name)};
  }
};

}  // namespace

std::unique_ptr<ApiAccess> make_api_access(const Fleet&) { return std::make_unique<LocalAccess>(); }

}  // namespace x0x::orchestrator
