#include "orchestrator/inventory.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "core/socket_addr.h"
#include "core/toml_text.h"

namespace x0x::orchestrator {

namespace fs = std::filesystem;

const Host* Fleet::find(const std::string& n) const {
  for (auto& h : hosts)
    if (h.name == n) return &h;
  return nullptr;
}

std::vector<std::string> Fleet::names() const {
  std::vector<std::string> out;
  for (auto& h : hosts) out.push_back(h.name);
  return out;
}

static std::string join_lines(const std::vector<std::string>& v) {
  std::string out;
  for (auto& s : v) out += (out.empty() ? "" : "\n") + s;
  return out;
}

InventoryError::InventoryError(std::vector<std::string> problems)
    : std::runtime_error(join_lines(problems)), problems_(std::move(problems)) {}

namespace {

const std::set<std::string> kTopKeys = {"schema_version", "fleet", "defaults", "host", "network", "instance"};
const std::set<std::string> kDefaultKeys = {"anchor", "ssh_user", "ssh_port", "ssh_identity", "known_hosts",
                                            "connect_timeout_s", "command_timeout_s", "proof_root",
                                            "service_manager", "transport"};
const std::set<std::string> kHostKeys = {"name", "address", "ipv4", "ipv6", "transport", "api_addr", "token_path",
                                         "install_root", "roles", "alias", "provider", "region", "tags",
                                         "ssh_user", "ssh_port", "ssh_identity", "known_hosts", "service_manager",
                                         "gossip_addr"};

// A neutral view of one document so TOML and JSON share the validation.
struct Field {
  std::string text;
  std::vector<std::string> list;
  bool is_string = false, is_list = false, is_int = false;
  std::int64_t integer = 0;
  int line = 0;
};
struct Table {
  std::map<std::string, Field> fields;
  int line = 0;
};
struct Doc {
  std::map<std::string, Field> top;
  std::set<std::string> top_keys;
  Table defaults;
  std::vector<Table> hosts;
};

struct Checker {
  std::string source;
  std::vector<std::string> problems;
  void add(int line, const std::string& field, const std::string& what) {
    problems.push_back(source + ":" + (line > 0 ? std::to_string(line) : std::string("?")) + ": " + field + ": " + what);
  }
};

// A path in the inventory is relative to the inventory's own folder.
std::string resolve_path(const std::string& p, const std::string& source) {
  if (p.empty() || fs::path(p).is_absolute()) return p;
  if (p.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    return home ? (fs::path(home) / p.substr(2)).string() : p;
  }
  return (fs::path(source).parent_path() / p).lexically_normal().string();
}

Fleet validate(const Doc& d, const std::string& source) {
  Checker c{source, {}};
  Fleet f;
  f.path = source;
  for (auto& k : d.top_keys)
    if (!kTopKeys.count(k)) c.add(0, k, "unknown key (known: schema_version, fleet, defaults, host, network, instance)");
  auto sv = d.top.find("schema_version");
  if (sv == d.top.end())
    c.add(0, "schema_version", "missing (expected schema_version = 1)");
  else if (!sv->second.is_int || sv->second.integer != 1)
    c.add(sv->second.line, "schema_version", "expected 1");
  if (auto it = d.top.find("fleet"); it != d.top.end()) f.name = it->second.text;
  for (auto& [k, v] : d.defaults.fields)
    if (!kDefaultKeys.count(k)) c.add(v.line, "defaults." + k, "unknown key");
  if (auto it = d.defaults.fields.find("anchor"); it != d.defaults.fields.end()) f.anchor = it->second.text;
  if (d.hosts.empty()) c.add(0, "host", "no [[host]] tables: a fleet needs at least one host");
  std::set<std::string> names;
  for (std::size_t i = 0; i < d.hosts.size(); ++i) {
    const auto& t = d.hosts[i];
    Host h;
    h.line = t.line;
    auto label = "host[" + std::to_string(i + 1) + "]";
    if (auto nm = t.fields.find("name"); nm != t.fields.end() && nm->second.is_string && !nm->second.text.empty())
      label += " (" + nm->second.text + ")";
    for (auto& [k, v] : t.fields)
      if (!kHostKeys.count(k)) c.add(v.line, label + "." + k, "unknown key");
    auto str = [&](const char* key, bool required) -> std::string {
      auto it = t.fields.find(key);
      if (it == t.fields.end()) {
        if (required) c.add(t.line, label + "." + key, "missing");
        return {};
      }
      if (!it->second.is_string) {
        c.add(it->second.line, label + "." + key, "expected a string");
        return {};
      }
      return it->second.text;
    };
    h.name = str("name", true);
    if (!h.name.empty()) {
      if (h.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") != std::string::npos)
        c.add(t.line, label + ".name", "use lower-case letters, digits, '-', '_' or '.'");
      if (!names.insert(h.name).second) c.add(t.line, label + ".name", "duplicate host name '" + h.name + "'");
    }
    h.address = str("address", false);
    if (h.address.empty()) h.address = str("ipv4", false);
    if (h.address.empty()) h.address = str("ipv6", false);
    if (h.address.empty()) c.add(t.line, label + ".address", "missing (address, ipv4 or ipv6)");
    // A host key wins over [defaults], which wins over the built-in default.
    auto inherited = [&](const char* key) -> std::optional<Field> {
      if (auto it = t.fields.find(key); it != t.fields.end()) return it->second;
      if (auto it = d.defaults.fields.find(key); it != d.defaults.fields.end()) return it->second;
      return std::nullopt;
    };
    auto inherited_str = [&](const char* key, std::string& out) {
      if (auto f = inherited(key)) {
        if (!f->is_string) c.add(f->line, label + "." + key, "expected a string");
        else out = f->text;
      }
    };
    inherited_str("transport", h.transport);
    inherited_str("ssh_user", h.ssh_user);
    inherited_str("ssh_identity", h.ssh_identity);
    inherited_str("known_hosts", h.known_hosts);
    inherited_str("service_manager", h.service_manager);
    h.ssh_identity = resolve_path(h.ssh_identity, source);
    h.known_hosts = resolve_path(h.known_hosts, source);
    if (auto f = inherited("ssh_port")) {
      if (!f->is_int || f->integer < 1 || f->integer > 65535) c.add(f->line, label + ".ssh_port", "expected a port number 1..65535");
      else h.ssh_port = static_cast<int>(f->integer);
    }
    if (h.service_manager != "systemd" && h.service_manager != "supervisor")
      c.add(t.line, label + ".service_manager", "expected \"systemd\" or \"supervisor\", got \"" + h.service_manager + "\"");
    if (h.transport == "ssh" && h.known_hosts.empty())
      c.add(t.line, label + ".known_hosts", "required for ssh hosts: host keys are pinned, never trusted on first sight");
    h.gossip_addr = str("gossip_addr", false);
    if (!h.gossip_addr.empty() && !parse_socket_addr(h.gossip_addr))
      c.add(t.fields.at("gossip_addr").line, label + ".gossip_addr", "expected host:port, got \"" + h.gossip_addr + "\"");
    if (h.transport != "local" && h.transport != "ssh")
      c.add(t.line, label + ".transport", "expected \"local\" or \"ssh\", got \"" + h.transport + "\"");
    h.api_addr = str("api_addr", true);
    if (!h.api_addr.empty() && !parse_socket_addr(h.api_addr))
      c.add(t.fields.at("api_addr").line, label + ".api_addr", "expected host:port like 127.0.0.1:13600, got \"" + h.api_addr + "\"");
    h.token_path = str("token_path", true);
    h.install_root = str("install_root", false);
    if (auto it = t.fields.find("roles"); it != t.fields.end()) {
      if (!it->second.is_list) c.add(it->second.line, label + ".roles", "expected a list of strings");
      h.roles = it->second.list;
    }
    f.hosts.push_back(std::move(h));
  }
  // Hosts sharing a machine must not share an install root or a port.
  std::map<std::string, std::string> taken;  // "address|what|value" -> host
  for (auto& h : f.hosts) {
    auto claim = [&](const std::string& what, const std::string& value) {
      if (value.empty()) return;
      auto key = h.address + "|" + what + "|" + value;
      auto [it, fresh] = taken.emplace(key, h.name);
      if (!fresh)
        c.add(h.line, "host (" + h.name + ")." + what,
              "\"" + value + "\" is already used by host " + it->second + " on " + h.address);
    };
    claim("install_root", h.install_root);
    if (auto a = parse_socket_addr(h.api_addr)) claim("api port", std::to_string(a->port));
    if (auto g = parse_socket_addr(h.gossip_addr)) claim("gossip port", std::to_string(g->port));
  }
  if (f.anchor.empty() && !f.hosts.empty()) f.anchor = f.hosts.front().name;
  if (!f.anchor.empty() && !f.find(f.anchor) && !f.hosts.empty()) {
    int line = d.defaults.fields.count("anchor") ? d.defaults.fields.at("anchor").line : 0;
    c.add(line, "defaults.anchor", "anchor '" + f.anchor + "' is not a host of this fleet");
  }
  if (!c.problems.empty()) throw InventoryError(std::move(c.problems));
  return f;
}

Field toml_field(const toml::node& n) {
  Field f;
  f.line = static_cast<int>(n.source().begin.line);
  if (auto s = n.as_string()) {
    f.is_string = true;
    f.text = s->get();
  } else if (auto i = n.as_integer()) {
    f.is_int = true;
    f.integer = i->get();
    f.text = std::to_string(f.integer);
  } else if (auto a = n.as_array()) {
    f.is_list = true;
    for (auto& e : *a)
      if (auto s = e.as_string()) f.list.push_back(s->get());
      else f.is_list = false;
  } else if (auto b = n.as_boolean()) {
    f.text = b->get() ? "true" : "false";
  }
  return f;
}

Table toml_table(const toml::table& t) {
  Table out;
  out.line = static_cast<int>(t.source().begin.line);
  for (auto& [k, v] : t) out.fields[std::string(k.str())] = toml_field(v);
  return out;
}

Field json_field(const nlohmann::json& v) {
  Field f;
  if (v.is_string()) {
    f.is_string = true;
    f.text = v.get<std::string>();
  } else if (v.is_number_integer()) {
    f.is_int = true;
    f.integer = v.get<std::int64_t>();
  } else if (v.is_array()) {
    f.is_list = true;
    for (auto& e : v)
      if (e.is_string()) f.list.push_back(e.get<std::string>());
      else f.is_list = false;
  }
  return f;
}

}  // namespace

Fleet parse_fleet_toml(std::string_view text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw InventoryError({source + ":" + std::to_string(e.source().begin.line) + ":" +
                          std::to_string(e.source().begin.column) + ": " + std::string(e.description())});
  }
  Doc d;
  for (auto& [k, v] : root) {
    std::string key(k.str());
    d.top_keys.insert(key);
    if (key == "defaults" && v.is_table()) d.defaults = toml_table(*v.as_table());
    else if (key == "host" && v.is_array_of_tables())
      for (auto& t : *v.as_array()) d.hosts.push_back(toml_table(*t.as_table()));
    else if (key != "network" && key != "instance")
      d.top[key] = toml_field(v);
  }
  return validate(d, source);
}

Fleet parse_fleet_json(std::string_view text, const std::string& source) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw InventoryError({source + ": not a JSON object"});
  Doc d;
  for (auto& [k, v] : j.items()) {
    d.top_keys.insert(k);
    if (k == "defaults" && v.is_object()) {
      for (auto& [dk, dv] : v.items()) d.defaults.fields[dk] = json_field(dv);
    } else if (k == "host" && v.is_array()) {
      for (auto& h : v) {
        Table t;
        if (h.is_object())
          for (auto& [hk, hv] : h.items()) t.fields[hk] = json_field(hv);
        d.hosts.push_back(std::move(t));
      }
    } else if (k != "network" && k != "instance") {
      d.top[k] = json_field(v);
    }
  }
  return validate(d, source);
}

