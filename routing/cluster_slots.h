// Redis Cluster placement: CRC16 key slots, the slot -> node map, and the
// parser for MOVED/ASK redirect errors.
//
// Everything here is pure: the tier (tiers/redis_cluster_*) does the I/O,
// turns a CLUSTER SLOTS reply into the neutral ClusterSlotRange form below,
// and feeds MOVED errors back through ParseRedirect() and SlotMap::Update().
//
// Thread affinity: the free functions are pure and may be called from any
// thread. A SlotMap is plain data: once built it may be shared read-only
// between threads; Update() mutates it and needs external synchronisation
// (or, the intended use, one map per worker loop / copy-on-write).
// Ownership: SlotMap owns copies of every string it was given.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace strata {

inline constexpr int kClusterSlots = 16384;

// CRC16-CCITT (XMODEM): poly 0x1021, init 0, no reflection, no final xor,
// as in Redis's crc16.c. Crc16("123456789") == 0x31C3.
uint16_t Crc16(std::string_view data);

// Redis Cluster's hash-tag rule (cluster.c keyHashSlot): if the key has a
// '{', and a '}' somewhere after that first '{', and the bytes between them
// are non-empty, return those bytes; otherwise return the whole key.
// "{user42}:a" -> "user42"; "{}x" -> "{}x"; "{{a}}" -> "{a"; "a{b}c{d}" -> "b".
// The returned view points into `key`.
std::string_view HashTagContent(std::string_view key);

// The Redis Cluster slot of a key: Crc16(HashTagContent(key)) & 16383.
int KeySlot(std::string_view key);

// One node as listed by CLUSTER SLOTS. Redis 7 may add a 4th element (a map
// of hostname etc.); the adapter drops what it does not need.
struct ClusterNodeInfo {
  std::string host;
  int port = 0;
  std::string id;  // node id (40 hex chars); may be empty (Redis < 4 omits it)
};

// One entry of CLUSTER SLOTS: slots [start, end] served by master.
struct ClusterSlotRange {
  int start = 0;
  int end = 0;
  ClusterNodeInfo master;
  std::vector<ClusterNodeInfo> replicas;
};

// "host:port" as Redis itself prints it in MOVED: no brackets, so an IPv6
// host gives "::1:7000". Split with the *last* ':' (see SplitHostPort).
std::string FormatAddress(std::string_view host, int port);

struct HostPort {
  std::string host;
  int port = 0;
};
// Splits "host:port" at the last ':'. Accepts "[::1]:7000" too (brackets are
// dropped). Port must be 1..65535 in plain decimal. The host may be empty
// (Redis 7 sends "MOVED 1 :6380" when the node's endpoint is unknown:
// "same host as the connection that got the redirect"); callers that need a
// host check for that.
StatusOr<HostPort> SplitHostPort(std::string_view address);

// slot -> master address ("host:port"), plus each slot's replicas.
class SlotMap {
 public:
  // An empty map: every slot unknown.
  SlotMap();

  // Validates every range: 0 <= start <= end <= 16383, no two ranges overlap,
  // every node (master and replicas) has a non-empty host and a port in
  // 1..65535. On error returns BadArgs naming the range index and the field,
  // e.g. "ranges[2].master.port: 70000 not in 1..65535". Slots not covered by
  // any range stay unknown (a cluster may have unassigned slots).
  static StatusOr<SlotMap> Build(const std::vector<ClusterSlotRange>& ranges);

  // Applies a MOVED redirect: `slot` is now served by `address` ("host:port",
  // non-empty host). Replicas belong to a master, not to a slot: the slot now
  // reports the replicas already known for `address` (none if it is new; the
  // next topology refresh fills them in). BadArgs if slot or address is bad.
  Status Update(int slot, std::string_view address);

  // The master address for `slot`, or "" if the slot is unassigned or out of
  // range. The view stays valid until the next Update() or destruction.
  std::string_view Lookup(int slot) const;

  // Replica addresses of the slot's master ("host:port"); empty if none or unknown.
  const std::vector<std::string>& Replicas(int slot) const;

  // Distinct master addresses currently owning at least one slot, sorted.
  std::vector<std::string> Masters() const;
  // Those masters and their replicas: every node the map points to, sorted.
  std::vector<std::string> Nodes() const;

  // Number of slots with a known owner (16384 for a healthy cluster).
  int CoveredSlots() const;

 private:
  struct Owner {
    std::string master;
    std::vector<std::string> replicas;
  };
  static constexpr uint32_t kNone = UINT32_MAX;

  // Index of the owner whose master is `master`, adding one if needed.
  uint32_t Intern(std::string_view master);

  // One entry per distinct master address ever seen; bounded by the number of
  // nodes the cluster has had, so Update() cannot grow it without limit.
  // owners_[i] owns at least one slot (Update can leave an owner with none).
  std::vector<bool> UsedOwners() const;

  std::vector<Owner> owners_;
  std::array<uint32_t, kClusterSlots> slot_owner_;  // index into owners_, or kNone
};

// A MOVED or ASK error from Redis Cluster, parsed.
struct Redirect {
  enum class Kind { kMoved, kAsk };
  Kind kind = Kind::kMoved;
  int slot = 0;
  std::string host;  // may be empty: "same host as the request" (Redis 7)
  int port = 0;
  std::string Address() const { return FormatAddress(host, port); }
};

// Parses "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>" (the
// error text as hiredis reports it: no leading '-', no CRLF). Exactly one
// space between fields; slot is decimal 0..16383; the address is split at its
// last ':' so "::1:7000" is host "::1" (Redis prints IPv6 without brackets);
// "[::1]:7000" is accepted too. Anything else is BadArgs with the reason.
StatusOr<Redirect> ParseRedirect(std::string_view error);

}  // namespace strata
