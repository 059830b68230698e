#include "listeners/udp_flow.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lb/log.h"
#include "listeners/udp_listener.h"

namespace lb {

UdpFlow::UdpFlow(UdpListener& owner, const SocketAddress& client, std::shared_ptr<TargetState> target)
    : UdpFlowEntry(client),
      owner_(owner),
      loop_(owner.loop()),
      target_(std::move(target)),
      start_ms_(loop_.now_ms()),
      last_active_ms_(start_ms_),
      idle_timer_([this] { on_idle_timer(); }) {
    target_->active_connections.fetch_add(1, std::memory_order_relaxed);
    target_->connections_total.fetch_add(1, std::memory_order_relaxed);
}

UdpFlow::~UdpFlow() {
    target_->active_connections.fetch_sub(1, std::memory_order_relaxed);
    if (fd_ >= 0) ::close(fd_);  // only when the whole loop is torn down
}

bool UdpFlow::open() {
    const SocketAddress& to = target_->address;
    fd_ = ::socket(to.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0 || ::connect(fd_, to.sa(), to.len()) != 0) {
        LB_LOG_DEBUG("udp flow %s -> %s: %s", client.to_string().c_str(), target_->key.c_str(), strerror(errno));
        return false;
    }
    arm_recv();
    loop_.timers().schedule(idle_timer_, owner_.idle_timeout_ms());
    return true;
}

void UdpFlow::arm_recv() {
    if (recv_armed_ || ended_ || refused_) return;
    io_uring_sqe* sqe = loop_.sqe_for(&recv_completion_);
    io_uring_prep_recv_multishot(sqe, fd_, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = owner_.buffers().group();
    recv_armed_ = true;
}

void UdpFlow::forward(const char* data, size_t size, uint16_t buffer) {
    bytes_in_ += size;
    ++sends_in_flight_;
    owner_.sender().send(fd_, data, size, buffer, this);
    touch();
}

void UdpFlow::on_datagram_sent(int result) {
    --sends_in_flight_;
    if (result == -ECONNREFUSED && !ended_) mark_refused();
    maybe_release();
}

void UdpFlow::on_recv(int result, uint32_t flags) {
    if (!(flags & IORING_CQE_F_MORE)) recv_armed_ = false;
    if (result > 0 && (flags & IORING_CQE_F_BUFFER)) {
        uint16_t buffer = ProvidedBuffers::id_of(flags);
        if (ended_) {
            owner_.buffers().release(buffer);
        } else {
            bytes_out_ += static_cast<uint64_t>(result);
            owner_.reply(*this, owner_.buffers().buffer(buffer), static_cast<size_t>(result), buffer);
            touch();
        }
    } else if (result == -ECONNREFUSED) {
        if (!ended_) mark_refused();
    } else if (result < 0 && result != -ENOBUFS && result != -ECANCELED && !ended_) {
        LB_LOG_DEBUG("udp flow %s <- %s: %s", client.to_string().c_str(), target_->key.c_str(), strerror(-result));
    }
    if (recv_armed_) return;
    if (ended_) {
        maybe_release();
    } else if (result == -ENOBUFS) {
        // Every datagram buffer is in use; they come back as sends complete.
        loop_.defer([this] {
            if (!ended_) arm_recv();
        });
    } else {
        arm_recv();
    }
}

void UdpFlow::touch() {
    last_active_ms_ = loop_.now_ms();
    owner_.touch(*this);
}

void UdpFlow::on_idle_timer() {
    // The timer is set once per timeout, not per datagram: on firing it
    // checks when the flow was last used.
    int64_t remaining = last_active_ms_ + owner_.idle_timeout_ms() - loop_.now_ms();
    if (remaining > 0) {
        loop_.timers().schedule(idle_timer_, remaining);
        return;
    }
    owner_.flow_expired(*this);
}

void UdpFlow::mark_refused() {
    if (refused_) return;
    refused_ = true;
    refused_targets_.push_back(target_.get());
    owner_.flow_refused(*this);
}

void UdpFlow::end() {
    if (ended_) return;
    ended_ = true;
    loop_.timers().cancel(idle_timer_);
    if (fd_ >= 0 && (recv_armed_ || sends_in_flight_ > 0))
        io_uring_prep_cancel_fd(loop_.sqe_for(nullptr), fd_, IORING_ASYNC_CANCEL_ALL);
    maybe_release();
}

void UdpFlow::maybe_release() {
    if (!ended_ || released_ || recv_armed_ || sends_in_flight_ > 0) return;
    released_ = true;
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    owner_.flow_released(*this);
    loop_.retire(this);
}

}  // namespace lb
