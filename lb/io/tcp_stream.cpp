#include "lb/io/tcp_stream.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "lb/base/log.h"
#include "lb/io/socket_options.h"

namespace lb {

TcpStream::TcpStream(EventLoop& loop) : loop_(loop), close_timer_([this] { finish_close(); }) {
    loop_.stream_opened();
}

TcpStream::TcpStream(EventLoop& loop, UniqueFd fd, const SocketAddress& peer) : TcpStream(loop) {
    fd_ = std::move(fd);
    peer_ = peer;
}

TcpStream::~TcpStream() {
    loop_.remove_lingering(this);
    // Normal path: finish_close() already closed the fd; fd_ still holds one
    // only when the whole loop is torn down, and closes it.
    loop_.stream_closed();
}

std::unique_ptr<TcpStream> TcpStream::connect(EventLoop& loop, const SocketAddress& to, int64_t timeout_ms,
                                              StreamHandler* handler, int receive_buffer) {
    std::unique_ptr<TcpStream> stream(new TcpStream(loop));
    stream->handler_ = handler;
    stream->peer_ = to;
    int fd = ::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int error = -errno;
        TcpStream* raw = stream.get();
        raw->failed_ = true;
        loop.defer([raw, error] {
            if (!raw->closing_ && raw->handler_) raw->handler_->on_stream_connected(*raw, error);
        });
        return stream;
    }
    stream->fd_.reset(fd);
    set_tcp_nodelay(fd);
    if (receive_buffer > 0) set_receive_buffer(fd, receive_buffer);
    stream->connecting_ = true;
    stream->connect_timeout_.tv_sec = timeout_ms / 1000;
    stream->connect_timeout_.tv_nsec = (timeout_ms % 1000) * 1000000;
    loop.reserve_sqes(2);  // the connect and its linked timeout, never split by a flush
    io_uring_sqe* sqe = loop.sqe_for(&stream->connect_completion_);
    io_uring_prep_connect(sqe, fd, stream->peer_.sa(), stream->peer_.len());
    sqe->flags |= IOSQE_IO_LINK;
    io_uring_prep_link_timeout(loop.sqe_for(nullptr), &stream->connect_timeout_, 0);
    return stream;
}

const SocketAddress& TcpStream::local() const {
    if (!local_.valid() && fd_) local_ = SocketAddress::local_of(fd_.get());
    return local_;
}

void TcpStream::set_addresses(const SocketAddress& peer, const SocketAddress& local) {
    peer_ = peer;
    local_ = local;
}

// A task of this stream's own: the stream is not released before it has run
// (it may have been closed meanwhile; each task checks), and a close that
// waited for it finishes after it.
template <class Task>
void TcpStream::defer_task(Task task) {
    ++deferred_pending_;
    loop_.defer([this, task]() mutable {
        --deferred_pending_;
        task();
        maybe_release();
    });
}

void TcpStream::unread(std::string_view data) {
    if (data.empty() || closing_) return;
    stash_.emplace_front(data);
    if (want_read_ && !delivery_scheduled_) {
        delivery_scheduled_ = true;
        defer_task([this] { deliver_stash(); });
    }
}

void TcpStream::check_first_bytes(std::unique_ptr<FirstBytesCheck> check) { first_check_ = std::move(check); }

// While checking: true when the bytes held so far (screened_, `data`
// included) may go on to the handler; false when there is nothing to
// deliver yet, or the stream failed.
bool TcpStream::screen_first_bytes(std::string_view data) {
    screened_.append(data);
    switch (first_check_->check(screened_)) {
        case FirstBytesCheck::Verdict::need_more:
            return false;
        case FirstBytesCheck::Verdict::refuse:
            first_check_.reset();
            screened_.clear();
            fail(-EPROTO);
            return false;
        case FirstBytesCheck::Verdict::pass:
            first_check_.reset();
            return true;
    }
    return false;
}

void TcpStream::on_connect(int result, uint32_t) {
    connecting_ = false;
    if (closing_) {
        maybe_release();
        return;
    }
    if (result == -ECANCELED) result = -ETIMEDOUT;  // the linked timeout fired
    if (result < 0) {
        failed_ = true;
        if (handler_) handler_->on_stream_connected(*this, result);
        return;
    }
    if (!out_.empty()) submit_send();
    else if (shutdown_requested_) after_output_flushed();  // asked for while connecting: the FIN now
    if (want_read_) arm_recv();
    if (handler_) handler_->on_stream_connected(*this, 0);
}

