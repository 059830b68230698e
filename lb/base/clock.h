// The monotonic clock every layer reads for deadlines, ages and rates, in
// milliseconds, or microseconds for latency histograms (steady: never jumps
// with the wall clock).
#pragma once

#include <chrono>
#include <cstdint>

namespace lb {

inline int64_t steady_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

inline int64_t steady_now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace lb
