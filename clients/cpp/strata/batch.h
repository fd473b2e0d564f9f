// Batch: a list of requests sent to the server in one write (pipelining).
//
//   strata::client::Batch b;
//   auto g = b.Get("k");            // typed handle to the future result
//   auto s = b.Set("k2", "v");
//   Status st = client.Execute(b);  // one write; responses matched by msgid
//   StatusOr<std::optional<std::string>> v = b.Result(g);
//
// Each call gets its own StatusOr: a server error for one entry (say a value
// over max_value_bytes) does not affect the others. If the connection fails
// or times out, Execute returns that Status and every entry not yet answered
// gets it too. Requests take effect in the order added (protocol "Order").
//
// A Batch may be executed again (it is re-sent and its results replaced) and
// Clear()ed for reuse. Thread affinity: none, but not safe for concurrent use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "strata/options.h"
#include "strata/value.h"

namespace strata::client {

// Handle to one entry of a Batch; T is the type Result() returns.
template <typename T>
struct Ref {
  size_t index = 0;
};

using OptionalBytes = std::optional<std::string>;
using StatsMap = std::map<std::string, double>;

class Batch {
 public:
  Ref<OptionalBytes> Get(std::string_view key);
  Ref<bool> Set(std::string_view key, std::string_view value, const SetOptions& opts = {});
  Ref<bool> Del(const std::vector<std::string>& keys);
  Ref<std::vector<OptionalBytes>> MGet(const std::vector<std::string>& keys);
  Ref<bool> MSet(const std::vector<std::pair<std::string, std::string>>& pairs,
                 const MSetOptions& opts = {});
  Ref<int64_t> Ttl(std::string_view key);
  Ref<bool> Expire(std::string_view key, int64_t ttl_ms);
  Ref<int64_t> Exists(const std::vector<std::string>& keys);
  Ref<std::string> Ping();
  Ref<StatsMap> Stats();

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  void Clear();

  // After Execute: the entry's result converted to T, or its error. A result
  // whose shape does not match the method is Internal.
  template <typename T>
  StatusOr<T> Result(Ref<T> ref) const;
  // The entry's error (Ok on success) and raw decoded result.
  const Status& status(size_t i) const { return entries_[i].status; }
  const Value& raw(size_t i) const { return entries_[i].result; }

 private:
  friend class Client;
  struct Entry {
    size_t offset = 0;  // of the encoded request's msgid inside buf_
    Status status = Status::Internal("not executed");
    Value result;
    bool done = false;
  };
  size_t Add(size_t offset);

  // Encoded requests, each with a placeholder msgid that Execute patches
  // (uint32 msgpack encoding at a fixed offset), so re-executing is cheap.
  std::string buf_;
  std::vector<Entry> entries_;
};

}  // namespace strata::client
