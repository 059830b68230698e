// Access log: one line per HTTP exchange or L4 connection, JSON or the
// combined format, to stdout, stderr or a file that SIGUSR1 reopens.
//
// Threading: AccessLogSink is process-wide, configured by the main thread;
// its fd number never changes (reopen dup2()s over it), so workers can write
// to it without locks. Each worker formats into its own AccessLogWriter and
// flushes once per loop iteration.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "conf/config.h"
#include "lb/base/result.h"

namespace lb {

struct AccessLogEntry {
    std::string_view listener;
    std::string_view client;        // client ip
    uint16_t client_port = 0;
    std::string_view method;        // empty for L4
    std::string_view host;
    std::string_view url;
    std::string_view protocol;      // "HTTP/1.1", "tcp"
    int status = 0;                 // 0 for L4
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    int64_t duration_ms = 0;
    std::string_view target;        // "ip:port" or empty
    std::string_view target_group;
    std::string_view user_agent;
    std::string_view error;         // why lb answered itself, if it did
};

class AccessLogSink {
public:
    static AccessLogSink& instance();
    Status configure(const conf::AccessLog& config);
    Status reopen();
    int fd() const { return fd_.load(std::memory_order_relaxed); }
    conf::AccessLogFormat format() const { return format_.load(std::memory_order_relaxed); }

private:
    std::atomic<int> fd_{-1};
    std::atomic<conf::AccessLogFormat> format_{conf::AccessLogFormat::off};
    std::string path_;
};

class AccessLogWriter {
public:
    // Lines are written at all: callers skip building an entry when not.
    bool enabled() const;
    void record(const AccessLogEntry& entry);
    void flush();

private:
    std::string buffer_;
};

}  // namespace lb
