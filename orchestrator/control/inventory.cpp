#include "orchestrator/control/inventory.h"

#include <algorithm>
#include <cstdlib>
#include <tuple>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "core/socket_addr.h"
#include "core/toml_text.h"
#include "orchestrator/control/json_positions.h"

namespace x0x::orchestrator {

namespace fs = std::filesystem;

const Host* Fleet::find(const std::string& n) const {
  for (auto& h : hosts)
    if (h.name == n) return &h;
  return nullptr;
}

const Network* Fleet::selected_network() const {
  for (auto& n : networks)
    if (n.name == network) return &n;
  return nullptr;
}

bool Fleet::chaos_forbidden() const {
  return !network.empty() && std::find(chaos_forbid_networks.begin(), chaos_forbid_networks.end(), network) != chaos_forbid_networks.end();
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

const std::set<std::string> kTopKeys = {"schema_version", "fleet", "defaults", "host", "network", "instance", "chaos"};
const std::set<std::string> kDefaultKeys = {"anchor", "ssh_user", "ssh_port", "ssh_identity", "known_hosts", "ssh_command_shell",
                                            "connect_timeout_s", "command_timeout_s", "proof_root",
                                            "service_manager", "transport", "default_network"};
const std::set<std::string> kHostKeys = {"name", "address", "ipv4", "ipv6", "transport", "api_addr", "token_path",
                                         "install_root", "roles", "alias", "provider", "region", "tags",
                                         "ssh_user", "ssh_port", "ssh_identity", "known_hosts", "ssh_command_shell", "service_manager",
                                         "gossip_addr", "service", "network"};
const std::set<std::string> kNetworkKeys = {"gossip_port", "api_port", "instance", "token_var_prefix", "confirm_hold_s",
                                            "real_users", "require_explicit", "service", "token_path", "install_root"};
// What a host may override for one network in [host.network.NAME].
const std::set<std::string> kHostNetworkKeys = {"api_addr", "gossip_addr", "token_path", "install_root", "service"};
const std::set<std::string> kChaosKeys = {"allow", "forbid_networks"};

// A neutral view of one document so TOML and JSON share the validation.
struct Field {
  std::string text;
  std::vector<std::string> list;
  bool is_string = false, is_list = false, is_int = false, is_bool = false, is_table = false;
  std::int64_t integer = 0;
  int line = 0;
};
struct Table {
  std::map<std::string, Field> fields;  // a sub-table shows here too, with is_table
  std::map<std::string, Table> tables;
  int line = 0;
};
struct Doc {
  std::map<std::string, Field> top;
  std::set<std::string> top_keys;
  std::map<std::string, int> top_lines;  // line of each top-level key
  Table defaults;
  std::vector<Table> hosts;
  Table networks;  // one sub-table per [network.NAME]
  Table chaos;
};

struct Checker {
  std::string source;
  std::vector<std::string> problems;
  // line < 0: the problem is not in the file (a command-line option).
  void add(int line, const std::string& field, const std::string& what) {
    std::string where = line < 0 ? "" : (line > 0 ? std::to_string(line) : std::string("?")) + ":";
    problems.push_back(source + ":" + where + " " + field + ": " + what);
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

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

bool only_chars(const std::string& s, std::string_view allowed) {
  return !s.empty() && s.find_first_not_of(allowed) == std::string::npos;
}
constexpr std::string_view kLowerName = "abcdefghijklmnopqrstuvwxyz0123456789-_.";

// "{host}" and "{network}" in a network's per-host strings.
std::string expand(std::string s, const std::string& host, const std::string& network) {
  for (auto [key, value] : {std::pair<std::string_view, const std::string&>{"{host}", host}, {"{network}", network}})
    for (auto pos = s.find(key); pos != std::string::npos; pos = s.find(key, pos + value.size()))
      s.replace(pos, key.size(), value);
  return s;
}

std::vector<Network> parse_networks(const Table& t, Checker& c) {
  std::vector<Network> out;
  for (auto& [name, f] : t.fields) {
    auto label = "network." + name;
    if (!f.is_table) {
      c.add(f.line, label, "expected a table ([network." + name + "])");
      continue;
    }
    const auto& nt = t.tables.at(name);
    Network n;
    n.name = name;
    n.line = nt.line;
    if (!only_chars(name, kLowerName)) c.add(nt.line, label, "use lower-case letters, digits, '-', '_' or '.' in network names");
    for (auto& [k, v] : nt.fields) {
      auto field = label + "." + k;
      if (!kNetworkKeys.count(k)) {
        c.add(v.line, field, "unknown key (known: " + join({kNetworkKeys.begin(), kNetworkKeys.end()}) + ")");
      } else if (k == "gossip_port" || k == "api_port") {
        if (!v.is_int || v.integer < 1 || v.integer > 65535) c.add(v.line, field, "expected a port number 1..65535");
        else (k == "api_port" ? n.api_port : n.gossip_port) = static_cast<int>(v.integer);
      } else if (k == "confirm_hold_s") {
        if (!v.is_int || v.integer < 0 || v.integer > 3600) c.add(v.line, field, "expected seconds 0..3600");
        else n.confirm_hold_s = static_cast<int>(v.integer);
      } else if (k == "real_users" || k == "require_explicit") {
        if (!v.is_bool) c.add(v.line, field, "expected true or false");
        else (k == "real_users" ? n.real_users : n.require_explicit) = v.text == "true";
      } else if (!v.is_string) {
        c.add(v.line, field, "expected a string");
      } else {
        auto& dst = k == "instance" ? n.instance : k == "token_var_prefix" ? n.token_var_prefix
                    : k == "service" ? n.service : k == "token_path" ? n.token_path : n.install_root;
        dst = v.text;
        if (k == "token_var_prefix" && !only_chars(v.text, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"))
          c.add(v.line, field, "expected upper-case letters, digits or '_' (an environment variable prefix)");
      }
    }
    if (n.api_port && n.api_port == n.gossip_port)
      c.add(nt.fields.at("api_port").line, label + ".api_port", "equals gossip_port " + std::to_string(n.gossip_port));
    out.push_back(std::move(n));
  }
  std::stable_sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.line < b.line; });
  return out;
}

std::string known_networks(const std::vector<Network>& nets) {
  std::vector<std::string> names;
  for (auto& n : nets) names.push_back(n.name);
  return names.empty() ? "this inventory has no [network] tables" : "known: " + join(names);
}

const Network* find_network(const std::vector<Network>& nets, const std::string& name) {
  for (auto& n : nets)
    if (n.name == name) return &n;
  return nullptr;
}

// The selected network's name, "" for none.
std::string select_network(const std::vector<Network>& nets, const Doc& d, const std::string& requested, Checker& c) {
  if (!requested.empty()) {
    if (find_network(nets, requested)) return requested;
    // Alone: every host's "missing api_addr" that would follow is noise.
    throw InventoryError({c.source + ": --network: unknown network '" + requested + "' (" + known_networks(nets) + ")"});
  }
  if (auto it = d.defaults.fields.find("default_network"); it != d.defaults.fields.end()) {
    const auto& f = it->second;
    const Network* n = f.is_string ? find_network(nets, f.text) : nullptr;
    if (!f.is_string) c.add(f.line, "defaults.default_network", "expected a string");
    else if (!n) c.add(f.line, "defaults.default_network", "unknown network '" + f.text + "' (" + known_networks(nets) + ")");
    else if (n->require_explicit)
      c.add(f.line, "defaults.default_network",
            "network '" + n->name + "' has require_explicit = true: only an explicit --network " + n->name + " selects it");
    else return n->name;
    return {};
  }
  if (nets.size() == 1 && !nets.front().require_explicit) return nets.front().name;
  return {};
}

// One address of a host on one network: the host's [host.network.NAME] value,
// else its own key (network-independent, `flat`), else the network's port.
struct Resolved {
  std::string value;
  int line = 0;
  bool flat = false;  // from the host's own key: the same on every network
};
Resolved resolve_addr(const Table& host, const Network* net, const char* key, int port, const char* bind_host) {
  if (net)
    if (auto hn = host.tables.find("network"); hn != host.tables.end())
      if (auto per = hn->second.tables.find(net->name); per != hn->second.tables.end())
        if (auto it = per->second.fields.find(key); it != per->second.fields.end() && it->second.is_string)
          return {it->second.text, it->second.line, false};
  if (auto it = host.fields.find(key); it != host.fields.end() && it->second.is_string)
    return {it->second.text, it->second.line, true};
  if (net && port) return {std::string(bind_host) + ":" + std::to_string(port), net->line, false};
  return {};
}

// Two networks' instances on one machine must not share a port. A host's own
// (network-independent) address is one instance, whichever network runs it.
void check_cross_network_ports(const Doc& d, const std::vector<Network>& nets, Checker& c) {
  struct Claim {
    std::string host, network, what;
    bool flat;
  };
  std::map<std::string, Claim> taken;  // "address|port"
  for (auto& net : nets)
    for (auto& t : d.hosts) {
      auto name = t.fields.count("name") ? t.fields.at("name").text : "?";
      std::string address;
      for (auto* k : {"address", "ipv4", "ipv6"})
        if (address.empty() && t.fields.count(k)) address = t.fields.at(k).text;
      for (auto [key, port, what] : {std::tuple{"api_addr", net.api_port, "api port"}, {"gossip_addr", net.gossip_port, "gossip port"}}) {
        auto r = resolve_addr(t, &net, key, port, "0.0.0.0");
        auto a = parse_socket_addr(r.value);
        if (!a) continue;
        auto [it, fresh] = taken.emplace(address + "|" + std::to_string(a->port), Claim{name, net.name, what, r.flat});
        const auto& o = it->second;
        if (fresh || o.network == net.name || (o.flat && r.flat && o.host == name)) continue;
        c.add(r.line, "host (" + name + ").network." + net.name,
              std::string(what) + " " + std::to_string(a->port) + " clashes with the " + o.what + " of host " + o.host +
                  " on network " + o.network + " (same machine " + address + ")");
      }
    }
}

Fleet validate(const Doc& d, const std::string& source, const std::string& requested_network) {
  Checker c{source, {}};
  Fleet f;
  f.path = source;
  for (auto& k : d.top_keys)
    if (!kTopKeys.count(k))
      c.add(d.top_lines.count(k) ? d.top_lines.at(k) : 1, k, "unknown key (known: schema_version, fleet, defaults, host, network, instance, chaos)");
  auto sv = d.top.find("schema_version");
  if (sv == d.top.end())
    c.add(1, "schema_version", "missing (expected schema_version = 1)");
  else if (!sv->second.is_int || sv->second.integer != 1)
    c.add(sv->second.line, "schema_version", "expected 1");
  if (auto it = d.top.find("fleet"); it != d.top.end()) f.name = it->second.text;
  for (auto* k : {"defaults", "network", "chaos", "host"})
    if (auto it = d.top.find(k); it != d.top.end())
      c.add(it->second.line, k, std::string(k) == "host" ? "expected [[host]] tables" : "expected a table ([" + std::string(k) + "])");
  for (auto& [k, v] : d.defaults.fields)
    if (!kDefaultKeys.count(k)) c.add(v.line, "defaults." + k, "unknown key");
  if (auto it = d.defaults.fields.find("anchor"); it != d.defaults.fields.end()) f.anchor = it->second.text;
  f.networks = parse_networks(d.networks, c);
  f.network = select_network(f.networks, d, requested_network, c);
  const Network* net = find_network(f.networks, f.network);
  // [chaos]
  f.chaos_configured = d.top_keys.count("chaos") > 0;
  for (auto& [k, v] : d.chaos.fields) {
    if (!kChaosKeys.count(k)) {
      c.add(v.line, "chaos." + k, "unknown key (known: allow, forbid_networks)");
    } else if (!v.is_list) {
      c.add(v.line, "chaos." + k, "expected a list of strings");
    } else if (k == "allow") {
      f.chaos_allow = v.list;
    } else {
      f.chaos_forbid_networks = v.list;
      // A typo here would quietly allow chaos against the network it meant.
      if (!f.networks.empty())
        for (auto& n : v.list)
          if (!find_network(f.networks, n)) c.add(v.line, "chaos.forbid_networks", "unknown network '" + n + "' (" + known_networks(f.networks) + ")");
    }
  }
  const std::string no_network_hint =
      f.networks.empty() ? "" : " (or select a network that gives it: --network " + join([&] {
        std::vector<std::string> v;
        for (auto& n : f.networks) v.push_back(n.name);
        return v;
      }(), "|") + ")";
  if (d.hosts.empty()) c.add(d.top_lines.count("host") ? d.top_lines.at("host") : 1, "host", "no [[host]] tables: a fleet needs at least one host");
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
    auto str = [&](const char* key, bool required, const std::string& hint = "") -> std::string {
      auto it = t.fields.find(key);
      if (it == t.fields.end()) {
        if (required) c.add(t.line, label + "." + key, "missing" + hint);
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
      if (!only_chars(h.name, kLowerName))
        c.add(t.line, label + ".name", "use lower-case letters, digits, '-', '_' or '.'");
      if (!names.insert(h.name).second) c.add(t.line, label + ".name", "duplicate host name '" + h.name + "'");
    }
    h.address = str("address", false);
    h.ipv4 = str("ipv4", false);
    h.ipv6 = str("ipv6", false);
    if (h.address.empty()) h.address = !h.ipv4.empty() ? h.ipv4 : h.ipv6;
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
    if (auto f = inherited("ssh_command_shell")) {
      if (!f->is_bool) c.add(f->line, label + ".ssh_command_shell", "expected true or false");
      else h.ssh_command_shell = f->text == "true";
    }
    if (h.service_manager != "systemd" && h.service_manager != "supervisor")
      c.add(t.line, label + ".service_manager", "expected \"systemd\" or \"supervisor\", got \"" + h.service_manager + "\"");
    if (h.transport == "ssh" && h.known_hosts.empty())
      c.add(t.line, label + ".known_hosts", "required for ssh hosts: host keys are pinned, never trusted on first sight");
    if (h.transport != "local" && h.transport != "ssh")
      c.add(t.line, label + ".transport", "expected \"local\" or \"ssh\", got \"" + h.transport + "\"");
    // [host.network.NAME]: overrides for one network; the names must be networks.
    const Table* per_network = nullptr;
    if (auto it = t.fields.find("network"); it != t.fields.end()) {
      if (!it->second.is_table) c.add(it->second.line, label + ".network", "expected a table of networks ([host.network.NAME])");
      else
        for (auto& [nn, nf] : t.tables.at("network").fields) {
          auto field = label + ".network." + nn;
          if (!nf.is_table) {
            c.add(nf.line, field, "expected a table");
            continue;
          }
          if (!find_network(f.networks, nn)) c.add(nf.line, field, "unknown network '" + nn + "' (" + known_networks(f.networks) + ")");
          for (auto& [k, v] : t.tables.at("network").tables.at(nn).fields)
            if (!kHostNetworkKeys.count(k)) c.add(v.line, field + "." + k, "unknown key (known: " + join({kHostNetworkKeys.begin(), kHostNetworkKeys.end()}) + ")");
            else if (!v.is_string) c.add(v.line, field + "." + k, "expected a string");
          if (nn == f.network) per_network = &t.tables.at("network").tables.at(nn);
        }
    }
    // Host (per-network, then own key) wins over the selected network's value.
    auto from_host_or = [&](const char* key, const std::string& network_value) -> std::string {
      if (per_network)
        if (auto it = per_network->fields.find(key); it != per_network->fields.end() && it->second.is_string) return it->second.text;
      if (t.fields.count(key)) return str(key, false);
      return expand(network_value, h.name, f.network);
    };
    auto addr_line = [&](const char* key) {
      if (per_network && per_network->fields.count(key)) return per_network->fields.at(key).line;
      return t.fields.count(key) ? t.fields.at(key).line : net ? net->line : t.line;
    };
    for (auto* key : {"api_addr", "gossip_addr"})
      if (t.fields.count(key)) str(key, false);  // a non-string says so
    h.gossip_addr = resolve_addr(t, net, "gossip_addr", net ? net->gossip_port : 0, "0.0.0.0").value;
    if (!h.gossip_addr.empty() && !parse_socket_addr(h.gossip_addr))
      c.add(addr_line("gossip_addr"), label + ".gossip_addr", "expected host:port, got \"" + h.gossip_addr + "\"");
    h.api_addr = resolve_addr(t, net, "api_addr", net ? net->api_port : 0, "127.0.0.1").value;
    if (h.api_addr.empty()) {
      if (!t.fields.count("api_addr")) c.add(t.line, label + ".api_addr", "missing" + no_network_hint);
    } else if (!parse_socket_addr(h.api_addr)) {
      c.add(addr_line("api_addr"), label + ".api_addr", "expected host:port like 127.0.0.1:13600, got \"" + h.api_addr + "\"");
    }
    h.install_root = from_host_or("install_root", net ? net->install_root : "");
    h.service = from_host_or("service", net ? net->service : "");
    if (!h.service.empty() && !only_chars(h.service, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:_.@-"))
      c.add(addr_line("service"), label + ".service", "\"" + h.service + "\" is not a systemd unit name");
    if (net) {
      // A network always knows where the token is: its template, else the deployed data_dir's.
      auto root = h.install_root.empty() ? std::string("/opt/x0x") : h.install_root;
      h.token_path = from_host_or("token_path", net->token_path.empty() ? root + "/data/api-token" : net->token_path);
    } else {
      h.token_path = str("token_path", true, no_network_hint);
    }
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
    if (h.service_manager == "systemd") claim("service", h.service);
  }
  check_cross_network_ports(d, f.networks, c);
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
    f.is_bool = true;
    f.text = b->get() ? "true" : "false";
  } else if (n.is_table()) {
    f.is_table = true;
  }
  return f;
}

Table toml_table(const toml::table& t) {
  Table out;
  out.line = static_cast<int>(t.source().begin.line);
  for (auto& [k, v] : t) {
    std::string key(k.str());
    out.fields[key] = toml_field(v);
    if (auto sub = v.as_table()) out.tables[key] = toml_table(*sub);
  }
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
    f.text = std::to_string(f.integer);
  } else if (v.is_array()) {
    f.is_list = true;
    for (auto& e : v)
      if (e.is_string()) f.list.push_back(e.get<std::string>());
      else f.is_list = false;
  } else if (v.is_boolean()) {
    f.is_bool = true;
    f.text = v.get<bool>() ? "true" : "false";
  } else if (v.is_object()) {
    f.is_table = true;
  }
  return f;
}

// Lines from the scan (nlohmann keeps none); depth already bounded by it.
Table json_table(const nlohmann::json& j, const JsonPositions& pos, const std::string& path) {
  Table out;
  out.line = pos.line_of(path);
  if (!j.is_object()) return out;
  for (auto& [k, v] : j.items()) {
    auto sub = path.empty() ? k : path + "." + k;
    out.fields[k] = json_field(v);
    out.fields[k].line = pos.line_of(sub);
    if (v.is_object()) out.tables[k] = json_table(v, pos, sub);
  }
  return out;
}

// An inventory is 4 levels deep at most ([host.network.NAME] keys); anything far
// deeper is refused before a recursive walk could exhaust the stack.
constexpr int kMaxInventoryDepth = 16;

}  // namespace

// The line of the first table header or key dotted deeper than max parts, or 0.
// toml++ bounds nested values (256) but not dotted names, and a header 100,000
// names deep builds (and later tears down) a table that deep.
int toml_dotted_too_deep(std::string_view text, int max_parts) {
  int line = 1, parts = 1;
  bool line_start = true, in_name = false;
  char quote = 0;
  for (char c : text) {
    if (c == '\n') {
      ++line;
      parts = 1;
      line_start = true;
      in_name = false;
      quote = 0;
      continue;
    }
    if (line_start && (c == ' ' || c == '\t')) continue;
    if (line_start) in_name = c != '#';  // a header or a key starts the line
    line_start = false;
    if (!in_name) continue;
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '=' || c == ']') {
      in_name = false;
    } else if (c == '.' && ++parts > max_parts) {
      return line;
    }
  }
  return 0;
}

Fleet parse_fleet_toml(std::string_view text, const std::string& source, const std::string& network) {
  if (int line = toml_dotted_too_deep(text, kMaxInventoryDepth))
    throw InventoryError({source + ":" + std::to_string(line) + ": a name dotted deeper than " +
                          std::to_string(kMaxInventoryDepth) + " levels (an inventory needs 4)"});
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
    d.top_lines[key] = static_cast<int>(k.source().begin.line);
    if (key == "defaults" && v.is_table()) d.defaults = toml_table(*v.as_table());
    else if (key == "host" && v.is_array_of_tables())
      for (auto& t : *v.as_array()) d.hosts.push_back(toml_table(*t.as_table()));
    else if (key == "network" && v.is_table()) d.networks = toml_table(*v.as_table());
    else if (key == "chaos" && v.is_table()) d.chaos = toml_table(*v.as_table());
    else if (key != "instance")
      d.top[key] = toml_field(v);
  }
  return validate(d, source, network);
}

Fleet parse_fleet_json(std::string_view text, const std::string& source, const std::string& network) {
  auto pos = scan_json_positions(text, kMaxInventoryDepth);
  if (pos.too_deep_line)
    throw InventoryError({source + ":" + std::to_string(pos.too_deep_line) + ": nested deeper than " +
                          std::to_string(kMaxInventoryDepth) + " levels (an inventory needs 4)"});
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw InventoryError({source + ": not a JSON object"});
  Doc d;
  for (auto& [k, v] : j.items()) {
    d.top_keys.insert(k);
    d.top_lines[k] = pos.line_of(k);
    if (k == "defaults" && v.is_object()) {
      d.defaults = json_table(v, pos, k);
    } else if (k == "host" && v.is_array()) {
      for (std::size_t i = 0; i < v.size(); ++i) d.hosts.push_back(json_table(v[i], pos, "host[" + std::to_string(i) + "]"));
    } else if (k == "network" && v.is_object()) {
      d.networks = json_table(v, pos, k);
    } else if (k == "chaos" && v.is_object()) {
      d.chaos = json_table(v, pos, k);
    } else if (k != "instance") {
      d.top[k] = json_field(v);
      d.top[k].line = pos.line_of(k);
    }
  }
  return validate(d, source, network);
}

std::vector<std::string> addresses_of(const Host& h) {
  std::vector<std::string> out;
  for (auto* a : {&h.address, &h.ipv4, &h.ipv6})
    if (!a->empty() && std::find(out.begin(), out.end(), *a) == out.end()) out.push_back(*a);
  return out;
}

Fleet load_fleet(const fs::path& path, const std::string& network) {
  std::ifstream in(path);
  if (!in) throw InventoryError({path.string() + ": cannot read the inventory"});
  std::stringstream ss;
  ss << in.rdbuf();
  auto f = path.extension() == ".json" ? parse_fleet_json(ss.str(), path.string(), network)
                                          : parse_fleet_toml(ss.str(), path.string(), network);
  f.path = path;
  return f;
}

std::string render_fleet_toml(const Fleet& f) {
  std::ostringstream o;
  o << "# x0x fleet inventory (schema in ../shared/spec/deploy-and-harvest.md §1.7).\n"
    << "schema_version = 1\n"
    << "fleet = " << toml_quote(f.name) << "\n\n[defaults]\nanchor = " << toml_quote(f.anchor) << "\n";
  auto list = [](const std::vector<std::string>& v) {
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + toml_quote(v[i]);
    return out + "]";
  };
  if (f.chaos_configured)
    o << "\n[chaos]\nallow = " << list(f.chaos_allow) << "\nforbid_networks = " << list(f.chaos_forbid_networks) << "\n";
  for (auto& h : f.hosts) {
    o << "\n[[host]]\nname = " << toml_quote(h.name) << "\naddress = " << toml_quote(h.address)
      << "\ntransport = " << toml_quote(h.transport) << "\napi_addr = " << toml_quote(h.api_addr)
      << "\ntoken_path = " << toml_quote(h.token_path) << "\n";
    if (!h.install_root.empty()) o << "install_root = " << toml_quote(h.install_root) << "\n";
    if (!h.ipv4.empty()) o << "ipv4 = " << toml_quote(h.ipv4) << "\n";
    if (!h.ipv6.empty()) o << "ipv6 = " << toml_quote(h.ipv6) << "\n";
    if (h.transport == "ssh")
      o << "ssh_user = " << toml_quote(h.ssh_user) << "\nssh_port = " << h.ssh_port
        << "\nssh_identity = " << toml_quote(h.ssh_identity) << "\nknown_hosts = " << toml_quote(h.known_hosts)
        << "\nservice_manager = " << toml_quote(h.service_manager) << "\n" << (h.ssh_command_shell ? "" : "ssh_command_shell = false\n");
    if (!h.gossip_addr.empty()) o << "gossip_addr = " << toml_quote(h.gossip_addr) << "\n";
    if (!h.service.empty()) o << "service = " << toml_quote(h.service) << "\n";
    if (!h.roles.empty()) o << "roles = " << list(h.roles) << "\n";
  }
  return o.str();
}

}  // namespace x0x::orchestrator