Fleet load_fleet(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw InventoryError({path.string() + ": cannot read the inventory"});
  std::stringstream ss;
  ss << in.rdbuf();
  auto f = path.extension() == ".json" ? parse_fleet_json(ss.str(), path.string()) : parse_fleet_toml(ss.str(), path.string());
  f.path = path;
  return f;
}

std::string render_fleet_toml(const Fleet& f) {
  std::ostringstream o;
  o << "# x0x fleet inventory (schema in ../shared/spec/deploy-and-harvest.md §1.7).\n"
    << "schema_version = 1\n"
    << "fleet = " << toml_quote(f.name) << "\n\n[defaults]\nanchor = " << toml_quote(f.anchor) << "\n";
  for (auto& h : f.hosts) {
    o << "\n[[host]]\nname = " << toml_quote(h.name) << "\naddress = " << toml_quote(h.address)
      << "\ntransport = " << toml_quote(h.transport) << "\napi_addr = " << toml_quote(h.api_addr)
      << "\ntoken_path = " << toml_quote(h.token_path) << "\n";
    if (!h.install_root.empty()) o << "install_root = " << toml_quote(h.install_root) << "\n";
    if (h.transport == "ssh")
      o << "ssh_user = " << toml_quote(h.ssh_user) << "\nssh_port = " << h.ssh_port
        << "\nssh_identity = " << toml_quote(h.ssh_identity) << "\nknown_hosts = " << toml_quote(h.known_hosts)
        << "\nservice_manager = " << toml_quote(h.service_manager) << "\n";
    if (!h.gossip_addr.empty()) o << "gossip_addr = " << toml_quote(h.gossip_addr) << "\n";
    if (!h.roles.empty()) {
      o << "roles = [";
      for (std::size_t i = 0; i < h.roles.size(); ++i) o << (i ? ", " : "") << toml_quote(h.roles[i]);
      o << "]\n";
    }
  }
  return o.str();
}

}  // namespace x0x::orchestrator
