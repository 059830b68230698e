#include "lb/io/splice_pump.h"

#include <fcntl.h>
#include <poll.h>

#include <cerrno>

namespace lb {

PipePool::Pipe PipePool::take() {
    if (!spare_.empty()) {
        Pipe pipe = std::move(spare_.back());
        spare_.pop_back();
        return pipe;
    }
    Pipe pipe;
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return pipe;
    pipe.read.reset(fds[0]);
    pipe.write.reset(fds[1]);
    // Refused above the system's limits (fs.pipe-max-size, or an
    // unprivileged user past fs.pipe-user-pages-soft): the default size
    // still works, with more wake-ups per megabyte.
    ::fcntl(fds[0], F_SETPIPE_SZ, static_cast<int>(kPipeSize));
    int size = ::fcntl(fds[0], F_GETPIPE_SZ);
    pipe.capacity = size > 0 ? static_cast<size_t>(size) : 4096;
    return pipe;
}

void PipePool::give_back(Pipe pipe) {
    if (spare_.size() < kMaxSpare) spare_.push_back(std::move(pipe));
}

// ---------------------------------------------------------------- pump

// Counted with the loop's streams: a stopping loop waits until the ring has
// let go of every pump (their cancelled polls complete), then frees them.
SplicePump::SplicePump(EventLoop& loop, int from, int to, Handler* handler, uint64_t limit)
    : loop_(loop), from_(from), to_(to), handler_(handler), left_(limit) {
    loop_.stream_opened();
}

SplicePump::~SplicePump() { loop_.stream_closed(); }

namespace {

// splice(2)'s SPLICE_F_NONBLOCK covers the pipe only: a blocking socket
// would stop the loop.
void make_non_blocking(int fd) {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0 && !(flags & O_NONBLOCK)) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

}  // namespace

std::unique_ptr<SplicePump> SplicePump::start(EventLoop& loop, int from, int to, Handler* handler,
                                               uint64_t limit) {
    make_non_blocking(from);
    make_non_blocking(to);
    std::unique_ptr<SplicePump> pump(new SplicePump(loop, from, to, handler, limit));
    // Bytes already waiting in the source make the poll report at once.
    pump->arm_readable();
    return pump;
}

void SplicePump::stop(std::unique_ptr<SplicePump> owned, bool flush) {
    if (!owned) return;
    SplicePump* pump = owned.release();
    pump->stopped_ = true;
    pump->handler_ = nullptr;
    if (flush && pump->in_pipe_ > 0 && !pump->held_) {
        ssize_t sent = ::splice(pump->pipe_.read.get(), nullptr, pump->to_, nullptr, pump->in_pipe_,
                                SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        if (sent > 0) pump->in_pipe_ -= static_cast<size_t>(sent);
    }
    pump->stop_polling_source();
    if (pump->writable_armed_) pump->loop_.cancel(pump->writable_completion_);
    pump->release_pipe();
    pump->maybe_free();
}

void SplicePump::hold_output(bool held) {
    if (held_ == held) return;
    held_ = held;
    if (!held_ && !stopped_ && in_pipe_ > 0) pump();
}

void SplicePump::arm_readable() {
    io_uring_sqe* sqe = loop_.sqe_for(&readable_completion_);
    io_uring_prep_poll_multishot(sqe, from_, POLLIN);
    readable_armed_ = true;
}

void SplicePump::arm_writable() {
    if (writable_armed_) return;
    io_uring_prep_poll_add(loop_.sqe_for(&writable_completion_), to_, POLLOUT);
    writable_armed_ = true;
}

void SplicePump::on_readable(int result, uint32_t flags) {
    if (!(flags & IORING_CQE_F_MORE)) readable_armed_ = false;
    if (!poll_answered(result)) return;
    // The ring ends a multishot poll when it must (a full completion
    // queue): ask again, or bytes arriving later would never be noticed.
    if (!readable_armed_ && !eof_) arm_readable();
    pump();
}

void SplicePump::on_writable(int result, uint32_t) {
    writable_armed_ = false;
    if (poll_answered(result)) pump();
}

bool SplicePump::poll_answered(int result) {
    if (stopped_) {
        maybe_free();
        return false;
    }
    if (result < 0 && result != -ECANCELED) {
        // The poll itself failed (not the socket: that shows as POLLERR).
        if (handler_) handler_->on_pump_error(*this, result);
        return false;
    }
    return true;
}

// Fills the pipe from the source, empties it into the destination, and goes
// round again while the source may have more and the destination takes it.
void SplicePump::pump() {
    if (pumping_) return;  // a callback below re-entered through hold_output()
    pumping_ = true;
    size_t moved = 0;
    bool wrote = false;
    bool failed = false;
    for (;;) {
        size_t before = in_pipe_;
        bool more = false;
        if (!fill(more)) {
            failed = true;
            break;
        }
        moved += in_pipe_ - before;
        size_t filled = in_pipe_;
        if (!drain()) {
            failed = true;
            break;
        }
        wrote = wrote || in_pipe_ < filled;
        // Again only when the destination took something and the source
        // may have more: a pipe that filled up, or a read that found bytes
        // (one read stops at the pipe's slots, and a socket that still
        // holds bytes may never wake the poll again).
        if (!more || in_pipe_ == filled) break;
    }
    pumping_ = false;
    if (failed || stopped_) return;
    // A body's pump keeps its pipe: needing a new one mid-way, and finding
    // none, would leave its owner unable to go on the ordinary way.
    if (in_pipe_ == 0 && left_ == kNoLimit) release_pipe();
    if ((moved > 0 || wrote) && handler_) handler_->on_pump_moved(*this, moved);
    if (!stopped_ && eof_ && in_pipe_ == 0) finish();
}

bool SplicePump::fill(bool& more) {
    if (eof_) return true;
    if (!pipe_.read) {
        pipe_ = loop_.pipes().take();
        if (!pipe_.read) {
            // Nothing is held (a pipe is only let go of empty): the owner
            // reads this source the ordinary way from here on.
            stopped_ = true;
            stop_polling_source();
            if (handler_) handler_->on_pump_unavailable(*this);
            return false;
        }
    }
    if (in_pipe_ >= pipe_.capacity) {
        more = true;
        return true;
    }
    size_t room = pipe_.capacity - in_pipe_;
    if (left_ < room) room = static_cast<size_t>(left_);
    ssize_t got = ::splice(from_, nullptr, pipe_.write.get(), nullptr, room, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    if (got > 0) {
        in_pipe_ += static_cast<size_t>(got);
        if (left_ != kNoLimit) left_ -= static_cast<uint64_t>(got);
        more = true;
        if (left_ == 0) {  // all this pump was to read
            eof_ = true;
            more = false;
            stop_polling_source();
        }
    } else if (got == 0) {
        eof_ = true;
        stop_polling_source();
    } else if (errno == EAGAIN) {
        // An empty socket, or a pipe whose slots are all taken by small
        // pieces: only the second can change by draining it.
        more = in_pipe_ > 0;
    } else if (errno == EINTR) {
        more = true;
    } else {
        if (handler_) handler_->on_pump_error(*this, -errno);
        return false;
    }
    return true;
}

bool SplicePump::drain() {
    if (in_pipe_ == 0 || held_ || writable_armed_) return true;
    ssize_t sent =
        ::splice(pipe_.read.get(), nullptr, to_, nullptr, in_pipe_, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    if (sent > 0) {
        in_pipe_ -= static_cast<size_t>(sent);
    } else if (sent < 0 && errno != EAGAIN && errno != EINTR) {
        sink_failed_ = true;
        if (handler_) handler_->on_pump_error(*this, -errno);
        return false;
    }
    // What is left waits for room (a partial write means the socket is full).
    if (in_pipe_ > 0) arm_writable();
    return true;
}

void SplicePump::finish() {
    stopped_ = true;
    stop_polling_source();
    if (handler_) handler_->on_pump_eof(*this);
}

void SplicePump::stop_polling_source() {
    if (readable_armed_) loop_.cancel(readable_completion_);
}

void SplicePump::release_pipe() {
    if (!pipe_.read) return;
    if (in_pipe_ == 0) loop_.pipes().give_back(std::move(pipe_));
    pipe_ = PipePool::Pipe();  // a pipe still holding bytes is closed with them
    in_pipe_ = 0;
}

void SplicePump::maybe_free() {
    // Owned by its handler until stop(); then freed once no poll is armed.
    if (freed_ || handler_ || readable_armed_ || writable_armed_) return;
    freed_ = true;
    loop_.retire(this);
}

}  // namespace lb
