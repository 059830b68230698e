#include "lb/runtime/access_log.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lb/base/log.h"
#include "lb/base/unique_fd.h"

namespace lb {

AccessLogSink& AccessLogSink::instance() {
    static AccessLogSink sink;
    return sink;
}

Status AccessLogSink::configure(const conf::AccessLog& config) {
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

bool AccessLogWriter::enabled() const {
    return config_ && config_->format != conf::AccessLogFormat::off && AccessLogSink::instance().fd() >= 0;
}

void AccessLogWriter::record(const AccessLogEntry& entry) {
    if (!enabled()) return;
    timeval now;
    gettimeofday(&now, nullptr);
    format_access_log_line(buffer_, *config_, entry, static_cast<int64_t>(now.tv_sec) * 1000000 + now.tv_usec);
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
