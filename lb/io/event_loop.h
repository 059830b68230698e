// EventLoop: one io_uring, its provided-buffer rings, a timer wheel and a
// cross-thread mailbox. Every worker, the control thread and the health
// checker each run one (docs/architecture.md, "Threads").
//
// Threading: created on, and used only by, the thread that calls run(); the
// one exception is post(), which any thread may call.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "lb/base/result.h"
#include "lb/base/timer_wheel.h"
#include "lb/io/provided_buffers.h"

namespace lb {

class PipePool;

// Receives the CQEs of one kind of operation of one object. The object must
// outlive every operation it submitted with this completion as user_data.
class IoCompletion {
public:
    virtual void on_complete(int result, uint32_t flags) = 0;

protected:
    ~IoCompletion() = default;
};

template <class T, void (T::*Method)(int, uint32_t)>
class CompletionOf final : public IoCompletion {
public:
    explicit CompletionOf(T* owner) : owner_(owner) {}
    void on_complete(int result, uint32_t flags) override { (owner_->*Method)(result, flags); }

private:
    T* owner_;
};

// A socket in a graceful close (flushing, lingering) that a hard stop may cut short.
class Lingering {
public:
    virtual void abort_linger() = 0;

protected:
    ~Lingering() = default;
};

// Objects freed only after the current batch of completions (a callback may
// be running on their stack when they decide to go).
class Retirable {
public:
    virtual ~Retirable() = default;
};

class EventLoop {
public:
    struct Options {
        unsigned ring_entries = 2048;
        unsigned buffer_count = 1024;  // provided receive buffers (power of two)
        unsigned buffer_size = 16384;
    };

    // Must be called on the thread that will run the loop (SINGLE_ISSUER).
    static Result<std::unique_ptr<EventLoop>> create(const Options& options);
    ~EventLoop();

    // A submission entry; never null (flushes the SQ when it is full).
    io_uring_sqe* sqe();
    // Room for `count` entries that must reach the kernel together (a
    // linked pair): a flush between them would submit half a link.
    void reserve_sqes(unsigned count);
    // Submits an entry with `completion` as user_data (nullptr = ignore its CQE).
    io_uring_sqe* sqe_for(IoCompletion* completion);
    // Room for a sendmsg's header and iovecs, valid until this loop
    // iteration's submit. The kernel copies both when it takes the request
    // (IORING_FEAT_SUBMIT_STABLE, which init() requires), so a stream needs
    // them only between preparing its SQE and the submit, not while the send
    // is in flight: streams borrow them here instead of each holding 568
    // bytes for sends it mostly is not making (idle connections are most of
    // a balancer's connections).
    // 32 iovecs of the send queue's 16 KiB blocks = 512 KiB a send; 8 cost
    // ~20% more CPU per GB relayed (tcp-throughput bench: 0.38 -> 0.47 s/GB).
    static constexpr int kMaxSendIov = 32;
    struct GatherSend {
        msghdr msg;
        iovec iov[kMaxSendIov];
    };
    GatherSend& gather_send();
    // Asks the kernel to cancel what was submitted with `completion`; each
    // operation still completes through it (-ECANCELED, or its result if it
    // was done first). Matches on the IoCompletion address sqe_for stored,
    // wherever the completion sits inside its owner.
    void cancel(IoCompletion& completion);

    // Provided receive buffers for streams: recv ops use IOSQE_BUFFER_SELECT
    // with this group.
    uint16_t buffer_group() const { return kStreamBufferGroup; }
    const char* buffer(uint16_t id) const { return stream_buffers_->buffer(id); }
    void release_buffer(uint16_t id) { stream_buffers_->release(id); }
    // Provided buffers for UDP, each room for the largest datagram and its
    // addresses; made on first use (only loops with udp listeners pay for
    // them). Null, logged, if the kernel refused.
    ProvidedBuffers* datagram_buffers();
    // Pipes for splicing plain TCP tunnels (lb/io/splice_pump.h); made on first use.
    PipePool& pipes();

    TimerWheel& timers() { return timers_; }
    int64_t now_ms() const { return now_us_ / 1000; }
    int64_t now_us() const { return now_us_; }

    // Runs until stop() is called and `until` (if given) returns true.
    void run();
    void stop();  // loop thread only; use post() from elsewhere
    bool stopping() const { return stopping_; }
    // Extra condition checked each iteration once stop() was called: the loop
    // keeps running until it returns true (e.g. "all connections closed").
    void set_exit_condition(std::function<bool()> condition) { exit_condition_ = std::move(condition); }

    // Any thread: run `task` on the loop thread soon.
    void post(std::function<void()> task);

    void retire(Retirable* object) { graveyard_.push_back(object); }
    // Runs `task` on this thread after the current completions (never
    // re-entrantly from the caller's stack).
    void defer(std::function<void()> task) { deferred_.push_back(std::move(task)); }

    // Open sockets owned by streams on this loop, and splice pumps the ring
    // still knows; shutdown waits for zero.
    size_t live_streams() const { return live_streams_; }
    void stream_opened() { ++live_streams_; }
    void stream_closed() { --live_streams_; }
    void add_lingering(Lingering* stream) { lingering_.insert(stream); }
    void remove_lingering(Lingering* stream) { lingering_.erase(stream); }
    // Hard stop: end every graceful close now.
    void abort_lingering();
    // Called at the end of every iteration, after completions and timers.
    void set_idle_hook(std::function<void()> hook) { idle_hook_ = std::move(hook); }

private:
    EventLoop();
    Status init(const Options& options);
    void arm_wakeup();
    void on_wakeup(int result, uint32_t flags);
    void run_posted();
    void run_deferred();
    void free_retired();

    Options options_;
    io_uring ring_{};
    bool ring_ready_ = false;
    static constexpr uint16_t kStreamBufferGroup = 0;
    static constexpr uint16_t kDatagramBufferGroup = 1;
    static constexpr unsigned kDatagramBufferCount = 512;
    // 65,535 bytes of payload plus io_uring's recvmsg header, the source
    // address and the packet-info control message.
    static constexpr size_t kDatagramBufferSize = 65536 + 1024;
    std::unique_ptr<ProvidedBuffers> stream_buffers_;
    std::unique_ptr<ProvidedBuffers> datagram_buffers_;
    std::unique_ptr<PipePool> pipes_;
    TimerWheel timers_;
    int64_t now_us_ = 0;
    bool stopping_ = false;
    std::function<bool()> exit_condition_;
    std::function<void()> idle_hook_;

    int wake_fd_ = -1;
    uint64_t wake_value_ = 0;
    CompletionOf<EventLoop, &EventLoop::on_wakeup> wake_completion_{this};
    std::mutex posted_mutex_;
    std::vector<std::function<void()>> posted_;

    // gather_send(): every one handed out since the last submit is in use.
    std::vector<std::unique_ptr<GatherSend>> gather_sends_;
    size_t gather_sends_used_ = 0;

    std::vector<Retirable*> graveyard_;
    std::vector<std::function<void()>> deferred_;
    size_t live_streams_ = 0;
    std::unordered_set<Lingering*> lingering_;
};

}  // namespace lb
