// Whether one HTTP request may go on, whichever codec brought it in: the
// client's request_rate (README "Per-client limits"), counted across
// workers by the listener's ClientLimiter. A refused request is answered
// 429 with Retry-After by its exchange, so it is logged like any other.
//
// Threading: a worker's loop thread.
#pragma once

#include <cstdint>

#include "lb/worker/worker.h"

namespace lb {

// nullptr, or why the request is refused (and *retry_after_us, when the
// client may try again); a refusal is counted and logged (rate-limited).
const char* request_rate_limited(Worker& worker, const ListenerRuntime& listener, const SocketAddress& client,
                                 int64_t* retry_after_us);

}  // namespace lb
