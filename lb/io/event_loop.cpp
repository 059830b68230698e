#include "lb/io/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lb/base/clock.h"
#include "lb/base/log.h"
#include "lb/io/splice_pump.h"

namespace lb {

namespace {

// Newer setup flags first; older kernels reject them with EINVAL and we fall back.
int init_ring(unsigned entries, io_uring* ring, unsigned* features) {
    const unsigned attempts[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        0,
    };
    int ret = -EINVAL;
    for (unsigned flags : attempts) {
        io_uring_params params{};
        params.flags = flags | IORING_SETUP_CQSIZE;
        params.cq_entries = entries * 4;  // multishot ops post many CQEs per SQE
        ret = io_uring_queue_init_params(entries, ring, &params);
        if (ret == 0) {
            *features = params.features;
            return 0;
        }
        if (ret != -EINVAL) return ret;
    }
    return ret;
}

}  // namespace

EventLoop::EventLoop() : timers_(steady_now_ms()), now_us_(steady_now_us()) {}

Result<std::unique_ptr<EventLoop>> EventLoop::create(const Options& options) {
    std::unique_ptr<EventLoop> loop(new EventLoop());
    if (auto status = loop->init(options); !status) return Error{status.error()};
    return loop;
}

Status EventLoop::init(const Options& options) {
    options_ = options;
    unsigned features = 0;
    int ret = init_ring(options.ring_entries, &ring_, &features);
    if (ret < 0) return Error{std::string("io_uring setup failed: ") + strerror(-ret)};
    ring_ready_ = true;
    // Kernels since 5.5 have it; gather_send() depends on it.
    if (!(features & IORING_FEAT_SUBMIT_STABLE)) return Error{"io_uring: this kernel lacks IORING_FEAT_SUBMIT_STABLE"};

    auto buffers = ProvidedBuffers::create(&ring_, kStreamBufferGroup, options.buffer_count, options.buffer_size);
    if (!buffers) return Error{buffers.error()};
    stream_buffers_ = std::move(*buffers);

    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) return Error{std::string("eventfd failed: ") + strerror(errno)};
    arm_wakeup();
    return Ok{};
}

EventLoop::~EventLoop() {
    free_retired();
    if (ring_ready_) io_uring_queue_exit(&ring_);
    // The kernel may write into provided buffers until the ring is gone.
    stream_buffers_.reset();
    datagram_buffers_.reset();
    if (wake_fd_ >= 0) close(wake_fd_);
}

io_uring_sqe* EventLoop::sqe() {
    io_uring_sqe* entry = io_uring_get_sqe(&ring_);
    while (!entry) {
        io_uring_submit(&ring_);
        entry = io_uring_get_sqe(&ring_);
    }
    return entry;
}

void EventLoop::reserve_sqes(unsigned count) {
    if (io_uring_sq_space_left(&ring_) < count) io_uring_submit(&ring_);
}

io_uring_sqe* EventLoop::sqe_for(IoCompletion* completion) {
    io_uring_sqe* entry = sqe();
    io_uring_sqe_set_data(entry, completion);
    return entry;
}

EventLoop::GatherSend& EventLoop::gather_send() {
    // Slots come back only in run(), once its submit left nothing queued
    // (sqe()'s flush of a full ring does not return them: simpler than
    // knowing which were prepared before it).
    if (gather_sends_used_ == gather_sends_.size()) gather_sends_.push_back(std::make_unique<GatherSend>());
    return *gather_sends_[gather_sends_used_++];
}

void EventLoop::cancel(IoCompletion& completion) {
    io_uring_prep_cancel64(sqe_for(nullptr), reinterpret_cast<uint64_t>(&completion), 0);
}

PipePool& EventLoop::pipes() {
    if (!pipes_) pipes_ = std::make_unique<PipePool>();
    return *pipes_;
}

ProvidedBuffers* EventLoop::datagram_buffers() {
    if (!datagram_buffers_) {
        auto buffers = ProvidedBuffers::create(&ring_, kDatagramBufferGroup, kDatagramBufferCount, kDatagramBufferSize);
        if (!buffers) {
            LB_LOG_ERROR("datagram receive buffers: %s", buffers.error().c_str());
            return nullptr;
        }
        datagram_buffers_ = std::move(*buffers);
    }
    return datagram_buffers_.get();
}

void EventLoop::arm_wakeup() {
    io_uring_prep_read(sqe_for(&wake_completion_), wake_fd_, &wake_value_, sizeof(wake_value_), 0);
}

void EventLoop::on_wakeup(int, uint32_t) {
    run_posted();
    arm_wakeup();
}

void EventLoop::post(std::function<void()> task) {
    {
        std::lock_guard lock(posted_mutex_);
        posted_.push_back(std::move(task));
    }
    uint64_t one = 1;
    ssize_t ignored = write(wake_fd_, &one, sizeof(one));
    (void)ignored;
}

void EventLoop::run_posted() {
    std::vector<std::function<void()>> tasks;
    {
        std::lock_guard lock(posted_mutex_);
        tasks.swap(posted_);
    }
    for (auto& task : tasks) task();
}

void EventLoop::free_retired() {
    // Destructors may retire more objects; loop until quiet.
    while (!graveyard_.empty()) {
        std::vector<Retirable*> batch;
        batch.swap(graveyard_);
        for (Retirable* object : batch) delete object;
    }
}

void EventLoop::run_deferred() {
    while (!deferred_.empty()) {
        std::vector<std::function<void()>> tasks;
        tasks.swap(deferred_);
        for (auto& task : tasks) task();
    }
}

void EventLoop::stop() { stopping_ = true; }

void EventLoop::abort_lingering() {
    auto streams = lingering_;  // finishing removes entries
    for (Lingering* stream : streams) stream->abort_linger();
}

void EventLoop::run() {
    struct Entry {
        uint64_t user_data;
        int32_t result;
        uint32_t flags;
    };
    std::vector<Entry> batch;
    batch.reserve(256);
    for (;;) {
        // Work deferred from outside run() (a write before the loop started)
        // must not wait for a completion to come first.
        run_deferred();
        if (stopping_ && (!exit_condition_ || exit_condition_())) break;
        int64_t wait_ms = timers_.next_timeout_ms(now_ms());
        __kernel_timespec ts{};
        io_uring_cqe* cqe = nullptr;
        if (wait_ms >= 0) {
            ts.tv_sec = wait_ms / 1000;
            ts.tv_nsec = (wait_ms % 1000) * 1000000;
        }
        int ret = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, wait_ms >= 0 ? &ts : nullptr, nullptr);
        if (io_uring_sq_ready(&ring_) == 0) gather_sends_used_ = 0;  // the kernel has copied them all
        if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
            LB_LOG_ERROR("io_uring wait failed: %s", strerror(-ret));
        }
        now_us_ = steady_now_us();
        timers_.advance(now_ms());

        // Copy out first: handlers submit new work and may re-enter the ring.
        for (;;) {
            batch.clear();
            unsigned head;
            unsigned seen = 0;
            io_uring_for_each_cqe(&ring_, head, cqe) {
                batch.push_back({cqe->user_data, cqe->res, cqe->flags});
                if (++seen == 256) break;
            }
            if (seen == 0) break;
            io_uring_cq_advance(&ring_, seen);
            for (const Entry& entry : batch) {
                if (entry.user_data == 0) continue;  // cancel requests, linked timeouts
                reinterpret_cast<IoCompletion*>(entry.user_data)->on_complete(entry.result, entry.flags);
            }
        }
        run_deferred();
        if (idle_hook_) idle_hook_();
        free_retired();
    }
    free_retired();
}

}  // namespace lb
