// Error log: one line per event on stderr, "2026-11-23T10:00:00.123Z level message".
// Thread-safe (one write(2) per line).
#pragma once

#include <cstdint>
#include <string>

namespace lb {

enum class LogLevel { debug, info, warn, error };

void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
void log_message(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

#define LB_LOG_DEBUG(...) \
    do { if (::lb::log_enabled(::lb::LogLevel::debug)) ::lb::log_message(::lb::LogLevel::debug, __VA_ARGS__); } while (0)
#define LB_LOG_INFO(...) ::lb::log_message(::lb::LogLevel::info, __VA_ARGS__)
#define LB_LOG_WARN(...) ::lb::log_message(::lb::LogLevel::warn, __VA_ARGS__)
#define LB_LOG_ERROR(...) ::lb::log_message(::lb::LogLevel::error, __VA_ARGS__)

// ISO-8601 UTC with milliseconds, for logs: now, or a time in µs since the
// Unix epoch.
std::string utc_timestamp();
std::string utc_timestamp(int64_t unix_us);

}  // namespace lb
