// WorkerCounters: what one worker counts of its connections and HTTP
// exchanges. Written by that worker only, summed when read (admin API stats
// and metrics, lb/control/metrics.h).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace lb {

struct WorkerCounters {
    std::atomic<uint64_t> connections_accepted{0};
    std::atomic<uint64_t> connections_refused_allow{0};
    std::atomic<uint64_t> connections_refused_limit{0};
    std::atomic<int64_t> connections_open{0};      // client sessions alive now
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> responses_local{0};      // answered by lb itself (fixed, redirect, errors)
    // HTTP exchanges by the status class sent: [0] none (the client went
    // away first), [1] 1xx ... [5] 5xx.
    std::array<std::atomic<uint64_t>, 6> responses_by_class{};

    void count_response(int status) {
        size_t index = status >= 100 && status < 600 ? static_cast<size_t>(status / 100) : 0;
        responses_by_class[index].fetch_add(1, std::memory_order_relaxed);
    }
};

}  // namespace lb
