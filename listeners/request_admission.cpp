#include "listeners/request_admission.h"

#include <algorithm>
#include <string>

#include "lb/base/clock.h"
#include "listeners/trusted_proxies.h"

namespace lb {

const char* request_rate_limited(Worker& worker, const ListenerRuntime& listener, const SocketAddress& client,
                                 int64_t* retry_after_us) {
    const conf::ClientRate& rate = listener.config.client_limits.request_rate;
    if (!listener.client_limiter || rate.per_second == 0) return nullptr;
    ListenerState& state = *listener.state;
    auto verdict = listener.client_limiter->admit(ClientLimiter::Rate::request, client, rate.per_second, rate.burst,
                                                  monotonic_us(), retry_after_us);
    if (verdict == ClientLimiter::Verdict::table_full) state.client_limiter_full.fetch_add(1, std::memory_order_relaxed);
    if (verdict != ClientLimiter::Verdict::refused) return nullptr;
    state.client_limited_request_rate.fetch_add(1, std::memory_order_relaxed);
    worker.log_client_limited(listener, client, "request_rate");
    return "client over its request rate";
}

Admission admit_request(Worker& worker, const ListenerRuntime& listener, HttpExchange& exchange, ExchangeRequest request,
                   const SocketAddress& peer, const char* refusal, bool close) {
    const conf::Listener& config = listener.config;
    // A PROXY header already named the client; otherwise trusted proxies may.
    request.client = config.accept_proxy_protocol ? peer
                                                  : client_behind_proxies(peer, request.head, config.trusted_proxies);
    int refused = request.checked.status;
    const char* why = request.checked.error;
    if (request.head.method == "CONNECT") {
        refused = 405;
        why = "CONNECT not supported";
    }
    if (refused) {
        exchange.refuse(std::move(request), refused, why, close);
        return Admission::refused;
    }
    int64_t retry_after_us = 1'000'000;
    const char* limited = refusal ? refusal : request_rate_limited(worker, listener, request.client, &retry_after_us);
    if (limited) {
        std::string retry_after =
            "Retry-After: " + std::to_string(std::max<int64_t>(1, (retry_after_us + 999'999) / 1'000'000)) + "\r\n";
        exchange.refuse(std::move(request), 429, limited, close && refusal != nullptr, retry_after);
        return Admission::limited;
    }
    exchange.start(std::move(request));
    return Admission::started;
}

}  // namespace lb
