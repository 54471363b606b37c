#include "node/plumtree.h"

#include <algorithm>
#include <iterator>

namespace x0x::node {

PlumTree::PlumTree(std::size_t eager_target, std::size_t lazy_target, std::uint64_t seed)
    : eager_target_(eager_target == 0 ? 1 : eager_target), lazy_target_(lazy_target), rng_(seed) {}

PlumTree::TopicSets& PlumTree::topic(const std::string& name) {
  auto it = topics_.find(name);
  if (it != topics_.end()) return it->second;
  // A new topic starts with a random eager set of eager_target peers; the
  // rest are lazy. Duplicates then prune it towards a spanning tree.
  TopicSets sets;
  std::vector<std::string> all(peers_.begin(), peers_.end());
  std::shuffle(all.begin(), all.end(), rng_);
  for (std::size_t i = 0; i < all.size(); ++i)
    (i < eager_target_ ? sets.eager : sets.lazy).insert(all[i]);
  return topics_.emplace(name, std::move(sets)).first->second;
}

void PlumTree::add_peer(const std::string& peer) {
  if (!peers_.insert(peer).second) return;
  for (auto& [_, sets] : topics_)
    (sets.eager.size() < eager_target_ ? sets.eager : sets.lazy).insert(peer);
}

void PlumTree::remove_peer(const std::string& peer) {
  peers_.erase(peer);
  for (auto& [_, sets] : topics_) {
    sets.lazy.erase(peer);
    if (sets.eager.erase(peer) && !sets.lazy.empty()) {
      // Keep the tree connected: promote a lazy peer in its place.
      auto it = sets.lazy.begin();
      std::advance(it, std::uniform_int_distribution<std::size_t>(0, sets.lazy.size() - 1)(rng_));
      sets.eager.insert(*it);
      sets.lazy.erase(it);
    }
  }
}

PlumTree::Targets PlumTree::targets(const std::string& name, const std::string& exclude) {
  auto& sets = topic(name);
  Targets t;
  for (auto& p : sets.eager)
    if (p != exclude) t.eager.push_back(p);
  for (auto& p : sets.lazy)
    if (p != exclude) t.lazy.push_back(p);
  if (lazy_target_ != 0 && t.lazy.size() > lazy_target_) {
    std::vector<std::string> some;
    std::sample(t.lazy.begin(), t.lazy.end(), std::back_inserter(some), lazy_target_, rng_);
    t.lazy = std::move(some);
  }
  return t;
}

bool PlumTree::on_duplicate(const std::string& name, const std::string& from) {
  auto& sets = topic(name);
  if (!sets.eager.erase(from)) return false;
  if (peers_.count(from)) sets.lazy.insert(from);
  return true;
}

void PlumTree::on_prune(const std::string& name, const std::string& from) {
  auto& sets = topic(name);
  if (sets.eager.erase(from) && peers_.count(from)) sets.lazy.insert(from);
}

void PlumTree::on_graft(const std::string& name, const std::string& from) {
  if (!peers_.count(from)) return;
  auto& sets = topic(name);
  sets.lazy.erase(from);
  sets.eager.insert(from);
}

void PlumTree::demote(const std::string& name, const std::string& peer) { on_prune(name, peer); }

PlumTree::Role PlumTree::role(const std::string& name, const std::string& peer) const {
  auto it = topics_.find(name);
  if (it == topics_.end()) return Role::none;
  if (it->second.eager.count(peer)) return Role::eager;
  if (it->second.lazy.count(peer)) return Role::lazy;
  return Role::none;
}

std::vector<std::string> PlumTree::topics() const {
  std::vector<std::string> out;
  for (auto& [name, _] : topics_) out.push_back(name);
  return out;
}

}  // namespace x0x::node
