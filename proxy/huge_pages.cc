#include "proxy/huge_pages.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <limits>
#include <mutex>
#include <optional>
#include <string_view>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) || \
    __has_feature(thread_sanitizer)
#define STRATA_SANITIZER_ALLOCATOR 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define STRATA_SANITIZER_ALLOCATOR 1
#endif

namespace strata {

namespace {

// The value `name` has in the colon-separated tunables list `list`, or
// nullopt if the list does not set it (the last setting counts).
std::optional<std::string_view> TunableValue(std::string_view list, std::string_view name) {
  std::optional<std::string_view> value;
  while (!list.empty()) {
    const size_t colon = list.find(':');
    const std::string_view item = list.substr(0, colon);
    const size_t eq = item.find('=');
    if (eq != std::string_view::npos && item.substr(0, eq) == name) value = item.substr(eq + 1);
    if (colon == std::string_view::npos) break;
    list.remove_prefix(colon + 1);
  }
  return value;
}

bool HugePagesRequested() {
  const char* t = getenv("GLIBC_TUNABLES");
  if (t == nullptr) return false;
  const std::optional<std::string_view> v = TunableValue(t, "glibc.malloc.hugetlb");
  return v.has_value() && *v != "0";
}

}  // namespace

std::string HugePageTunables(const char* current) {
  std::string_view cur(current != nullptr ? current : "");
  if (TunableValue(cur, "glibc.malloc.hugetlb")) return std::string();
  std::string out(cur);
  auto add = [&out](std::string_view item) {
    if (!out.empty()) out += ':';
    out += item;
  };
  add("glibc.malloc.hugetlb=1");
  if (!TunableValue(cur, "glibc.malloc.top_pad")) add("glibc.malloc.top_pad=67108864");
  return out;
}

std::string ThpMode(const char* enabled_file) {
  std::ifstream in(enabled_file);
  std::string line;
  if (!in || !std::getline(in, line)) return std::string();
  const size_t open = line.find('[');
  const size_t close = line.find(']', open);
  if (open == std::string::npos || close == std::string::npos) return std::string();
  return line.substr(open + 1, close - open - 1);
}

std::string HugePagesState() {
  if (!HugePagesRequested()) return "off";
  const std::string mode = ThpMode();
  return mode == "always" || mode == "madvise" ? "on" : "unavailable";
}

std::string MaybeReexecWithHugePages(bool enabled, char** argv) {
  if (!enabled) return "server.huge_pages is false";
#ifdef STRATA_SANITIZER_ALLOCATOR
  (void)argv;
  return "a sanitizer's allocator replaces glibc's";
#else
  const char* preload = getenv("LD_PRELOAD");
  if (preload != nullptr && strstr(preload, "vgpreload") != nullptr) {
    return "under valgrind";  // an exec would leave it, and its malloc is its own
  }
  const char* old = getenv("GLIBC_TUNABLES");
  const std::string tunables = HugePageTunables(old);
  if (tunables.empty()) return std::string();  // decided already: by our exec, or the operator
  const std::string mode = ThpMode();
  if (mode != "always" && mode != "madvise") {
    return "the kernel's transparent huge page mode is " +
           (mode.empty() ? std::string("unknown") : "\"" + mode + "\"");
  }
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return std::string("cannot find this binary: /proc/self/exe: ") + strerror(errno);
  self[n] = '\0';
  const std::string saved = old != nullptr ? old : "";
  setenv("GLIBC_TUNABLES", tunables.c_str(), 1);
  execv(self, argv);
  const std::string why = std::string("cannot re-execute ") + self + ": " + strerror(errno);
  if (old != nullptr) {
    setenv("GLIBC_TUNABLES", saved.c_str(), 1);
  } else {
    unsetenv("GLIBC_TUNABLES");
  }
  return why;
#endif
}

bool ReadProcessMemory(ProcessMemory* out, const char* path) {
  *out = ProcessMemory();
  std::ifstream in(path);
  std::string name;
  uint64_t kib = 0;
  bool rss = false;
  while (in >> name) {
    if (name == "Rss:" && in >> kib) {
      out->resident_bytes = kib * 1024;
      rss = true;
    } else if (name == "AnonHugePages:" && in >> kib) {
      out->huge_page_bytes = kib * 1024;
    }
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return rss;
}

bool ReadResidentBytes(uint64_t* out, const char* path) {
  std::ifstream in(path);
  uint64_t size_pages = 0, resident_pages = 0;
  if (!(in >> size_pages >> resident_pages)) return false;
  *out = resident_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  return true;
}

bool CurrentProcessMemory(ProcessMemory* out) {
  static constexpr int64_t kHugeRefreshMs = 10'000;
  static std::mutex refresh_mu;
  static std::atomic<uint64_t> huge_bytes{0};
  static std::atomic<int64_t> next_refresh_ms{0};
  *out = ProcessMemory();
  if (!ReadResidentBytes(&out->resident_bytes)) return false;
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  if (now >= next_refresh_ms.load(std::memory_order_relaxed) && refresh_mu.try_lock()) {
    ProcessMemory rollup;
    if (ReadProcessMemory(&rollup)) huge_bytes.store(rollup.huge_page_bytes);
    next_refresh_ms.store(now + kHugeRefreshMs, std::memory_order_relaxed);
    refresh_mu.unlock();
  }
  out->huge_page_bytes = huge_bytes.load();
  return true;
}

}  // namespace strata
