#include "orchestrator/lifecycle/node_config_toml.h"

#include <sstream>

#include <toml++/toml.h>

namespace x0x::orchestrator {

namespace {

constexpr const char* kOwnedKeys[] = {"api_address", "bind_address", "data_dir", "instance_name", "log_level", "bootstrap_peers"};

toml::table parse_or_throw(std::string_view text, std::string_view source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw NodeConfigError(std::string(source) + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
}

std::string serialise(const toml::table& t, std::string_view header) {
  std::ostringstream o;
  std::istringstream lines{std::string(header)};
  for (std::string line; std::getline(lines, line);) o << "# " << line << "\n";
  // Basic ("...") strings only, UTF-8 kept as is.
  o << toml::toml_formatter(t, toml::format_flags::allow_unicode_strings) << "\n";
  return o.str();
}

// What we set must read back as set (a template cannot shadow a key with a
// table of the same name: that is a parse error above, but be sure).
void check_round_trip(const std::string& text, const NodeConfigKeys& k) {
  auto back = parse_or_throw(text, "rendered config");
  bool same = back["api_address"].value<std::string>() == k.api_address &&
              back["bind_address"].value<std::string>() == k.bind_address &&
              back["data_dir"].value<std::string>() == k.data_dir &&
              back["instance_name"].value<std::string>() == k.instance_name;
  auto* peers = back["bootstrap_peers"].as_array();
  same = same && peers && peers->size() == k.bootstrap_peers.size();
  for (std::size_t i = 0; same && i < k.bootstrap_peers.size(); ++i)
    same = (*peers)[i].value<std::string>() == k.bootstrap_peers[i];
  if (!same) throw NodeConfigError("rendered config for " + k.instance_name + " does not read back the values set");
}

}  // namespace

std::string render_node_config_toml(const NodeConfigKeys& k, std::string_view template_text, std::string_view template_name,
                                    std::string_view header) {
  toml::table t;
  if (!template_text.empty()) t = parse_or_throw(template_text, template_name);
  std::string level = k.log_level;
  if (level.empty())
    if (auto v = t["log_level"].value<std::string>()) level = *v;
  if (level.empty()) level = "info";
  for (auto* key : kOwnedKeys) t.erase(key);
  toml::array peers;
  for (auto& p : k.bootstrap_peers) peers.push_back(p);
  t.insert_or_assign("api_address", k.api_address);
  t.insert_or_assign("bind_address", k.bind_address);
  t.insert_or_assign("data_dir", k.data_dir);
  t.insert_or_assign("instance_name", k.instance_name);
  t.insert_or_assign("log_level", level);
  t.insert_or_assign("bootstrap_peers", std::move(peers));
  auto text = serialise(t, header);
  check_round_trip(text, k);
  return text;
}

std::string pin_node_config_addresses(std::string_view config_text, std::string_view source_name, const std::string& api_address,
                                      const std::string& bind_address) {
  auto t = parse_or_throw(config_text, source_name);
  // The leading comment lines (toml++ does not keep comments).
  std::string header;
  std::istringstream in{std::string(config_text)};
  for (std::string line; std::getline(in, line) && line.rfind("# ", 0) == 0;) header += line.substr(2) + "\n";
  t.insert_or_assign("api_address", api_address);
  t.insert_or_assign("bind_address", bind_address);
  return serialise(t, header);
}

}  // namespace x0x::orchestrator
