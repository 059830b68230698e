// TcpStream: a TCP socket driven by io_uring — multishot recv into the
// loop's provided buffers, bulk writes sent directly while nothing is queued,
// else gathered sendmsg from a ByteQueue, connect with a
// linked timeout, graceful (lingering) or abortive close.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <list>
#include <memory>
#include <string>
#include <utility>

#include "conf/config.h"
#include "lb/base/byte_queue.h"
#include "lb/base/timer_wheel.h"
#include "lb/base/unique_fd.h"
#include "lb/io/stream.h"

namespace lb {

// A look at the first bytes a stream receives before any reach its handler
// (listeners/proxy_screen.h refuses a PROXY header from a peer that may not
// send one).
class FirstBytesCheck {
public:
    enum class Verdict { need_more, pass, refuse };
    virtual ~FirstBytesCheck() = default;
    // `received`: every byte so far.
    virtual Verdict check(std::string_view received) = 0;
};

class TcpStream final : public Stream, private Lingering {
public:
    // Adopts a connected socket (accepted, or connected elsewhere).
    TcpStream(EventLoop& loop, UniqueFd fd, const SocketAddress& peer);
    // Starts a non-blocking connect. The handler hears on_stream_connected
    // (never from inside this call). `receive_buffer` > 0 sets SO_RCVBUF
    // before the connect (the window scale is chosen then); 0 leaves the
    // kernel's autotuning.
    static std::unique_ptr<TcpStream> connect(EventLoop& loop, const SocketAddress& to, int64_t timeout_ms,
                                              StreamHandler* handler, int receive_buffer = 0);
    ~TcpStream() override;

    void set_handler(StreamHandler* handler) override { handler_ = handler; }
    void start_reading() override;
    void stop_reading() override;
    void write(std::string_view data) override;
    size_t pending_output() const override { return out_.size(); }
    // Bytes received while reading was stopped and not yet handed on.
    size_t held_input() const;
    void shutdown_write() override;
    int splice_source_fd() const override;
    int splice_sink_fd() const override;
    void notify_when_flushed() override;
    bool pause_for_splice() override;
    std::list<std::string> take_held_input() override { return std::exchange(stash_, {}); }
    bool connected() const override { return !connecting_ && fd_; }
    const SocketAddress& peer() const override { return peer_; }
    const SocketAddress& local() const override;
    int fd() const { return fd_.get(); }

    // The client and destination a trusted proxy's PROXY header carried:
    // peer() and local() report them from now on.
    void set_addresses(const SocketAddress& peer, const SocketAddress& local);
    // Bytes read ahead of the current handler (after a PROXY header): they
    // are delivered first, once reading is started.
    void unread(std::string_view data);
    // Holds the first bytes until `check` passes them (then they reach the
    // handler as usual) or refuses them (on_stream_error -EPROTO, nothing
    // delivered). Bytes followed by EOF before a verdict are passed.
    void check_first_bytes(std::unique_ptr<FirstBytesCheck> check);

    // Writes at least this big try a direct send before queueing; smaller
    // ones are batched through the ring. Relayed bytes arrive in receive
    // buffers of 16 KiB (EventLoop::Options::buffer_size), so one send per
    // buffer would cost a syscall, and on loopback the receiver's softirq,
    // per 16 KiB: a burst read in one turn goes out in one gathered send of
    // up to 512 KiB instead, for a copy into the queue (http-large bench:
    // 428 -> 310 us per 1 MiB response with bbr, 682 -> 364 with cubic).
    static constexpr size_t kDirectSendMin = 64 * 1024;

    // How long a graceful close may take (flush + linger) before it aborts.
    static constexpr int64_t kCloseTimeoutMs = 5000;

protected:
    void begin_close(CloseMode mode) override;

private:
    TcpStream(EventLoop& loop);

    void arm_recv();
    void submit_send();
    void send_deferred();
    void on_recv(int result, uint32_t flags);
    void on_send(int result, uint32_t flags);
    void on_connect(int result, uint32_t flags);
    void deliver_stash();
    void paused();
    void deliver(std::string_view data);
    bool screen_first_bytes(std::string_view data);
    void fail(int error);
    void after_output_flushed();
    void finish_close();
    void abort_linger() override { finish_close(); }
    void maybe_release();
    template <class Task>
    void defer_task(Task task);
    bool ops_in_flight() const { return recv_armed_ || send_inflight_ || connecting_; }

    EventLoop& loop_;
    UniqueFd fd_;
    StreamHandler* handler_ = nullptr;
    SocketAddress peer_;
    mutable SocketAddress local_;

    // reading
    bool want_read_ = false;
    bool recv_armed_ = false;
    bool recv_cancel_pending_ = false;
    bool eof_seen_ = false;
    bool eof_delivered_ = false;
    bool delivery_scheduled_ = false;
    bool notify_paused_ = false;  // pause_for_splice(): on_stream_paused() when the receive is done
    // Received while reading was stopped, one string per receive: handed on
    // a piece at a time, so a handler that pauses again mid-way leaves the
    // rest here instead of copying it, and a long stash never reallocates.
    // A list: empty, it allocates nothing (a deque would, for every stream).
    std::list<std::string> stash_;

    // check_first_bytes(): the bytes held until the check decides.
    std::unique_ptr<FirstBytesCheck> first_check_;
    std::string screened_;

    // writing
    ByteQueue out_;
    bool send_inflight_ = false;
    unsigned deferred_pending_ = 0;  // defer_task()s not run yet: release waits for them
    bool send_scheduled_ = false;  // send_deferred() is due before the loop next waits
    bool shutdown_requested_ = false;
    bool write_shut_ = false;
    bool notify_drain_ = false;
    bool notify_flushed_ = false;

    // connecting
    bool connecting_ = false;
    __kernel_timespec connect_timeout_{};

    // closing
    bool failed_ = false;
    bool closing_ = false;
    bool finishing_ = false;
    bool released_ = false;
    bool linger_ = false;
    Timer close_timer_;

    CompletionOf<TcpStream, &TcpStream::on_recv> recv_completion_{this};
    CompletionOf<TcpStream, &TcpStream::on_send> send_completion_{this};
    CompletionOf<TcpStream, &TcpStream::on_connect> connect_completion_{this};
};

}  // namespace lb
