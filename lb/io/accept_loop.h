// AcceptLoop: the multishot accept on one listening socket, for whoever
// owns the socket (a worker's share of a listener, the admin API).
//
// It re-arms when the kernel ends the multishot, and when the process or
// the system is out of descriptors or memory (EMFILE, ENFILE, ENOBUFS,
// ENOMEM) it pauses 100 ms instead of re-arming at once: the failing accept
// would complete again immediately and spin the thread until descriptors
// are freed. That is warned about at most every 5 s per loop.
//
// Threading: the thread of `loop` only. Lifetime: the owner keeps it alive
// until the `on_stopped` given to stop() has run; the socket is the owner's
// and stays open until then.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "lb/base/timer_wheel.h"
#include "lb/base/unique_fd.h"
#include "lb/io/event_loop.h"

namespace lb {

class AcceptLoop final : private IoCompletion {
public:
    // Called with each accepted descriptor, which it then owns.
    using Accepted = std::function<void(UniqueFd fd)>;

    // `what` names the socket in warnings ("accept on 0.0.0.0:80").
    AcceptLoop(EventLoop& loop, int listen_fd, std::string what, Accepted accepted);
    AcceptLoop(const AcceptLoop&) = delete;
    AcceptLoop& operator=(const AcceptLoop&) = delete;

    void start();
    // Stops accepting. `on_stopped` runs once the kernel holds no accept of
    // this socket any more: at once if none is armed, else on the last
    // completion. It may destroy the AcceptLoop. Connections the kernel
    // accepted before the cancel still go to `accepted`, and so do those
    // queued on the socket when the accept has ended (see sweep()): a
    // client whose handshake completed is owed an answer (a binary upgrade
    // hands the socket on, and nothing queued on it may be lost).
    void stop(std::function<void()> on_stopped);
    bool stopping() const { return stopping_; }

private:
    void arm();
    void sweep();
    void on_complete(int result, uint32_t flags) override;

    EventLoop& loop_;
    int fd_;
    std::string what_;
    Accepted accepted_;
    std::function<void()> on_stopped_;
    Timer retry_timer_;
    bool armed_ = false;
    bool stopping_ = false;
    int64_t last_warning_ms_ = INT64_MIN / 2;
};

}  // namespace lb
