#include "lb/runtime/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "lb/base/log.h"
#include "lb/base/unique_fd.h"

namespace lb {

AccessLogSink& AccessLogSink::instance() {
    static AccessLogSink sink;
    return sink;
}

Status AccessLogSink::configure(const conf::AccessLog& config) {
    format_.store(config.format);
    if (config.format == conf::AccessLogFormat::off) return Ok{};
    int target = -1;
    UniqueFd opened;  // a file's descriptor, closed once duplicated
    if (config.path == "stdout") target = STDOUT_FILENO;
    else if (config.path == "stderr") target = STDERR_FILENO;
    else {
        opened.reset(::open(config.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
        if (!opened) return Error{"cannot open access log " + config.path + ": " + strerror(errno)};
        target = opened.get();
    }
    int current = fd_.load();
    if (current < 0) {
        // Own a private descriptor so reopen can dup2 over it safely.
        int own = fcntl(target, F_DUPFD_CLOEXEC, 3);
        if (own < 0) return Error{std::string("dup: ") + strerror(errno)};
        fd_.store(own);
    } else {
        dup3(target, current, O_CLOEXEC);
    }
    path_ = config.path;
    return Ok{};
}

Status AccessLogSink::reopen() {
    if (path_.empty() || path_ == "stdout" || path_ == "stderr" || fd_.load() < 0) return Ok{};
    UniqueFd fresh(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!fresh) return Error{"cannot reopen access log " + path_ + ": " + strerror(errno)};
    dup3(fresh.get(), fd_.load(), O_CLOEXEC);  // atomic swap under the workers' feet
    return Ok{};
}

namespace {

std::string clf_time() {
    time_t now = time(nullptr);
    tm parts;
    localtime_r(&now, &parts);
    char buf[64];
    strftime(buf, sizeof(buf), "%d/%b/%Y:%H:%M:%S %z", &parts);
    return buf;
}

std::string dash_if_empty(std::string_view s) { return s.empty() ? "-" : std::string(s); }

}  // namespace

bool AccessLogWriter::enabled() const {
    auto& sink = AccessLogSink::instance();
    return sink.format() != conf::AccessLogFormat::off && sink.fd() >= 0;
}

void AccessLogWriter::record(const AccessLogEntry& e) {
    auto& sink = AccessLogSink::instance();
    auto format = sink.format();
    if (format == conf::AccessLogFormat::off || sink.fd() < 0) return;
    if (format == conf::AccessLogFormat::json) {
        nlohmann::json line = {
            {"time", utc_timestamp()},
            {"listener", e.listener},
            {"client", e.client},
            {"client_port", e.client_port},
            {"duration_ms", e.duration_ms},
            {"bytes_in", e.bytes_in},
            {"bytes_out", e.bytes_out},
        };
        if (!e.method.empty()) {
            line["method"] = e.method;
            line["host"] = e.host;
            line["url"] = e.url;
            line["protocol"] = e.protocol;
            line["status"] = e.status;
            line["user_agent"] = e.user_agent;
        } else {
            line["protocol"] = e.protocol;
            if (!e.host.empty()) line["host"] = e.host;  // tls_passthrough: the SNI name
            if (e.status) line["status"] = e.status;     // an HTTP request refused before its head was read
        }
        line["target"] = e.target;
        line["target_group"] = e.target_group;
        if (!e.error.empty()) line["error"] = e.error;
        buffer_.append(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        buffer_.push_back('\n');
    } else {
        // nginx "combined" plus the target, as operators grep for it.
        buffer_.append(e.client);
        buffer_.append(" - - [");
        buffer_.append(clf_time());
        buffer_.append("] \"");
        if (!e.method.empty()) {
            buffer_.append(e.method);
            buffer_.push_back(' ');
            buffer_.append(e.url);
            buffer_.push_back(' ');
        }
        buffer_.append(e.protocol);
        buffer_.append("\" ");
        buffer_.append(std::to_string(e.status));
        buffer_.push_back(' ');
        buffer_.append(std::to_string(e.bytes_out));
        buffer_.append(" \"-\" \"");
        buffer_.append(dash_if_empty(e.user_agent));
        buffer_.append("\" ");
        buffer_.append(dash_if_empty(e.target));
        buffer_.push_back(' ');
        buffer_.append(std::to_string(e.duration_ms));
        buffer_.append("ms\n");
    }
    if (buffer_.size() > 64 * 1024) flush();
}

void AccessLogWriter::flush() {
    if (buffer_.empty()) return;
    int fd = AccessLogSink::instance().fd();
    size_t off = 0;
    while (off < buffer_.size() && fd >= 0) {
        ssize_t n = ::write(fd, buffer_.data() + off, buffer_.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;  // a full disk must not stop traffic
        }
        off += static_cast<size_t>(n);
    }
    buffer_.clear();
}

}  // namespace lb
