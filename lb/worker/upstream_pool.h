// UpstreamPool: idle keep-alive connections to targets, per worker, reused
// most-recent-first. An idle connection that the target closes (or that
// sends anything) is dropped at once; idle ones expire after kIdleMs.
//
// Threading: one per worker; loop thread only.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "lb/base/timer_wheel.h"
#include "lb/io/stream.h"
#include "lb/targets/target_state.h"

namespace lb {

class UpstreamPool final : private StreamHandler {
public:
    static constexpr int64_t kIdleMs = 15000;
    // As many as the busiest burst a worker sees: HTTP/2 clients multiplex
    // hundreds of streams, each its own HTTP/1.1 request to a target, and a
    // cap below that closes and reconnects on every burst (nginx's bench
    // config keeps 1024). Unused ones expire after kIdleMs.
    static constexpr size_t kMaxIdlePerTarget = 1024;

    explicit UpstreamPool(EventLoop& loop);
    ~UpstreamPool();

    // An idle connection to `target`, or null.
    std::unique_ptr<Stream> take(const TargetState* target);
    void put(std::shared_ptr<TargetState> target, std::unique_ptr<Stream> stream);
    // Drops every idle connection to `target` (it went unhealthy or away).
    void close_target(const TargetState* target);
    void close_all();
    size_t idle_count() const { return total_; }

private:
    struct Entry {
        std::unique_ptr<Stream> stream;
        std::shared_ptr<TargetState> target;
        int64_t idle_since_ms;
    };

    void on_stream_connected(Stream&, int) override {}
    void on_stream_data(Stream& stream, std::string_view) override { drop(stream); }
    void on_stream_eof(Stream& stream) override { drop(stream); }
    void on_stream_error(Stream& stream, int) override { drop(stream); }
    void on_stream_drained(Stream&) override {}
    void drop(Stream& stream);
    void sweep();

    EventLoop& loop_;
    std::unordered_map<const TargetState*, std::vector<Entry>> idle_;
    size_t total_ = 0;
    Timer sweep_timer_;
};

}  // namespace lb
