// Huge pages for malloc (server.huge_pages).
//
// Why. Strata's hot memory is touched at random, a cache line or two per
// key: L1 entries and their index, journal records, the pending-writes map.
// With 4 KiB pages almost every such access is also a TLB miss, and on a
// virtual machine a miss is a two-level page walk. Backed by 2 MiB
// transparent huge pages, the same SET load took 6–13% less server CPU per
// SET with wal.sync=always, and less, within noise, with interval
// (bench/README.md, session 7).
//
// How. glibc backs its heaps with transparent huge pages when the tunable
// glibc.malloc.hugetlb=1 is set, and glibc.malloc.top_pad=64 MiB makes it
// take memory from the kernel in steps of whole huge pages (without it only
// 8–12 MB of a 250 MB heap was huge; with it, 240–266 MB). glibc reads
// tunables only from the GLIBC_TUNABLES environment variable when a process
// starts. So main() calls MaybeReexecWithHugePages() after the configuration
// is parsed and before anything is opened or any thread started: if huge
// pages are wanted and not yet set, it adds them to GLIBC_TUNABLES and
// execs the same binary with the same arguments (same PID, once).
//
// Cost: about 12–16 MB more resident memory when idle (a few huge pages per
// malloc arena), and about 8% more under the benchmark's SET load (a 2 MiB
// page is resident whole). While the heap grows, each growth step faults in
// and clears a whole 2 MiB page on the thread that touches it: p99.9 of SETs
// rose from ~4.5 to ~6.2 ms during an L1 fill here (p99 unchanged).
//
// Thread affinity: main thread, before any other thread exists.
#pragma once

#include <cstdint>
#include <string>

namespace strata {

// The tunables that turn huge pages on.
inline constexpr const char* kHugePageTunables =
    "glibc.malloc.hugetlb=1:glibc.malloc.top_pad=67108864";

// The GLIBC_TUNABLES value with huge pages added to `current` (nullptr =
// unset), or "" if there is nothing to add: `current` already sets
// glibc.malloc.hugetlb, to any value (an operator's own choice stands). A top_pad the
// operator set is kept.
std::string HugePageTunables(const char* current);

// The kernel's transparent huge page mode ("always", "madvise" or "never"),
// the bracketed word of `enabled_file`; "" if it cannot be read.
std::string ThpMode(const char* enabled_file = "/sys/kernel/mm/transparent_hugepage/enabled");

// What the process runs with, for the startup log and the stats: "on"
// (GLIBC_TUNABLES asks for huge pages and the kernel offers them), "off"
// (not asked for), or "unavailable" (asked for, kernel mode "never" or
// unknown).
std::string HugePagesState();

// Re-executes this process with HugePageTunables() when `enabled` is true,
// the kernel offers transparent huge pages, and the allocator is glibc's
// (not a sanitizer's, not valgrind's). Returns only if it did not: with why
// not, or "" when GLIBC_TUNABLES already decides (set by the exec, or by the
// operator).
std::string MaybeReexecWithHugePages(bool enabled, char** argv);

// Resident memory, from /proc/self/smaps_rollup (or `path`): the total
// ("Rss") and the part in transparent huge pages ("AnonHugePages").
// Returns false if the file cannot be read or lacks the Rss line.
struct ProcessMemory {
  uint64_t resident_bytes = 0;
  uint64_t huge_page_bytes = 0;
};
bool ReadProcessMemory(ProcessMemory* out, const char* path = "/proc/self/smaps_rollup");

// The resident bytes from /proc/self/statm (or `path`: its second field, in
// pages). Cheap: it reads a counter.
bool ReadResidentBytes(uint64_t* out, const char* path = "/proc/self/statm");

// This process's memory for the metrics, from any thread: resident bytes
// read fresh (statm), huge-page bytes from smaps_rollup at most every 10 s.
// smaps_rollup walks the page tables, about 2 ms for 220 MB on 4 KiB pages,
// and `stats` is answered on a loop thread; a stale value is fine for a
// gauge. A thread that finds the sample old refreshes it unless another
// is already doing so. Returns false if statm cannot be read.
bool CurrentProcessMemory(ProcessMemory* out);

}  // namespace strata
