#include "lb/base/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <ctime>

namespace lb {

namespace {
std::atomic<LogLevel> g_level{LogLevel::info};

const char* level_name(LogLevel level) {
    switch (level) {
        case LogLevel::debug: return "debug";
        case LogLevel::info: return "info";
        case LogLevel::warn: return "warn";
        case LogLevel::error: return "error";
    }
    return "?";
}
}  // namespace

void set_log_level(LogLevel level) { g_level.store(level); }
bool log_enabled(LogLevel level) { return level >= g_level.load(std::memory_order_relaxed); }

std::string utc_timestamp() {
    timeval tv;
    gettimeofday(&tv, nullptr);
    return utc_timestamp(static_cast<int64_t>(tv.tv_sec) * 1000000 + tv.tv_usec);
}

std::string utc_timestamp(int64_t unix_us) {
    time_t seconds = static_cast<time_t>(unix_us / 1000000);
    tm parts;
    gmtime_r(&seconds, &parts);
    char buf[40];
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &parts);
    snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(unix_us / 1000 % 1000));
    return buf;
}

void log_message(LogLevel level, const char* fmt, ...) {
    if (!log_enabled(level)) return;
    char line[4096];
    int prefix = snprintf(line, sizeof(line), "%s %s ", utc_timestamp().c_str(), level_name(level));
    va_list args;
    va_start(args, fmt);
    int body = vsnprintf(line + prefix, sizeof(line) - prefix - 1, fmt, args);
    va_end(args);
    size_t len = prefix + (body < 0 ? 0 : static_cast<size_t>(body));
    if (len > sizeof(line) - 2) len = sizeof(line) - 2;
    line[len++] = '\n';
    // One write per line keeps lines whole across threads.
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
}

}  // namespace lb
