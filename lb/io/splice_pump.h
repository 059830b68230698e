// SplicePump: moves one direction of a plain TCP tunnel from socket to
// socket through a pipe with splice(2), so the bytes never enter user
// memory: neither copy a receive-then-send relay pays (tcp-throughput bench,
// tools/bench/RESULTS.md).
//
// io_uring's own splice runs on its blocking worker threads, so the pump
// watches the source through the ring (multishot poll) and calls splice(2)
// non-blocking from the loop: socket -> pipe, pipe -> socket. When the
// destination is full it waits for it to be writable (a one-shot poll),
// leaving the rest in the pipe, and reads the source again once the pipe
// has room: back-pressure is the pipe's size, then the sockets' buffers.
//
// Pipes come from the loop's PipePool while a direction has bytes in
// flight and go back as soon as it has none, so an idle tunnel holds none.
// A pump with a limit (a body) keeps its pipe until the end, so it can only
// lack one before its first byte. Without a pipe (descriptors run out) the
// pump steps aside: its owner moves the bytes another way, nothing is lost.
//
// The pump works on the two descriptors only (and makes them non-blocking:
// splice(2) reads a blocking socket blocking); the streams that own them
// must not read the source or write the destination while it runs
// (Stream::splice_source_fd / splice_sink_fd say when a stream is idle).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "lb/base/unique_fd.h"
#include "lb/io/event_loop.h"

namespace lb {

// Pipes for SplicePumps, one pool per loop (EventLoop::pipes()).
class PipePool {
public:
    struct Pipe {
        UniqueFd read;
        UniqueFd write;
        size_t capacity = 0;  // bytes the pipe holds
    };
    // Each pipe asks for this much room (the kernel's default, 64 KiB,
    // when the system's limit for unprivileged pipes refuses it).
    static constexpr size_t kPipeSize = 1 << 20;
    // Empty pipes kept for the next burst; more are closed.
    static constexpr size_t kMaxSpare = 16;

    // A pipe, or one with no descriptors (pipe2 failed; errno says why).
    Pipe take();
    // `pipe` must be empty.
    void give_back(Pipe pipe);
    size_t spare() const { return spare_.size(); }

private:
    std::vector<Pipe> spare_;
};

class SplicePump final : public Retirable {
public:
    class Handler {
    public:
        // Bytes moved: `bytes` more read from the source (0: only written
        // out to the destination).
        virtual void on_pump_moved(SplicePump& pump, size_t bytes) = 0;
        // The source sent FIN, or the limit was read, and every byte read
        // reached the destination.
        virtual void on_pump_eof(SplicePump& pump) = 0;
        // A socket failed (reset, broken pipe): -errno; sink_failed() says
        // whether it was the destination's.
        virtual void on_pump_error(SplicePump& pump, int error) = 0;
        // No pipe could be had; no bytes are held: read the source another way.
        virtual void on_pump_unavailable(SplicePump& pump) = 0;

    protected:
        ~Handler() = default;
    };

    static constexpr uint64_t kNoLimit = UINT64_MAX;
    // Starts moving bytes from `from` to `to` (descriptors it does not own),
    // at most `limit` of them (a body of known length: what follows it in
    // the source stays there). No callback comes from inside this call.
    static std::unique_ptr<SplicePump> start(EventLoop& loop, int from, int to, Handler* handler,
                                             uint64_t limit = kNoLimit);
    // Ends the pump: no callback after this. With `flush`, bytes still in
    // its pipe get one non-blocking try at the destination first (a
    // graceful close); what does not fit is dropped. The pump frees itself
    // once the ring has let go of it.
    static void stop(std::unique_ptr<SplicePump> pump, bool flush);
    ~SplicePump() override;

    // While held, nothing is written to the destination (its stream still
    // has bytes queued that must go first); reading goes on until the pipe
    // is full.
    void hold_output(bool held);
    // Bytes read and not yet written.
    size_t in_flight() const { return in_pipe_; }
    bool sink_failed() const { return sink_failed_; }

private:
    SplicePump(EventLoop& loop, int from, int to, Handler* handler, uint64_t limit);

    void arm_readable();
    void arm_writable();
    void on_readable(int result, uint32_t flags);
    void on_writable(int result, uint32_t flags);
    // A poll's completion: false when the pump has nothing to do on it
    // (stopped, or the poll failed and the handler was told).
    bool poll_answered(int result);
    void pump();
    // splice(2) into / out of the pipe: false when the pump failed or stepped aside.
    bool fill(bool& more);
    bool drain();
    void finish();
    void stop_polling_source();  // its final completion still comes
    void release_pipe();
    void maybe_free();

    EventLoop& loop_;
    int from_;
    int to_;
    Handler* handler_;
    PipePool::Pipe pipe_;
    size_t in_pipe_ = 0;
    uint64_t left_;  // bytes still to read before the limit
    bool eof_ = false;
    bool held_ = false;
    bool readable_armed_ = false;
    bool writable_armed_ = false;
    bool stopped_ = false;
    bool freed_ = false;
    bool pumping_ = false;
    bool sink_failed_ = false;
    CompletionOf<SplicePump, &SplicePump::on_readable> readable_completion_{this};
    CompletionOf<SplicePump, &SplicePump::on_writable> writable_completion_{this};
};

}  // namespace lb
