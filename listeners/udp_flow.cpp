#include "listeners/udp_flow.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lb/base/log.h"
#include "listeners/udp_listener.h"

namespace lb {

namespace {

// ICMP errors a connected UDP socket reports: nothing listens there, or the
// target cannot be reached at all.
bool target_unreachable(int error) {
    return error == -ECONNREFUSED || error == -EHOSTUNREACH || error == -ENETUNREACH;
}

}  // namespace

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
}

int UdpFlow::open() {
    const SocketAddress& to = target_->address;
    fd_.reset(::socket(to.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd_ || ::connect(fd_.get(), to.sa(), to.len()) != 0) return errno;
    arm_recv();
    loop_.timers().schedule(idle_timer_, owner_.idle_timeout_ms());
    return 0;
}

void UdpFlow::arm_recv() {
    if (recv_armed_ || ended_ || refused_) return;
    io_uring_sqe* sqe = loop_.sqe_for(&recv_completion_);
    // recvmsg, not recv: an empty datagram then still completes (its result
    // counts the recvmsg header), where a multishot recv posts nothing.
    io_uring_prep_recvmsg_multishot(sqe, fd_.get(), &recv_header_, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = owner_.buffers().group();
    recv_armed_ = true;
}

void UdpFlow::forward(const char* data, size_t size, uint16_t buffer) {
    bytes_in_ += size;
    ++sends_in_flight_;
    owner_.sender().send(fd_.get(), data, size, buffer, this);
    touch();
}

void UdpFlow::on_datagram_sent(int result) {
    --sends_in_flight_;
    if (target_unreachable(result) && !ended_) mark_refused();
    maybe_release();
}

void UdpFlow::on_recv(int result, uint32_t flags) {
    if (!(flags & IORING_CQE_F_MORE)) recv_armed_ = false;
    if (flags & IORING_CQE_F_BUFFER) {
        uint16_t buffer = ProvidedBuffers::id_of(flags);
        char* base = owner_.buffers().buffer(buffer);
        auto* out = result >= 0 ? io_uring_recvmsg_validate(base, result, &recv_header_) : nullptr;
        if (ended_ || !out || (out->flags & MSG_TRUNC)) {
            owner_.buffers().release(buffer);
        } else {
            auto* payload = static_cast<const char*>(io_uring_recvmsg_payload(out, &recv_header_));
            auto size = static_cast<size_t>(io_uring_recvmsg_payload_length(out, result, &recv_header_));
            bytes_out_ += size;
            owner_.reply(*this, payload, size, buffer);
            touch();
        }
    } else if (target_unreachable(result)) {
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
    refused_targets_.push_back(target_);
    owner_.flow_refused(*this);
}

void UdpFlow::end() {
    if (ended_) return;
    ended_ = true;
    loop_.timers().cancel(idle_timer_);
    // Sends (MSG_DONTWAIT) finish on their own; the receive is cancelled by
    // its own identity, which no later user of this fd number can share.
    if (recv_armed_)
        loop_.cancel(recv_completion_);
    maybe_release();
}

void UdpFlow::maybe_release() {
    if (!ended_ || released_ || recv_armed_ || sends_in_flight_ > 0) return;
    released_ = true;
    fd_.reset();
    owner_.flow_released(*this);
    loop_.retire(this);
}

}  // namespace lb
