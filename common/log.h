// Logging: one line per event on stderr, with time and level.
//
//   2026-11-22T01:02:03.456Z INFO  strata listening on ./strata.sock (2 threads)
//
// An error that can repeat (a client sending garbage, a tier going away) is
// logged through STRATA_LOG_RATE_LIMITED: at most one line per second per
// call site, and the next line says how many were suppressed. Each line is a
// single write(2) so lines from different threads never interleave.
//
// Thread affinity: any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

namespace strata {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Parses "debug", "info", "warn", "error", "off". Returns false if unknown.
bool ParseLogLevel(std::string_view text, LogLevel* out);

void LogLine(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// One per call site: lets a line through at most once per interval.
class LogRateLimiter {
 public:
  explicit LogRateLimiter(int64_t interval_ms = 1000) : interval_ms_(interval_ms) {}
  // Returns true if this event should be logged; *suppressed is set to the
  // number of events dropped since the last one that was logged.
  bool Allow(uint64_t* suppressed);

 private:
  int64_t interval_ms_;
  std::atomic<int64_t> next_ms_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace strata

#define STRATA_LOG(level, ...)                                      \
  do {                                                              \
    if (static_cast<int>(level) >= static_cast<int>(::strata::GetLogLevel())) \
      ::strata::LogLine(level, __VA_ARGS__);                        \
  } while (0)
#define LOG_DEBUG(...) STRATA_LOG(::strata::LogLevel::kDebug, __VA_ARGS__)
#define LOG_INFO(...) STRATA_LOG(::strata::LogLevel::kInfo, __VA_ARGS__)
#define LOG_WARN(...) STRATA_LOG(::strata::LogLevel::kWarn, __VA_ARGS__)
#define LOG_ERROR(...) STRATA_LOG(::strata::LogLevel::kError, __VA_ARGS__)

// Logs at most once per second from this call site; appends the count of
// suppressed repeats.
#define LOG_RATE_LIMITED(level, fmt, ...)                                        \
  do {                                                                           \
    static ::strata::LogRateLimiter strata_rl_;                                  \
    uint64_t strata_sup_ = 0;                                                    \
    if (strata_rl_.Allow(&strata_sup_)) {                                        \
      if (strata_sup_ > 0)                                                       \
        STRATA_LOG(level, fmt " (%llu similar suppressed)", ##__VA_ARGS__,       \
                   static_cast<unsigned long long>(strata_sup_));                \
      else                                                                       \
        STRATA_LOG(level, fmt, ##__VA_ARGS__);                                   \
    }                                                                            \
  } while (0)
