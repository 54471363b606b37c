// PlumTree eager/lazy peer sets per topic (Leitão et al., "Epidemic Broadcast
// Trees"). Pure bookkeeping, no I/O: the gossip engine asks it whom to push a
// message to eagerly and whom to tell lazily (IHAVE), and feeds back
// duplicates (PRUNE), prunes received, and grafts. Not thread-safe.
#pragma once
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace x0x::node {

class PlumTree {
 public:
  enum class Role { eager, lazy, none };
  struct Targets {
    std::vector<std::string> eager, lazy;
  };

  // lazy_target: how many of the lazy peers one message is announced to (IHAVE),
  // drawn at random per message; 0 = all of them. On a fully connected mesh of n
  // nodes "all" is n-1-eager frames per message per node (O(n²) per message).
  explicit PlumTree(std::size_t eager_target, std::size_t lazy_target = 0, std::uint64_t seed = std::random_device{}());

  void add_peer(const std::string& peer);
  void remove_peer(const std::string& peer);
  const std::set<std::string>& peers() const { return peers_; }

  // Whom to push to for `topic`, never including `exclude` (the sender): every
  // eager peer, and lazy_target random lazy ones.
  Targets targets(const std::string& topic, const std::string& exclude = {});

  // A duplicate arrived from `from`: it becomes lazy. Returns true when it was
  // eager, i.e. when a PRUNE should be sent back.
  bool on_duplicate(const std::string& topic, const std::string& from);
  // The peer asked us (PRUNE) to stop pushing eagerly to it.
  void on_prune(const std::string& topic, const std::string& from);
  // The peer asked us (GRAFT) to push eagerly again, or we graft it ourselves
  // because its IHAVE announced a message we missed.
  void on_graft(const std::string& topic, const std::string& from);
  // Cooling removes a slow peer from the eager set without a PRUNE.
  void demote(const std::string& topic, const std::string& peer);

  Role role(const std::string& topic, const std::string& peer) const;
  std::vector<std::string> topics() const;
  std::size_t eager_target() const { return eager_target_; }

 private:
  struct TopicSets {
    std::set<std::string> eager, lazy;
  };
  TopicSets& topic(const std::string& name);

  std::size_t eager_target_, lazy_target_;
  std::mt19937_64 rng_;
  std::set<std::string> peers_;
  std::map<std::string, TopicSets> topics_;
};

}  // namespace x0x::node
