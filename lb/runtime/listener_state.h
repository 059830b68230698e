// ListenerState: what of one listener outlives config snapshots — its open
// connection count (for max_connections), its refusal, flow and TLS
// counters and its HTTP histograms — so a reload neither resets them nor
// lets a listener exceed its limit by the connections it already had.
// TargetGroupState is the same for a target group's HTTP histograms.
//
// Threading: one object per listener name, shared by every snapshot that
// names the listener and by all workers, which write its relaxed atomics;
// readers (admin API) anywhere. The registry is main-thread only.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "lb/runtime/http_histograms.h"
#include "lb/runtime/named_states.h"
#include "tls/handshake_counters.h"

namespace lb {

class ClientLimiter;

struct ListenerState {
    explicit ListenerState(std::string listener_name) : name(std::move(listener_name)) {}

    const std::string name;

    // Stream listeners.
    std::atomic<int64_t> connections{0};                   // client connections open now
    std::atomic<uint64_t> refused_max_connections{0};       // closed at accept: listener max_connections
    std::atomic<uint64_t> proxy_header_invalid{0};          // trusted peer: missing, malformed or late header
    std::atomic<uint64_t> proxy_header_untrusted{0};        // a PROXY header from outside trusted_proxies

    // client_limits: what each limit turned away, and clients let through
    // because the limiter had no room to count them.
    std::atomic<uint64_t> client_limited_connections{0};
    std::atomic<uint64_t> client_limited_connection_rate{0};
    std::atomic<uint64_t> client_limited_request_rate{0};
    std::atomic<uint64_t> client_limiter_full{0};
    // Main thread only (RuntimeBuilder): created when the listener first has
    // client_limits; workers use the copy in their ListenerRuntime.
    std::shared_ptr<ClientLimiter> client_limiter;

    // UDP listeners.
    std::atomic<int64_t> udp_flows{0};                      // flows open now, all workers
    std::atomic<uint64_t> udp_flows_created{0};
    std::atomic<uint64_t> udp_flows_evicted{0};             // oldest dropped for udp.max_flows
    std::atomic<uint64_t> udp_flows_expired{0};             // idle for udp.idle_timeout
    std::atomic<uint64_t> udp_flows_failed{0};              // no socket to the target (local ports used up)
    std::atomic<uint64_t> udp_target_refused{0};            // ICMP unreachable from a target

    // HTTP exchanges that ended on this listener (HTTP/1.1 and HTTP/2).
    HttpHistograms http;
    // How an https listener's TLS handshakes ended.
    tls::HandshakeCounters tls_handshakes;
};

struct TargetGroupState {
    explicit TargetGroupState(std::string group_name) : name(std::move(group_name)) {}

    const std::string name;
    // HTTP exchanges forwarded to the group's targets.
    HttpHistograms http;
};

using ListenerRegistry = NamedStates<ListenerState>;
using TargetGroupRegistry = NamedStates<TargetGroupState>;

}  // namespace lb
