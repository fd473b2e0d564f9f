// Server::Metrics and Server::Stats: every number Strata exports, gathered
// from the loops' counters, the shared tiers and the admin server into one
// MetricsSnapshot. /metrics renders it as Prometheus text; the msgpack
// `stats` method and /stats flatten it (plus two legacy totals).
//
// Runs on any thread (a worker answering `stats`, the admin thread): it only
// reads atomics and the tiers' thread-safe stats.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "proxy/admin_server.h"
#include "proxy/huge_pages.h"
#include "proxy/metrics.h"
#include "proxy/server.h"
#include "proxy/worker.h"

#ifndef STRATA_VERSION
#define STRATA_VERSION "unknown"
#endif

namespace strata {

namespace {

constexpr double kNsToSeconds = 1e-9;

uint64_t Load(const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

void AddTier(MetricsSnapshot& snap, const char* tier, const std::vector<const TierMetrics*>& loops,
             const std::vector<uint64_t>& edges) {
  uint64_t hits = 0, misses = 0, errors = 0;
  HistogramData latency;
  for (const TierMetrics* m : loops) {
    hits += m->hits.Get();
    misses += m->misses.Get();
    errors += m->errors.Get();
    latency.Merge(m->get_latency.Snapshot());
  }
  MetricFamily& lookups = snap.Counter(
      "tier_lookups", "Lookups the read chain sent to each tier, by result (hit, miss, error)");
  lookups.Set({{"tier", tier}, {"result", "hit"}}, double(hits));
  lookups.Set({{"tier", tier}, {"result", "miss"}}, double(misses));
  lookups.Set({{"tier", tier}, {"result", "error"}}, double(errors));
  snap.Histogram("tier_lookup_duration_seconds",
                 "Time from asking a tier for a key to its answer (L1: in memory; L2: a Redis "
                 "round trip; L3: block cache or disk read)",
                 kNsToSeconds, edges)
      .Set({{"tier", tier}}, latency);
}

}  // namespace

MetricsSnapshot Server::Metrics() const {
  MetricsSnapshot snap;
  const int64_t now = SystemClock::Default()->NowMs();

  snap.Gauge("build_info", "Always 1; the labels say which Strata this is")
      .Set({{"version", STRATA_VERSION}}, 1);
  snap.Gauge("uptime_seconds", "Seconds since the process started", "uptime_s")
      .Set(double((now - shared_.start_ms) / 1000));
  snap.Gauge("ready", "1 when /readyz answers 200").Set(Ready(nullptr) ? 1 : 0);
  if (ProcessMemory mem; CurrentProcessMemory(&mem)) {
    snap.Gauge("process_resident_memory_bytes", "Resident memory of the process (statm)",
               "resident_bytes")
        .Set(double(mem.resident_bytes));
    snap.Gauge("process_huge_pages_bytes",
               "Resident memory in transparent huge pages (smaps AnonHugePages, sampled at most "
               "every 10 s; server.huge_pages)",
               "huge_pages_bytes")
        .Set(double(mem.huge_page_bytes));
  }

  // Connections and requests.
  snap.Gauge("connections", "Client connections open now", "connections")
      .Set(double(shared_.connections.load()));
  snap.Counter("connections_accepted", "Client connections accepted", "connections_total")
      .Set(double(shared_.connections_total.load()));
  snap.Counter("connections_rejected", "Connections refused at server.max_connections",
               "connections_rejected")
      .Set(double(shared_.connections_rejected.load()));
  snap.Counter("connections_idle_closed", "Connections closed after server.idle_timeout",
               "connections_idle_closed")
      .Set(double(shared_.idle_closed.load()));
  snap.Counter("protocol_errors", "Connections closed for bytes that are not msgpack-RPC",
               "protocol_errors")
      .Set(double(shared_.protocol_errors.load()));
  snap.Counter("input_paused", "Times a connection's reading paused at server.max_input_bytes",
               "input_paused")
      .Set(double(shared_.input_paused.load()));
  snap.Counter("output_paused", "Times a connection's reading paused for unread answers",
               "output_paused")
      .Set(double(shared_.output_paused.load()));

  std::array<uint64_t, kMethodCount> by_method{}, errors_by_method{};
  std::array<uint64_t, kCodeCount> by_code{};
  std::vector<const TierMetrics*> l1m, l2m, l3m;
  for (const auto& w : workers_) {
    const DispatchCounters& c = w->counters();
    for (size_t i = 0; i < kMethodCount; ++i) {
      by_method[i] += Load(c.method_requests[i]);
      errors_by_method[i] += Load(c.method_errors[i]);
    }
    for (size_t i = 0; i < kCodeCount; ++i) by_code[i] += Load(c.code_errors[i]);
    l1m.push_back(&w->tier_metrics().l1);
    l2m.push_back(&w->tier_metrics().l2);
    l3m.push_back(&w->tier_metrics().l3);
  }
  MetricFamily& requests = snap.Counter(
      "requests", "Requests by method and result (ok counts requests still in flight)");
  for (size_t i = 0; i < kMethodCount; ++i) {
    const std::string method(MethodName(Method(i)));
    const uint64_t errors = std::min(errors_by_method[i], by_method[i]);
    requests.Set({{"method", method}, {"result", "ok"}}, double(by_method[i] - errors));
    requests.Set({{"method", method}, {"result", "error"}}, double(errors));
  }
  MetricFamily& errors = snap.Counter("errors", "Requests answered with an error, by code");
  for (size_t i = 1; i < kCodeCount; ++i) {
    errors.Set({{"code", Lower(CodeName(Code(i)))}}, double(by_code[i]));
  }

  // L1.
  L1Stats l1 = l1_->GetStats();
  snap.Gauge("l1_items", "Entries in L1", "l1_items").Set(double(l1.items));
  snap.Gauge("l1_bytes", "Bytes L1 accounts for (keys, values, overhead)", "l1_bytes")
      .Set(double(l1.bytes));
  snap.Gauge("l1_max_bytes", "l1.max_bytes", "l1_max_bytes").Set(double(l1.max_bytes));
  snap.Counter("l1_hits", "L1 lookups that found a live entry", "l1_hits").Set(double(l1.hits));
  snap.Counter("l1_misses", "L1 lookups that found nothing live", "l1_misses")
      .Set(double(l1.misses));
  snap.Counter("l1_evictions", "Entries evicted to stay within l1.max_bytes", "l1_evictions")
      .Set(double(l1.evictions));
  snap.Counter("l1_expirations", "Entries removed because their TTL passed", "l1_expired")
      .Set(double(l1.expired));
  snap.Counter("l1_negative_hits", "Lookups answered by a negative (known absent) entry",
               "l1_negative_hits")
      .Set(double(l1.negative_hits));

  // Per tier, as the read chains saw them: 100 ns .. 10 s.
  const std::vector<uint64_t> latency_edges = Edges125(100, 10'000'000'000ull);
  if (config_.admin.tier_metrics) {
    AddTier(snap, "l1", l1m, latency_edges);
    if (config_.l2.mode != "off") AddTier(snap, "l2", l2m, latency_edges);
    if (l3_) AddTier(snap, "l3", l3m, latency_edges);
  }

  if (write_behind_) {
    const WriteBehindCounters& c = write_behind_->counters();
    WalStats ws = write_behind_->wal_stats();
    snap.Counter("wal_appended_records", "Records appended to the journal",
                 "wal_appended_records")
        .Set(double(ws.appended_records));
    snap.Counter("wal_appended_bytes", "Bytes appended to the journal", "wal_appended_bytes")
        .Set(double(ws.appended_bytes));
    snap.Gauge("wal_backlog_bytes", "Journal bytes not yet in every tier (bounded by wal.max_bytes)",
               "wal_backlog_bytes")
        .Set(double(ws.backlog_bytes));
    snap.Counter("wal_syncs", "fdatasync calls on the journal", "wal_syncs").Set(double(ws.syncs));
    snap.Histogram("wal_fsync_duration_seconds", "Time per fdatasync of the journal", kNsToSeconds,
                   Edges125(1000, 10'000'000'000ull))
        .Set(ws.sync_latency);
    snap.Counter("wal_write_errors", "Failed journal writes or syncs (e.g. disk full)",
                 "wal_write_errors")
        .Set(double(ws.write_errors));
    snap.Gauge("wal_segments", "Journal segment files", "wal_segments").Set(double(ws.segments));
    snap.Gauge("wal_checkpoint", "Highest sequence number every tier confirmed durably",
               "wal_checkpoint")
        .Set(double(ws.checkpoint));
    snap.Gauge("wal_checkpoint_lag_records",
               "Records appended after the checkpoint (replayed if the process died now)",
               "wal_checkpoint_lag_records")
        .Set(double(ws.last_seq >= ws.checkpoint ? ws.last_seq - ws.checkpoint : 0));
    snap.Counter("wal_replayed_records", "Records replayed from the journal at start",
                 "wal_replayed_records")
        .Set(double(ws.replayed_records));
    snap.Counter("wal_truncated_tails", "Torn or corrupt segment tails truncated at start",
                 "wal_truncated_tails")
        .Set(double(ws.truncated_tails));
    snap.Counter("wal_preallocated", "Spare segments preallocated (zeros written and synced)",
                 "wal_preallocated")
        .Set(double(ws.preallocated));
    snap.Counter("wal_preallocated_used", "Segments started in a preallocated spare",
                 "wal_preallocated_used")
        .Set(double(ws.preallocated_used));
    snap.Counter("wal_prealloc_failures",
                 "Spare segments that could not be made or used (plain segments instead)",
                 "wal_prealloc_failures")
        .Set(double(ws.prealloc_failures));
    snap.Counter("wb_journaled", "Writes journaled (write-behind)", "wb_journaled")
        .Set(double(Load(c.journaled)));
    snap.Gauge("wb_backlog_records", "Journaled records the drain has not confirmed",
               "wb_backlog_records")
        .Set(double(write_behind_->backlog_records()));
    snap.Counter("wb_drained_records", "Records the drain sent to every tier",
                 "wb_drained_records")
        .Set(double(Load(c.drained_records)));
    snap.Counter("wb_coalesced", "Records folded into a later write of the same key in a batch",
                 "wb_coalesced")
        .Set(double(Load(c.coalesced)));
    snap.Counter("wb_batches", "Batches the drain completed", "wb_batches")
        .Set(double(Load(c.batches)));
    snap.Gauge("wb_batch_records_max", "Largest batch so far", "wb_batch_records_max")
        .Set(double(Load(c.batch_records_max)));
    snap.Histogram("wb_batch_records", "Records per drained batch", 1, Edges125(1, 100'000))
        .Set(c.batch_records.Snapshot());
    snap.Counter("wb_retries", "Batch retries while a tier was failing", "wb_retries")
        .Set(double(Load(c.retries)));
    snap.Counter("wb_l2_failures", "Drain batches Redis failed", "wb_l2_failures")
        .Set(double(Load(c.l2_failures)));
    snap.Counter("wb_l3_failures", "Drain batches RocksDB failed", "wb_l3_failures")
        .Set(double(Load(c.l3_failures)));
    snap.Counter("wb_l3_ingests", "Staged L3 writes written to RocksDB as one file",
                 "wb_l3_ingests")
        .Set(double(Load(c.l3_ingests)));
    snap.Counter("wb_wal_failures", "Writes failed because the journal could not take them",
                 "wb_wal_failures")
        .Set(double(Load(c.wal_failures)));
    snap.Gauge("pending_writes", "Keys with a journaled write not yet in every tier",
               "pending_writes")
        .Set(double(pending_->size()));
  }

  if (l3_) {
    L3Store::Stats ls = l3_->stats();
    snap.Gauge("l3_disk_bytes", "RocksDB files on disk", "l3_disk_bytes")
        .Set(double(ls.disk_bytes));
    snap.Counter("l3_expired_dropped", "Expired entries compaction dropped", "l3_expired_dropped")
        .Set(double(ls.expired_dropped));
    snap.Counter("l3_trimmed_bytes", "Bytes dropped to stay within l3.max_bytes",
                 "l3_trimmed_bytes")
        .Set(double(ls.trimmed_bytes));
    snap.Counter("l3_cached_hits", "L3 reads answered from memory on the loop", "l3_cached_hits")
        .Set(double(ls.cached_hits));
    snap.Counter("l3_cached_misses", "L3 reads known absent from memory (bloom filter)",
                 "l3_cached_misses")
        .Set(double(ls.cached_misses));
    snap.Counter("l3_io_reads", "L3 reads sent to the I/O threads", "l3_io_reads")
        .Set(double(ls.io_reads));
    snap.Counter("l3_ingested_files", "SST files ingested (the drain's staged writes)",
                 "l3_ingested_files")
        .Set(double(ls.ingested_files));
    snap.Counter("l3_ingested_entries", "Keys written by ingested files", "l3_ingested_entries")
        .Set(double(ls.ingested_entries));
  }

  if (config_.l2.mode != "off") {
    struct Field {
      const char* name;
      const char* help;
      bool gauge;
      std::atomic<uint64_t> L2Counters::*member;
    };
    static constexpr Field kL2Fields[] = {
        {"l2_hits", "Redis GETs that found the key", false, &L2Counters::hits},
        {"l2_misses", "Redis GETs that did not", false, &L2Counters::misses},
        {"l2_errors", "Redis operations answered with an error", false, &L2Counters::errors},
        {"l2_timeouts", "Redis operations past l2.command_timeout", false, &L2Counters::timeouts},
        {"l2_breaker_rejected", "Operations failed fast by an open circuit breaker", false,
         &L2Counters::breaker_rejected},
        {"l2_moved", "MOVED redirects followed", false, &L2Counters::moved},
        {"l2_ask", "ASK redirects followed", false, &L2Counters::ask},
        {"l2_retries", "TRYAGAIN/CLUSTERDOWN/LOADING retries", false, &L2Counters::retries},
        {"l2_coalesced", "Gets that joined another get's Redis lookup", false,
         &L2Counters::coalesced},
        {"l2_topology_refreshes", "CLUSTER SLOTS reads", false, &L2Counters::topology_refreshes},
        {"l2_topology_errors", "Failed CLUSTER SLOTS reads", false, &L2Counters::topology_errors},
        {"l2_nodes_retired", "Cluster node connections closed after the node left the slot map",
         false, &L2Counters::nodes_retired},
        {"l2_connections", "Redis connections held (every loop and the drain)", true,
         &L2Counters::nodes},
        {"l2_connections_up", "... of which connected", true, &L2Counters::nodes_connected},
        {"l2_breakers_open", "... of which with an open or half-open breaker", true,
         &L2Counters::breakers_open},
    };
    std::vector<const L2Counters*> all;
    for (const auto& w : workers_) all.push_back(&w->l2_counters());
    if (write_behind_) all.push_back(write_behind_->drain_l2_counters());
    for (const Field& f : kL2Fields) {
      uint64_t sum = 0;
      for (const L2Counters* c : all) sum += Load(c->*f.member);
      (f.gauge ? snap.Gauge(f.name, f.help, f.name) : snap.Counter(f.name, f.help, f.name))
          .Set(double(sum));
    }
    // Per endpoint: connections up/down and breakers open, over every loop.
    struct PerEndpoint {
      uint64_t up = 0, down = 0, open = 0;
    };
    std::map<std::string, PerEndpoint> endpoints;
    for (const L2Counters* c : all) {
      std::lock_guard<std::mutex> lock(c->endpoints_mu);
      for (const L2Counters::Endpoint& e : c->endpoints) {
        PerEndpoint& p = endpoints[e.address];
        (e.connected ? p.up : p.down) += 1;
        if (e.breaker != CircuitBreaker::State::kClosed) ++p.open;
      }
    }
    MetricFamily& conns = snap.Gauge("l2_endpoint_connections",
                                     "Connections to each Redis endpoint, by state (up, down)");
    MetricFamily& open = snap.Gauge(
        "l2_endpoint_breakers_open", "Connections to each endpoint whose circuit breaker is open");
    for (const auto& [address, p] : endpoints) {
      conns.Set({{"endpoint", address}, {"state", "up"}}, double(p.up));
      conns.Set({{"endpoint", address}, {"state", "down"}}, double(p.down));
      open.Set({{"endpoint", address}}, double(p.open));
    }
  }

  if (const AdminServer* admin = admin_.get()) {
    const AdminCounters& a = admin->counters();
    snap.Counter("admin_requests", "Admin HTTP requests answered").Set(double(Load(a.requests)));
    snap.Counter("admin_bad_requests", "Admin HTTP requests answered 400")
        .Set(double(Load(a.bad_requests)));
    snap.Counter("admin_timeouts", "Admin connections cut off (slow or idle)")
        .Set(double(Load(a.timeouts)));
  }
  return snap;
}

std::vector<std::pair<std::string, double>> Server::Stats() const {
  std::vector<std::pair<std::string, double>> out = FlatStats(Metrics());
  // The protocol's original totals (PROTOCOL.md), next to the labeled ones.
  uint64_t requests = 0, errors = 0;
  for (const auto& w : workers_) {
    requests += Load(w->counters().requests);
    errors += Load(w->counters().errors);
  }
  out.emplace_back("requests_total", double(requests));
  out.emplace_back("errors_total", double(errors));
  return out;
}

}  // namespace strata
