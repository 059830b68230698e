#include "listeners/request_admission.h"

#include "lb/base/clock.h"

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

}  // namespace lb
