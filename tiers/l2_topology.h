// Reading Redis Cluster's topology from a CLUSTER SLOTS reply.
//
// Thread affinity: pure functions.
#pragma once

#include <string_view>
#include <vector>

#include "common/status.h"
#include "routing/cluster_slots.h"
#include "tiers/redis_connection.h"

namespace strata {

// Turns a CLUSTER SLOTS reply into slot ranges. Each entry is
// [start, end, master, replica...]; each node is [host, port, id?, extra?].
// An empty host or "?" (Redis 7: endpoint unknown / "same as the
// connection") becomes `connection_host`. Anything malformed is Internal
// naming the entry and field ("CLUSTER SLOTS entry 2: port is not an
// integer"); the caller keeps its old map.
StatusOr<std::vector<ClusterSlotRange>> ParseClusterSlotsReply(const RedisReply& reply,
                                                               std::string_view connection_host);

}  // namespace strata
