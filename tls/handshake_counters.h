// HandshakeCounters: what the server-side TLS handshakes of one listener
// came to, for /metrics and the dashboard. TlsStream counts into the
// listener's (lb/runtime/listener_state.h) as each handshake ends.
//
// Threading: relaxed atomics written by every worker, read anywhere.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace lb::tls {

struct HandshakeCounters {
    // The protocol versions `completed` counts, in order.
    static constexpr const char* kVersions[] = {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};
    std::array<std::atomic<uint64_t>, 4> completed{};
    std::atomic<uint64_t> resumed{0};          // completed ones that resumed a session (ticket or cache)
    // Ended before completing: an alert or bad record (protocol), the
    // handshake timeout (timeout), the client closing or resetting (closed).
    std::atomic<uint64_t> failed_protocol{0};
    std::atomic<uint64_t> failed_timeout{0};
    std::atomic<uint64_t> failed_closed{0};
};

}  // namespace lb::tls
