#include "node/faults.h"

#include <map>

#include <nlohmann/json.hpp>

#include "core/encoding.h"

namespace x0x::node {

using nlohmann::json;

static std::uint64_t get_uint(const json& body, const char* field, std::uint64_t max, std::uint64_t min = 0) {
  const auto& v = body.at(field);
  auto range = std::to_string(min) + ".." + std::to_string(max);
  if (!v.is_number_integer() && !v.is_number_unsigned()) throw FaultError(std::string(field) + ": expected an integer in " + range);
  auto n = v.get<std::int64_t>();
  if (n < static_cast<std::int64_t>(min) || static_cast<std::uint64_t>(n) > max)
    throw FaultError(std::string(field) + ": must be in " + range);
  return static_cast<std::uint64_t>(n);
}

static std::set<std::string> get_ids(const json& body, const char* field) {
  const auto& v = body.at(field);
  if (!v.is_array()) throw FaultError(std::string(field) + ": expected a list of 64-hex ids");
  std::set<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string() || !is_hex(v[i].get<std::string>(), 64))
      throw FaultError(std::string(field) + "[" + std::to_string(i) + "]: expected a 64-hex agent or machine id");
    auto id = v[i].get<std::string>();
    for (auto& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.insert(std::move(id));
  }
  return out;
}

static bool get_bool(const json& body, const char* field) {
  const auto& v = body.at(field);
  if (!v.is_boolean()) throw FaultError(std::string(field) + ": expected true or false");
  return v.get<bool>();
}

