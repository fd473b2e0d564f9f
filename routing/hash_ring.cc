#include "routing/hash_ring.h"

#include <algorithm>
#include <unordered_set>

#include "routing/cluster_slots.h"
#include "routing/murmur3.h"

namespace strata {

StatusOr<HashRing> HashRing::Build(std::vector<std::string> nodes, int vnodes, bool hash_tags) {
  if (nodes.empty()) return Status::BadArgs("hash ring: no nodes");
  if (vnodes < 1 || vnodes > 65536) {
    return Status::BadArgs("hash ring: vnodes " + std::to_string(vnodes) + " not in 1..65536");
  }
  std::unordered_set<std::string_view> seen;
  for (size_t i = 0; i < nodes.size(); i++) {
    if (nodes[i].empty()) {
      return Status::BadArgs("hash ring: nodes[" + std::to_string(i) + "] empty");
    }
    if (!seen.insert(nodes[i]).second) {
      return Status::BadArgs("hash ring: node '" + nodes[i] + "' listed twice");
    }
  }

  HashRing ring;
  ring.nodes_ = std::move(nodes);
  ring.vnodes_ = vnodes;
  ring.hash_tags_ = hash_tags;
  ring.points_.reserve(ring.nodes_.size() * size_t(vnodes));
  std::string label;
  for (uint32_t n = 0; n < ring.nodes_.size(); n++) {
    for (int i = 0; i < vnodes; i++) {
      label = ring.nodes_[n];
      label += '#';
      label += std::to_string(i);
      ring.points_.push_back(Point{KeyHash(label), n});
    }
  }
  // Ties broken by name, not list position, so placement ignores list order.
  const std::vector<std::string>& names = ring.nodes_;
  std::sort(ring.points_.begin(), ring.points_.end(), [&names](const Point& a, const Point& b) {
    if (a.hash != b.hash) return a.hash < b.hash;
    return names[a.node] < names[b.node];
  });
  return ring;
}

std::string_view HashRing::RoutingBytes(std::string_view key) const {
  return hash_tags_ ? HashTagContent(key) : key;
}

size_t HashRing::Owner(std::string_view key) const {
  const uint64_t h = KeyHash(RoutingBytes(key));
  auto it = std::lower_bound(points_.begin(), points_.end(), h,
                             [](const Point& p, uint64_t v) { return p.hash < v; });
  if (it == points_.end()) it = points_.begin();
  return it->node;
}

}  // namespace strata
