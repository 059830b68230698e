// Whether one HTTP request may go on, whichever codec brought it in: what
// check_request found, CONNECT (not carried), and the client's
// request_rate (README "Per-client limits"), counted across workers by the
// listener's ClientLimiter. A refused request is answered by its exchange
// (429 with Retry-After over a limit), so it is logged like any other.
//
// Threading: a worker's loop thread.
#pragma once

#include <cstdint>

#include "lb/worker/worker.h"
#include "listeners/http_exchange.h"

namespace lb {

// Starts `exchange` on `request` (its head and check_request's verdict
// filled in), or refuses it. The client is `peer`, or who the listener's
// trusted proxies say it is. `refusal`: the connection is over a client
// limit (its first request is refused 429), or null. `close`: a refusal
// also ends the connection (HTTP/1.1; HTTP/2 refuses only the stream).
enum class Admission {
    started,
    refused,   // the request itself cannot be carried (a bad head, CONNECT)
    limited,   // over a client limit (429)
};
Admission admit_request(Worker& worker, const ListenerRuntime& listener, HttpExchange& exchange, ExchangeRequest request,
                   const SocketAddress& peer, const char* refusal, bool close);

// nullptr, or why the request is refused (and *retry_after_us, when the
// client may try again); a refusal is counted and logged (rate-limited).
const char* request_rate_limited(Worker& worker, const ListenerRuntime& listener, const SocketAddress& client,
                                 int64_t* retry_after_us);

}  // namespace lb