json Faults::apply(const json& body) {
  if (!body.is_object()) throw FaultError("body: expected a JSON object");
  static const std::set<std::string> known = {"delay_ms", "jitter_ms", "window_frames", "loss", "partition",
                                              "stall_dispatcher", "stale", "lease_secs", "peers", "renew"};
  for (auto& [k, _] : body.items())
    if (!known.count(k)) throw FaultError(k + ": unknown fault field");
  if (body.contains("renew")) return renew(body);

  // Validate everything before changing anything.
  std::uint64_t lease = body.contains("lease_secs") ? get_uint(body, "lease_secs", 7 * 24 * 3600, 1) : kDefaultLeaseSecs;
  std::optional<std::uint64_t> delay, jitter, window;
  std::optional<double> loss;
  std::optional<std::set<std::string>> partition, peers;
  std::optional<bool> stall, stale;
  if (body.contains("delay_ms")) delay = get_uint(body, "delay_ms", 600'000);
  if (body.contains("jitter_ms")) jitter = get_uint(body, "jitter_ms", 600'000);
  if (body.contains("window_frames")) window = get_uint(body, "window_frames", 100'000);
  if (window && !delay && !jitter) throw FaultError("window_frames: shapes a delay, so delay_ms is required");
  if (body.contains("loss")) {
    const auto& v = body.at("loss");
    if (!v.is_number() || v.get<double>() < 0.0 || v.get<double>() > 1.0)
      throw FaultError("loss: expected a number in 0.0..1.0");
    loss = v.get<double>();
  }
  if (body.contains("partition")) partition = get_ids(body, "partition");
  if (body.contains("peers")) peers = get_ids(body, "peers");
  if (body.contains("stall_dispatcher")) stall = get_bool(body, "stall_dispatcher");
  if (body.contains("stale")) stale = get_bool(body, "stale");
  if (peers && !delay && !jitter && !loss)
    throw FaultError("peers: narrows delay_ms/jitter_ms/loss, so one of them is required");

  Armed armed{Clock::now() + std::chrono::seconds(lease), unix_ms() + lease * 1000, lease};
  {
    std::lock_guard lk(mu_);
    if (!live(delay_armed_)) delay_armed_.reset();
    if (!live(loss_armed_)) loss_armed_.reset();
    if (!live(partition_armed_)) partition_armed_.reset();
    reset_lapsed();  // a lapsed kind not yet expired by the tick: its parameters go too
    if (delay || jitter) {
      delay_ms_ = delay.value_or(delay_ms_);
      jitter_ms_ = jitter.value_or(jitter_ms_);
      window_frames_ = window.value_or(0);
      delay_peers_ = peers.value_or(std::set<std::string>{});
      delay_armed_ = (delay_ms_ || jitter_ms_) ? std::optional(armed) : std::nullopt;
    }
    if (loss) {
      loss_ = *loss;
      loss_peers_ = peers.value_or(std::set<std::string>{});
      loss_armed_ = loss_ > 0 ? std::optional(armed) : std::nullopt;
    }
    if (partition) {
      partition_ = *partition;
      partition_armed_ = partition_.empty() ? std::nullopt : std::optional(armed);
    }
    if (stall) stall_armed_ = *stall ? std::optional(armed) : std::nullopt;
    if (stale) stale_armed_ = *stale ? std::optional(armed) : std::nullopt;
    refresh_any();
  }
  return to_json();
}

json Faults::renew(const json& body) {
  static const std::set<std::string> kinds = {"delay", "loss", "partition", "stall_dispatcher", "stale"};
  for (auto& [k, _] : body.items())
    if (k != "renew" && k != "lease_secs") throw FaultError(k + ": a renewal carries only renew and lease_secs");
  if (!body.contains("lease_secs")) throw FaultError("lease_secs: a renewal needs the new lease");
  auto lease = get_uint(body, "lease_secs", 7 * 24 * 3600, 1);
  const auto& names = body.at("renew");
  if (!names.is_array() || names.empty()) throw FaultError("renew: expected a list of active fault kinds");
  for (auto& n : names)
    if (!n.is_string() || !kinds.count(n.get<std::string>()))
      throw FaultError("renew: expected kinds among delay, loss, partition, stall_dispatcher, stale");
  Armed armed{Clock::now() + std::chrono::seconds(lease), unix_ms() + lease * 1000, lease};
  {
    std::lock_guard lk(mu_);
    std::map<std::string, std::optional<Armed>*> slot = {{"delay", &delay_armed_}, {"loss", &loss_armed_},
                                                         {"partition", &partition_armed_},
                                                         {"stall_dispatcher", &stall_armed_}, {"stale", &stale_armed_}};
    for (auto& n : names)
      if (auto* a = slot.at(n.get<std::string>()); live(*a)) *a = armed;  // a lapsed kind stays lapsed
  }
  return to_json();
}

void Faults::clear() {
  std::lock_guard lk(mu_);
  delay_armed_ = loss_armed_ = partition_armed_ = stall_armed_ = stale_armed_ = std::nullopt;
  reset_lapsed();
  refresh_any();
}

// A kind that is not armed keeps no parameter: a later POST starts from zero,
// never from what an old, lapsed fault had set (an old jitter coming back).
void Faults::reset_lapsed() {
  if (!delay_armed_) {
    delay_ms_ = jitter_ms_ = window_frames_ = 0;
    delay_peers_.clear();
  }
  if (!loss_armed_) {
    loss_ = 0;
    loss_peers_.clear();
  }
  if (!partition_armed_) partition_.clear();
}

void Faults::refresh_any() {
  any_ = delay_armed_ || loss_armed_ || partition_armed_ || stall_armed_ || stale_armed_;
}

bool Faults::expire(Clock::time_point now) {
  std::lock_guard lk(mu_);
  bool changed = false;
  for (auto* a : {&delay_armed_, &loss_armed_, &partition_armed_, &stall_armed_, &stale_armed_})
    if (*a && now >= (*a)->expires) {
      a->reset();
      changed = true;
    }
  reset_lapsed();
  refresh_any();
  return changed;
}

json Faults::to_json() const {
  std::lock_guard lk(mu_);
  auto now = Clock::now();
  auto lease = [&](const Armed& a) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(a.expires - now).count();
    return json{{"lease_secs", a.lease_secs}, {"expires_at_unix_ms", a.expires_unix_ms},
                {"expires_in_ms", std::max<std::int64_t>(0, left)}};
  };
  json active = json::object();
  auto peers_json = [](const std::set<std::string>& p) { return p.empty() ? json("all") : json(p); };
  if (live(delay_armed_)) {
    auto j = lease(*delay_armed_);
    j["delay_ms"] = delay_ms_;
    j["jitter_ms"] = jitter_ms_;
    j["window_frames"] = window_frames_;
    j["peers"] = peers_json(delay_peers_);
    active["delay"] = j;
  }
  if (live(loss_armed_)) {
    auto j = lease(*loss_armed_);
    j["loss"] = loss_;
    j["peers"] = peers_json(loss_peers_);
    active["loss"] = j;
  }
  if (live(partition_armed_)) {
    auto j = lease(*partition_armed_);
    j["partition"] = partition_;
    active["partition"] = j;
  }
  if (live(stall_armed_)) active["stall_dispatcher"] = lease(*stall_armed_);
  if (live(stale_armed_)) active["stale"] = lease(*stale_armed_);
  return {{"ok", true}, {"active", active}, {"any", !active.empty()}};
}

bool Faults::targets(const std::set<std::string>& peers, const std::string& a, const std::string& m) const {
  return peers.empty() || peers.count(a) || peers.count(m);
}

bool Faults::partitioned(const std::string& agent_id, const std::string& machine_id) const {
  if (!any()) return false;
  std::lock_guard lk(mu_);
  return live(partition_armed_) && (partition_.count(agent_id) || partition_.count(machine_id));
}

bool Faults::stale() const {
  if (!any()) return false;
  std::lock_guard lk(mu_);
  return live(stale_armed_);
}

bool Faults::stall_dispatcher() const {
  if (!any()) return false;
  std::lock_guard lk(mu_);
  return live(stall_armed_);
}

bool Faults::drop(const std::string& agent_id, const std::string& machine_id) {
  if (!any()) return false;
  std::lock_guard lk(mu_);
  if (!live(loss_armed_) || !targets(loss_peers_, agent_id, machine_id)) return false;
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < loss_;
}

bool Faults::delaying(const std::string& agent_id, const std::string& machine_id) const {
  if (!any()) return false;
  std::lock_guard lk(mu_);
  return live(delay_armed_) && targets(delay_peers_, agent_id, machine_id);
}

std::uint64_t Faults::window_frames(const std::string& agent_id, const std::string& machine_id) const {
  if (!any()) return 0;
  std::lock_guard lk(mu_);
  return live(delay_armed_) && targets(delay_peers_, agent_id, machine_id) ? window_frames_ : 0;
}

std::chrono::milliseconds Faults::delay(const std::string& agent_id, const std::string& machine_id) {
  if (!any()) return std::chrono::milliseconds(0);
  std::lock_guard lk(mu_);
  if (!live(delay_armed_) || !targets(delay_peers_, agent_id, machine_id))
    return std::chrono::milliseconds(0);
  double d = static_cast<double>(delay_ms_);
  if (jitter_ms_) d = std::normal_distribution<double>(d, static_cast<double>(jitter_ms_))(rng_);
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::max(0.0, d)));
}

}  // namespace x0x::node
