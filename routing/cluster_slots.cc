#include "routing/cluster_slots.h"

#include <algorithm>
#include <charconv>

namespace strata {
namespace {

// Table-driven CRC16-XMODEM, the table computed at compile time from the
// polynomial rather than pasted, so there is nothing to mistype.
constexpr std::array<uint16_t, 256> MakeCrc16Table() {
  std::array<uint16_t, 256> t{};
  for (int i = 0; i < 256; i++) {
    uint16_t crc = uint16_t(i << 8);
    for (int b = 0; b < 8; b++) {
      crc = (crc & 0x8000) ? uint16_t((crc << 1) ^ 0x1021) : uint16_t(crc << 1);
    }
    t[i] = crc;
  }
  return t;
}
constexpr std::array<uint16_t, 256> kCrc16Table = MakeCrc16Table();

// Plain decimal digits only (no sign, no spaces), value in [lo, hi].
bool ParseInt(std::string_view s, int lo, int hi, int* out) {
  if (s.empty() || s.size() > 6) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) return false;
  *out = v;
  return true;
}

Status CheckNode(const ClusterNodeInfo& n, const std::string& where) {
  if (n.host.empty()) return Status::BadArgs(where + ".host: empty");
  if (n.port < 1 || n.port > 65535) {
    return Status::BadArgs(where + ".port: " + std::to_string(n.port) + " not in 1..65535");
  }
  return Status::Ok();
}

const std::vector<std::string> kNoReplicas;

}  // namespace

uint16_t Crc16(std::string_view data) {
  uint16_t crc = 0;
  for (unsigned char c : data) crc = uint16_t((crc << 8) ^ kCrc16Table[((crc >> 8) ^ c) & 0xff]);
  return crc;
}

std::string_view HashTagContent(std::string_view key) {
  size_t s = key.find('{');
  if (s == std::string_view::npos) return key;
  size_t e = key.find('}', s + 1);
  if (e == std::string_view::npos || e == s + 1) return key;
  return key.substr(s + 1, e - s - 1);
}

int KeySlot(std::string_view key) { return Crc16(HashTagContent(key)) & (kClusterSlots - 1); }

std::string FormatAddress(std::string_view host, int port) {
  std::string out(host);
  out += ':';
  out += std::to_string(port);
  return out;
}

StatusOr<HostPort> SplitHostPort(std::string_view address) {
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) {
    return Status::BadArgs("address '" + std::string(address) + "': no ':port'");
  }
  std::string_view host = address.substr(0, colon);
  std::string_view port_text = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = 0;
  if (!ParseInt(port_text, 1, 65535, &port)) {
    return Status::BadArgs("address '" + std::string(address) + "': port not in 1..65535");
  }
  return HostPort{std::string(host), port};
}

SlotMap::SlotMap() { slot_owner_.fill(kNone); }

uint32_t SlotMap::Intern(std::string_view master) {
  for (uint32_t i = 0; i < owners_.size(); i++) {
    if (owners_[i].master == master) return i;
  }
  owners_.push_back(Owner{std::string(master), {}});
  return uint32_t(owners_.size() - 1);
}

StatusOr<SlotMap> SlotMap::Build(const std::vector<ClusterSlotRange>& ranges) {
  SlotMap map;
  for (size_t r = 0; r < ranges.size(); r++) {
    const ClusterSlotRange& range = ranges[r];
    const std::string where = "ranges[" + std::to_string(r) + "]";
    if (range.start < 0 || range.start >= kClusterSlots) {
      return Status::BadArgs(where + ".start: " + std::to_string(range.start) + " not in 0..16383");
    }
    if (range.end < 0 || range.end >= kClusterSlots) {
      return Status::BadArgs(where + ".end: " + std::to_string(range.end) + " not in 0..16383");
    }
    if (range.start > range.end) {
      return Status::BadArgs(where + ".start: " + std::to_string(range.start) + " > end " +
                             std::to_string(range.end));
    }
    if (Status s = CheckNode(range.master, where + ".master"); !s.ok()) return s;
    for (size_t i = 0; i < range.replicas.size(); i++) {
      Status s = CheckNode(range.replicas[i], where + ".replicas[" + std::to_string(i) + "]");
      if (!s.ok()) return s;
    }
    uint32_t owner = map.Intern(FormatAddress(range.master.host, range.master.port));
    // A master with several ranges lists its replicas in each; keep the union.
    std::vector<std::string>& replicas = map.owners_[owner].replicas;
    for (const ClusterNodeInfo& n : range.replicas) {
      std::string addr = FormatAddress(n.host, n.port);
      if (std::find(replicas.begin(), replicas.end(), addr) == replicas.end()) {
        replicas.push_back(std::move(addr));
      }
    }
    for (int slot = range.start; slot <= range.end; slot++) {
      if (map.slot_owner_[slot] != kNone) {
        return Status::BadArgs(where + ": slot " + std::to_string(slot) +
                               " already assigned by an earlier range");
      }
      map.slot_owner_[slot] = owner;
    }
  }
  return map;
}

