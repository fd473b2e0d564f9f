#include "tiers/l2_topology.h"

#include <string>

namespace strata {
namespace {

Status Bad(size_t entry, const std::string& what) {
  return Status::Internal("CLUSTER SLOTS entry " + std::to_string(entry) + ": " + what);
}

Status ParseNode(const RedisReply& r, size_t entry, std::string_view connection_host,
                 ClusterNodeInfo* out) {
  if (r.type != RedisReply::Type::kArray || r.elements.size() < 2) {
    return Bad(entry, "node is not an array of at least [host, port]");
  }
  const RedisReply& host = r.elements[0];
  const RedisReply& port = r.elements[1];
  if (host.type != RedisReply::Type::kString && host.type != RedisReply::Type::kNil) {
    return Bad(entry, "host is not a string");
  }
  if (port.type != RedisReply::Type::kInteger) return Bad(entry, "port is not an integer");
  if (port.integer < 1 || port.integer > 65535) {
    return Bad(entry, "port " + std::to_string(port.integer) + " not in 1..65535");
  }
  out->host = host.str;
  if (out->host.empty() || out->host == "?") out->host = std::string(connection_host);
  out->port = static_cast<int>(port.integer);
  if (r.elements.size() >= 3 && r.elements[2].type == RedisReply::Type::kString) {
    out->id = r.elements[2].str;
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::vector<ClusterSlotRange>> ParseClusterSlotsReply(const RedisReply& reply,
                                                               std::string_view connection_host) {
  if (reply.is_error()) return Status::Internal("CLUSTER SLOTS: " + reply.str);
  if (reply.type != RedisReply::Type::kArray) {
    return Status::Internal("CLUSTER SLOTS: reply is not an array");
  }
  std::vector<ClusterSlotRange> ranges;
  ranges.reserve(reply.elements.size());
  for (size_t i = 0; i < reply.elements.size(); ++i) {
    const RedisReply& e = reply.elements[i];
    if (e.type != RedisReply::Type::kArray || e.elements.size() < 3) {
      return Bad(i, "not an array of at least [start, end, master]");
    }
    if (e.elements[0].type != RedisReply::Type::kInteger ||
        e.elements[1].type != RedisReply::Type::kInteger) {
      return Bad(i, "start or end is not an integer");
    }
    ClusterSlotRange range;
    // SlotMap::Build validates the bounds; keep out-of-int values out of it.
    if (e.elements[0].integer < 0 || e.elements[0].integer >= kClusterSlots ||
        e.elements[1].integer < 0 || e.elements[1].integer >= kClusterSlots) {
      return Bad(i, "slot range " + std::to_string(e.elements[0].integer) + ".." +
                        std::to_string(e.elements[1].integer) + " outside 0..16383");
    }
    range.start = static_cast<int>(e.elements[0].integer);
    range.end = static_cast<int>(e.elements[1].integer);
    Status s = ParseNode(e.elements[2], i, connection_host, &range.master);
    if (!s.ok()) return s;
    for (size_t j = 3; j < e.elements.size(); ++j) {
      ClusterNodeInfo replica;
      s = ParseNode(e.elements[j], i, connection_host, &replica);
      if (!s.ok()) return s;
      range.replicas.push_back(std::move(replica));
    }
    ranges.push_back(std::move(range));
  }
  return ranges;
}

}  // namespace strata