// ---------------------------------------------------------------- reading

void TcpStream::arm_recv() {
    if (recv_armed_ || eof_seen_ || failed_ || !fd_ || connecting_) return;
    // Held bytes go first (deliver_stash() arms once they are out): a
    // receive armed now would add to them, and a reader that keeps pausing
    // (a body relayed to a slower target) would hold more and more.
    if (!stash_.empty()) return;
    io_uring_sqe* sqe = loop_.sqe_for(&recv_completion_);
    io_uring_prep_recv_multishot(sqe, fd_.get(), nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = loop_.buffer_group();
    recv_armed_ = true;
}

void TcpStream::start_reading() {
    if (closing_ || failed_) return;
    want_read_ = true;
    notify_paused_ = false;
    if (!stash_.empty() || (eof_seen_ && !eof_delivered_)) {
        if (!delivery_scheduled_) {
            delivery_scheduled_ = true;
            defer_task([this] { deliver_stash(); });
        }
        return;
    }
    if (!recv_cancel_pending_) arm_recv();
}

void TcpStream::stop_reading() {
    if (closing_) return;
    want_read_ = false;
    if (recv_armed_ && !recv_cancel_pending_) {
        recv_cancel_pending_ = true;
        loop_.cancel(recv_completion_);
    }
}

size_t TcpStream::held_input() const {
    size_t held = 0;
    for (const std::string& piece : stash_) held += piece.size();
    return held;
}

void TcpStream::deliver_stash() {
    delivery_scheduled_ = false;
    if (closing_ || failed_ || !want_read_) return;
    while (want_read_ && !stash_.empty() && handler_ && !closing_) {
        std::string data = std::move(stash_.front());
        stash_.pop_front();
        handler_->on_stream_data(*this, data);
    }
    if (closing_ || !want_read_) return;
    if (eof_seen_ && !eof_delivered_ && stash_.empty()) {
        eof_delivered_ = true;
        if (handler_) handler_->on_stream_eof(*this);
        return;
    }
    if (!recv_cancel_pending_) arm_recv();
}

void TcpStream::on_recv(int result, uint32_t flags) {
    if (!(flags & IORING_CQE_F_MORE)) {
        recv_armed_ = false;
        recv_cancel_pending_ = false;
    }
    if (result > 0) {
        uint16_t id = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
        std::string_view data(loop_.buffer(id), static_cast<size_t>(result));
        if (first_check_ && !closing_) {
            bool pass = screen_first_bytes(data);
            loop_.release_buffer(id);
            if (failed_) return;
            if (pass) {
                std::string held;
                held.swap(screened_);
                deliver(held);
            }
        } else {
            deliver(data);
            loop_.release_buffer(id);
        }
    } else if (result == 0) {
        eof_seen_ = true;
        if (closing_) {
            // A graceful close still sending (a scheduled send counts): the
            // answer goes out first, then after_output_flushed() ends the
            // close (eof_seen_ is set).
            if (!finishing_ && (send_scheduled_ || send_inflight_ || !out_.empty())) return;
            finish_close();
            return;
        }
        if (first_check_) {
            // A few bytes the check had no verdict on, then EOF: they pass.
            first_check_.reset();
            if (!screened_.empty()) stash_.push_back(std::move(screened_));
            screened_.clear();
            if (want_read_ && !stash_.empty() && !delivery_scheduled_) {
                delivery_scheduled_ = true;
                defer_task([this] { deliver_stash(); });
            }
        }
        if (want_read_ && stash_.empty() && handler_) {
            eof_delivered_ = true;
            handler_->on_stream_eof(*this);
        }
    } else if (result == -ENOBUFS) {
        // The provided-buffer ring ran dry for a moment; buffers come back as
        // soon as this batch is handled, so try again after it.
    } else if (result != -ECANCELED) {
        if (closing_) {
            finish_close();
            return;
        }
        fail(result);
        return;
    }
    if (recv_armed_) return;
    if (notify_paused_ && !want_read_ && !closing_) {
        paused();
        return;
    }
    if (closing_) {
        if (!finishing_ && !eof_seen_ && write_shut_ && linger_) arm_recv();  // keep lingering
        maybe_release();
        return;
    }
    if (want_read_ && !eof_seen_ && !failed_) {
        if (result == -ENOBUFS) {
            defer_task([this] {
                if (want_read_ && !closing_) arm_recv();
            });
        } else {
            arm_recv();
        }
    }
}

void TcpStream::deliver(std::string_view data) {
    if (closing_) {
        // lingering: discard
    } else if (want_read_ && stash_.empty() && handler_) {
        handler_->on_stream_data(*this, data);
    } else {
        stash_.emplace_back(data);
    }
}

// ---------------------------------------------------------------- writing

void TcpStream::write(std::string_view data) {
    if (closing_ || failed_ || shutdown_requested_ || data.empty()) return;
    if (data.size() >= kDirectSendMin && out_.empty() && !send_inflight_ && !connecting_ && fd_) {
        // Bulk relays (tunnels, bodies): the kernel takes the bytes straight
        // from the caller's buffer, saving the copy into the queue. What the
        // socket cannot take now, or an error, goes the queued way below.
        ssize_t sent = ::send(fd_.get(), data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent > 0) data.remove_prefix(static_cast<size_t>(sent));
        if (data.empty()) return;
    }
    out_.append(data);
    if (out_.size() >= kHighWater) notify_drain_ = true;
    if (!send_inflight_ && !send_scheduled_ && !connecting_ && fd_) {
        // Sent once the loop has handled its current completions, so what
        // is written in the meantime goes in the same send: a response's
        // head and body, or a request's, are one send and one segment
        // instead of two (the second waited for the first's completion).
        send_scheduled_ = true;
        defer_task([this] { send_deferred(); });
    }
}

void TcpStream::send_deferred() {
    send_scheduled_ = false;
    if (finishing_) return;
    if (send_inflight_ || connecting_ || !fd_) return;
    if (!out_.empty()) submit_send();
    else after_output_flushed();  // a close or shutdown waiting on this flush
}

void TcpStream::submit_send() {
    iovec iov[EventLoop::kMaxSendIov];
    int count = out_.gather(iov, EventLoop::kMaxSendIov);
    if (count == 0) return;
    io_uring_sqe* sqe = loop_.sqe_for(&send_completion_);
    if (count == 1) {
        io_uring_prep_send(sqe, fd_.get(), iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
    } else {
        EventLoop::GatherSend& gather = loop_.gather_send();
        std::copy_n(iov, count, gather.iov);
        gather.msg = {};
        gather.msg.msg_iov = gather.iov;
        gather.msg.msg_iovlen = static_cast<size_t>(count);
        io_uring_prep_sendmsg(sqe, fd_.get(), &gather.msg, MSG_NOSIGNAL);
    }
    send_inflight_ = true;
}

void TcpStream::on_send(int result, uint32_t) {
    send_inflight_ = false;
    if (finishing_) {
        out_.clear();  // the kernel is done with the blocks now
        maybe_release();
        return;
    }
    if (result < 0) {
        if (result == -EAGAIN || result == -EINTR) {
            submit_send();
            return;
        }
        out_.clear();
        if (closing_) {
            finish_close();
            return;
        }
        fail(result);
        return;
    }
    out_.consume(static_cast<size_t>(result));
    if (!out_.empty()) {
        submit_send();
    } else {
        after_output_flushed();
    }
    if (((notify_drain_ && out_.size() <= kLowWater) || (notify_flushed_ && out_.empty())) && !closing_) {
        notify_drain_ = false;
        notify_flushed_ = false;
        if (handler_) handler_->on_stream_drained(*this);
    }
}

void TcpStream::after_output_flushed() {
    if ((shutdown_requested_ || closing_) && !write_shut_ && fd_) {
        ::shutdown(fd_.get(), SHUT_WR);
        write_shut_ = true;
    }
    if (closing_ && !finishing_) {
        // Linger: read and drop what the peer still sends, so our close
        // does not turn into a RST that destroys the response in flight.
        if (eof_seen_ || failed_ || !linger_) finish_close();
        else arm_recv();
    }
}

void TcpStream::shutdown_write() {
    if (closing_ || failed_ || shutdown_requested_) return;
    shutdown_requested_ = true;
    if (!send_inflight_ && !send_scheduled_ && out_.empty() && !connecting_) after_output_flushed();
}

// ---------------------------------------------------------------- splicing

int TcpStream::splice_source_fd() const {
    bool idle = !want_read_ && !recv_armed_ && !delivery_scheduled_ && stash_.empty() && !first_check_ &&
                screened_.empty() && !eof_seen_;
    return idle && connected() && !failed_ && !closing_ ? fd_.get() : -1;
}

int TcpStream::splice_sink_fd() const {
    return connected() && !shutdown_requested_ && !failed_ && !closing_ ? fd_.get() : -1;
}

bool TcpStream::pause_for_splice() {
    if (closing_ || failed_ || eof_seen_ || connecting_ || !fd_ || first_check_) return false;
    // What comes next is a body the pump reads as fast as it arrives. A
    // connection that carries requests and answers is in the kernel's
    // interactive ACK mode, where reading does not send the ACK of the
    // last segment of a burst (only the delayed-ACK timer does, 40 ms or
    // more, while the sender waits on it); HAProxy's slower reads fill the
    // window, and each one reopening it is ACKed at once.
    set_tcp_quickack(fd_.get());
    stop_reading();
    notify_paused_ = true;
    if (!recv_armed_) {
        defer_task([this] { paused(); });
    }
    return true;
}

// The receive stopped by pause_for_splice() is done.
void TcpStream::paused() {
    if (!notify_paused_ || recv_armed_ || want_read_ || closing_) return;
    notify_paused_ = false;
    if (handler_) handler_->on_stream_paused(*this);
}

void TcpStream::notify_when_flushed() {
    if (closing_) return;
    if (out_.empty() && !send_inflight_) {
        defer_task([this] {
            if (!closing_ && handler_) handler_->on_stream_drained(*this);
        });
        return;
    }
    notify_flushed_ = true;
}

// ---------------------------------------------------------------- errors and close

void TcpStream::fail(int error) {
    if (failed_) return;
    failed_ = true;
    want_read_ = false;
    if (handler_) handler_->on_stream_error(*this, error);
}

void TcpStream::begin_close(CloseMode mode) {
    if (closing_) return;
    closing_ = true;
    handler_ = nullptr;
    want_read_ = false;
    stash_.clear();
    if (!fd_) {
        maybe_release();
        return;
    }
    if (mode == CloseMode::reset) {
        linger off{1, 0};
        setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &off, sizeof(off));
    }
    if ((mode != CloseMode::graceful && mode != CloseMode::linger) || connecting_ || failed_) {
        finish_close();
        return;
    }
    linger_ = mode == CloseMode::linger;
    loop_.timers().schedule(close_timer_, kCloseTimeoutMs);
    loop_.add_lingering(this);
    if (!send_inflight_ && !send_scheduled_ && out_.empty()) after_output_flushed();
    // else on_send() calls after_output_flushed() when the queue empties.
}

void TcpStream::finish_close() {
    if (!closing_) {  // close timer cannot fire before close; defensive
        closing_ = true;
        handler_ = nullptr;
    }
    loop_.timers().cancel(close_timer_);
    loop_.remove_lingering(this);
    if (!finishing_) {
        finishing_ = true;
        // Not while a send is in flight: the kernel may still read those
        // blocks (a send waiting for the peer's window retries from them),
        // and a cleared queue hands them to the next stream that writes.
        if (!send_inflight_) out_.clear();
        if (fd_ && ops_in_flight()) {
            io_uring_prep_cancel_fd(loop_.sqe_for(nullptr), fd_.get(), IORING_ASYNC_CANCEL_ALL);
        }
    }
    maybe_release();
}

void TcpStream::maybe_release() {
    if (!closing_ || released_) return;
    if (!finishing_) {
        // Graceful close still flushing or lingering; nothing to do yet unless
        // every operation has ended without a path forward.
        if (ops_in_flight() || deferred_pending_ != 0) return;
        if (write_shut_ && linger_ && !eof_seen_ && !failed_) {
            arm_recv();
            if (recv_armed_) return;
        }
        finishing_ = true;
    }
    if (ops_in_flight() || deferred_pending_ != 0) return;
    released_ = true;
    fd_.reset();
    loop_.retire(this);
}

}  // namespace lb
