#include "lb/io/accept_loop.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "lb/base/log.h"

namespace lb {

namespace {

constexpr int64_t kRetryMs = 100;
constexpr int64_t kWarnEveryMs = 5000;

bool out_of_resources(int error) { return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM; }

}  // namespace

AcceptLoop::AcceptLoop(EventLoop& loop, int listen_fd, std::string what, Accepted accepted)
    : loop_(loop), fd_(listen_fd), what_(std::move(what)), accepted_(std::move(accepted)), retry_timer_([this] { arm(); }) {}

void AcceptLoop::start() { arm(); }

void AcceptLoop::arm() {
    if (armed_ || stopping_) return;
    io_uring_prep_multishot_accept(loop_.sqe_for(this), fd_, nullptr, nullptr, SOCK_CLOEXEC);
    armed_ = true;
}

void AcceptLoop::stop(std::function<void()> on_stopped) {
    if (stopping_) return;
    stopping_ = true;
    on_stopped_ = std::move(on_stopped);
    loop_.timers().cancel(retry_timer_);
    if (armed_) {
        loop_.cancel(*this);
        return;
    }
    sweep();
    auto done = std::move(on_stopped_);
    if (done) done();
}

// The kernel wakes one waiter of a listening socket per connection
// (io_uring's accept waits exclusively). A connection whose wake-up went
// to the accept being cancelled stays queued with nobody woken for it,
// though another process (the new lb of a binary upgrade) still accepts on
// the socket: it would hang until the next connection arrives. So what is
// queued when the accept has ended is taken here, once.
void AcceptLoop::sweep() {
    for (;;) {
        int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        accepted_(UniqueFd(fd));
    }
}

void AcceptLoop::on_complete(int result, uint32_t flags) {
    if (!(flags & IORING_CQE_F_MORE)) armed_ = false;
    if (result >= 0) {
        UniqueFd fd(result);
        // Also while stopping: the kernel completed the accept before the
        // cancel, and the client is owed an answer (the owner decides).
        accepted_(std::move(fd));
    } else if (!stopping_ && out_of_resources(-result)) {
        if (loop_.now_ms() - last_warning_ms_ >= kWarnEveryMs) {
            last_warning_ms_ = loop_.now_ms();
            LB_LOG_WARN("%s: %s; pausing accepts briefly", what_.c_str(), strerror(-result));
        }
        if (!armed_) loop_.timers().schedule(retry_timer_, kRetryMs);
        return;
    }
    if (armed_) return;
    if (stopping_) {
        sweep();
        auto done = std::move(on_stopped_);
        if (done) done();  // may destroy this
        return;
    }
    arm();  // the multishot ended: take the next one
}

}  // namespace lb
