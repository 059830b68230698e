// Access log: one line per HTTP exchange or L4 connection, JSON (all or
// the selected fields), the combined format or a compiled nginx-style
// template (README "Logs"), to stdout, stderr or a file that SIGUSR1
// reopens.
//
// Threading: AccessLogSink is process-wide, configured by the main thread;
// its fd number never changes (reopen dup2()s over it), so workers can write
// to it without locks. Each worker formats into its own AccessLogWriter,
// which reads the format of the snapshot the worker adopted (use()), and
// flushes once per loop iteration.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "conf/config.h"
#include "lb/base/result.h"

namespace lb {

// A line's values. Views into the caller's data, valid during record().
// A field that does not apply is empty (or negative, for the numbers that
// may be 0): JSON leaves it out, a template writes "-".
struct AccessLogEntry {
    std::string_view listener;
    std::string_view client;        // client ip
    uint16_t client_port = 0;
    std::string_view method;        // empty for L4 (and a request refused before its head parsed)
    std::string_view host;
    std::string_view url;
    std::string_view protocol;      // "HTTP/1.1", "HTTP/2.0", "tunnel", "udp"
    int status = 0;                 // 0 for L4
    uint64_t bytes_in = 0;          // request body / client to target
    uint64_t bytes_out = 0;         // response body / target to client
    int64_t duration_us = 0;        // request's first byte (connection's accept) to the end
    std::string_view target;        // "ip:port" or empty
    std::string_view target_group;
    std::string_view user_agent;
    std::string_view referer;
    std::string_view error;         // why lb answered itself, if it did
    std::string_view request_id;
    std::string_view trace_id;      // the W3C trace this request belongs to
    std::string_view span_id;       // lb's own span in it (trace_context: start)
    std::string_view rule;          // the matched rule's priority, or "default"
    int retries = -1;               // tries after the first; -1: no target was tried
    int64_t connect_us = -1;        // the last try's connect; 0: a pooled connection; -1: none
    int64_t first_byte_us = -1;     // request start to the target's first response byte
    int64_t upstream_us = -1;       // the last try's start to the end of its answer
    std::string_view tls_version;   // the client connection's, if TLS
    std::string_view tls_cipher;
    std::string_view sni;
    bool http = false;              // an HTTP exchange's line (method may still be empty)
};

class AccessLogSink {
public:
    static AccessLogSink& instance();
    Status configure(const conf::AccessLog& config);
    Status reopen();
    int fd() const { return fd_.load(std::memory_order_relaxed); }

private:
    std::atomic<int> fd_{-1};
    std::string path_;
};

class AccessLogWriter {
public:
    // The format of the snapshot the worker runs (kept alive by `config`).
    void use(std::shared_ptr<const conf::AccessLog> config) { config_ = std::move(config); }
    // Lines are written at all: callers skip building an entry when not.
    bool enabled() const;
    void record(const AccessLogEntry& entry);
    void flush();

private:
    std::shared_ptr<const conf::AccessLog> config_;
    std::string buffer_;
};

// The line for `entry` (with its newline) appended to `out`. `now_unix_us`
// is the wall clock the line's time is written in.
void format_access_log_line(std::string& out, const conf::AccessLog& config, const AccessLogEntry& entry,
                            int64_t now_unix_us);

}  // namespace lb
