// The lean node's (and x0xd's) config.toml, rendered in one place for deploy
// and for the local mesh: the operator's template parsed with toml++, the keys
// the orchestrator owns set on its top-level table, the whole serialised by
// toml++ (so every value is quoted and escaped as TOML wants, and the owned
// keys always come before any [section]).
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace x0x::orchestrator {

// The template is not TOML, or a rendered config does not read back: the
// message names the source and line.
class NodeConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The keys the orchestrator owns; everything else in a template is kept.
struct NodeConfigKeys {
  std::string api_address, bind_address, data_dir, instance_name;
  std::string log_level;  // empty: the template's log_level, else "info"
  std::vector<std::string> bootstrap_peers;
};

// `header` becomes the first comment line(s) ("# " added to each line).
std::string render_node_config_toml(const NodeConfigKeys& keys, std::string_view template_text = {},
                                    std::string_view template_name = "template", std::string_view header = {});

// The same config with api_address and bind_address replaced (a restart on
// the ports a first start was given); the rest as it was.
std::string pin_node_config_addresses(std::string_view config_text, std::string_view source_name,
                                      const std::string& api_address, const std::string& bind_address);

}  // namespace x0x::orchestrator