Status SlotMap::Update(int slot, std::string_view address) {
  if (slot < 0 || slot >= kClusterSlots) {
    return Status::BadArgs("slot " + std::to_string(slot) + " not in 0..16383");
  }
  StatusOr<HostPort> hp = SplitHostPort(address);
  if (!hp.ok()) return hp.status();
  if (hp->host.empty()) {
    return Status::BadArgs("address '" + std::string(address) + "': empty host");
  }
  slot_owner_[slot] = Intern(FormatAddress(hp->host, hp->port));
  return Status::Ok();
}

std::string_view SlotMap::Lookup(int slot) const {
  if (slot < 0 || slot >= kClusterSlots || slot_owner_[slot] == kNone) return {};
  return owners_[slot_owner_[slot]].master;
}

const std::vector<std::string>& SlotMap::Replicas(int slot) const {
  if (slot < 0 || slot >= kClusterSlots || slot_owner_[slot] == kNone) return kNoReplicas;
  return owners_[slot_owner_[slot]].replicas;
}

std::vector<bool> SlotMap::UsedOwners() const {
  std::vector<bool> used(owners_.size(), false);
  for (uint32_t o : slot_owner_) {
    if (o != kNone) used[o] = true;
  }
  return used;
}

std::vector<std::string> SlotMap::Masters() const {
  const std::vector<bool> used = UsedOwners();
  std::vector<std::string> out;
  for (size_t i = 0; i < owners_.size(); i++) {
    if (used[i]) out.push_back(owners_[i].master);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> SlotMap::Nodes() const {
  const std::vector<bool> used = UsedOwners();
  std::vector<std::string> out;
  for (size_t i = 0; i < owners_.size(); i++) {
    if (!used[i]) continue;
    out.push_back(owners_[i].master);
    out.insert(out.end(), owners_[i].replicas.begin(), owners_[i].replicas.end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

int SlotMap::CoveredSlots() const {
  return int(
      std::count_if(slot_owner_.begin(), slot_owner_.end(), [](uint32_t o) { return o != kNone; }));
}

StatusOr<Redirect> ParseRedirect(std::string_view error) {
  auto bad = [&](const char* why) {
    return Status::BadArgs(std::string("redirect '") + std::string(error.substr(0, 128)) +
                           "': " + why);
  };
  Redirect r;
  std::string_view rest;
  if (error.substr(0, 6) == "MOVED ") {
    r.kind = Redirect::Kind::kMoved;
    rest = error.substr(6);
  } else if (error.substr(0, 4) == "ASK ") {
    r.kind = Redirect::Kind::kAsk;
    rest = error.substr(4);
  } else {
    return bad("not MOVED or ASK");
  }
  size_t sp = rest.find(' ');
  if (sp == std::string_view::npos) return bad("missing address");
  if (!ParseInt(rest.substr(0, sp), 0, kClusterSlots - 1, &r.slot)) {
    return bad("slot not a number in 0..16383");
  }
  std::string_view address = rest.substr(sp + 1);
  if (address.empty()) return bad("missing address");
  for (char c : address) {
    // Spaces mean extra fields; control bytes never belong in an endpoint.
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return bad("bad byte in address");
  }
  StatusOr<HostPort> hp = SplitHostPort(address);
  if (!hp.ok()) return bad("address is not host:port with port 1..65535");
  r.host = std::move(hp->host);
  r.port = hp->port;
  return r;
}

}  // namespace strata
