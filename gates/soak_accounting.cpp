#include "gates/soak_accounting.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>

namespace x0x::gates::soak {
namespace {

// A node's last post and the fleet it came from.
struct LastPost {
  AccountingSample sample;
  int fleet_epoch = 0;
};

bool any_counter_reset(const AccountingSample& from, const AccountingSample& to) {
  return to.completed < from.completed || to.timed_out < from.timed_out || to.dropped_full < from.dropped_full ||
         to.per_peer_timeout < from.per_peer_timeout;
}

// Both lists at once: every unaccounted gap is a gap too.
void gap(WindowAccounting& a, const std::string& node, const char* what, bool accounted) {
  std::string g = node + ":" + what;
  a.gaps.push_back(g);
  if (!accounted) a.unaccounted.push_back(g);
}

WindowAccounting account_one(const SoakWindow& w, std::map<std::string, LastPost>& previous) {
  WindowAccounting a;
  if (w.state == WindowState::skipped || w.state == WindowState::interrupted) return a;

  std::set<std::string> names;  // sorted: the gap lists come out the same on every rescore
  for (auto& [name, _] : previous) names.insert(name);
  for (auto& [name, n] : w.nodes)
    if (n.pre || n.post) {
      names.insert(name);
      a.has_data = true;
    }

  for (auto& name : names) {
    auto node = w.nodes.find(name);
    const std::optional<AccountingSample>* pre = node == w.nodes.end() ? nullptr : &node->second.pre;
    const std::optional<AccountingSample>* post = node == w.nodes.end() ? nullptr : &node->second.post;
    bool has_pre = pre && pre->has_value(), has_post = post && post->has_value();
    auto prev = previous.find(name);

    // Nothing ran between a previous fleet's last post and this fleet's pre.
    bool restarted = prev != previous.end() && w.fleet_epoch > prev->second.fleet_epoch;
    const AccountingSample* baseline = nullptr;
    if (prev != previous.end() && !restarted)
      baseline = &prev->second.sample;
    else if (has_pre)
      baseline = &**pre;

    if (!has_post) {
      gap(a, name, "post", false);
      continue;
    }
    const AccountingSample& to = **post;
    if (!baseline) {
      gap(a, name, "baseline", false);
      previous[name] = {to, w.fleet_epoch};
      continue;
    }
    if (restarted)
      gap(a, name, "fleet_restarted", true);
    else if (!has_pre)
      gap(a, name, "pre", true);
    const AccountingSample from = *baseline;  // a copy: previous[name] is overwritten below
    if (any_counter_reset(from, to)) gap(a, name, "counter_reset", false);

    NodeAccounting n;
    n.disp = std::max(0.0, to.timed_out - from.timed_out);
    n.drop = std::max(0.0, to.dropped_full - from.dropped_full);
    n.pp = std::max(0.0, to.per_peer_timeout - from.per_peer_timeout);
    n.completed = std::max(0.0, to.completed - from.completed);
    n.from_unix = from.unix_time;
    n.to_unix = to.unix_time;
    a.max_disp = std::max(a.max_disp, n.disp);
    a.sum_disp += n.disp;
    a.max_drop = std::max(a.max_drop, n.drop);
    a.sum_drop += n.drop;
    a.max_pp = std::max(a.max_pp, n.pp);
    a.sum_pp += n.pp;
    a.sum_completed += n.completed;
    a.nodes[name] = n;
    previous[name] = {to, w.fleet_epoch};
  }
  return a;
}

}  // namespace

std::vector<WindowAccounting> account_windows(const std::vector<SoakWindow>& windows) {
  std::map<std::string, LastPost> previous;
  std::vector<WindowAccounting> out;
  out.reserve(windows.size());
  for (auto& w : windows) out.push_back(account_one(w, previous));
  return out;
}

}  // namespace x0x::gates::soak
