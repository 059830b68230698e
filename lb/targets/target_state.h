// TargetState: the life of one target (target group, address, port) that
// outlives config snapshots, so a reload never resets health, counters or a
// drain timer (docs/architecture.md, "Objects").
//
// Threading: one object is shared by every snapshot that names the target and
// by all threads. Fields are atomics, each with one writer class named below;
// readers anywhere. The registry that maps keys to objects is main-thread only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "lb/base/clock.h"
#include "lb/base/histogram.h"
#include "lb/base/net_address.h"

namespace lb {

enum class TargetHealth : uint8_t {
    initial,    // registered, waiting for its first successful checks (no traffic)
    healthy,
    unhealthy,
    unused,     // the group has no health check: takes traffic at once
};

const char* to_string(TargetHealth health);

class TargetState {
public:
    TargetState(std::string group, SocketAddress address);

    const std::string group;
    const SocketAddress address;
    const std::string key;  // "address:port" as used in the admin API

    // Written by the health checker (and workers for passive connect failures).
    std::atomic<TargetHealth> health{TargetHealth::unused};
    std::atomic<int> consecutive_failures{0};
    std::atomic<int> consecutive_successes{0};

    // Written by the main thread (reload / admin API). drain_deadline_ms is a
    // steady-clock time in ms when the drain ends; 0 when not draining.
    std::atomic<bool> draining{false};
    std::atomic<int64_t> drain_deadline_ms{0};

    // Steady-clock ms when the target last entered service: turned healthy
    // (health checker), or registered into a group without checks after lb
    // started (main thread). 0 = in service since lb started. Slow start
    // (lb/targets/slow_start.h) ramps from here.
    std::atomic<int64_t> in_service_since_ms{0};

    // Written by workers.
    std::atomic<int64_t> outstanding_requests{0};  // in flight now (least_outstanding_requests)
    std::atomic<int64_t> active_connections{0};    // upstream connections open now
    std::atomic<uint64_t> requests_total{0};
    std::atomic<uint64_t> connections_total{0};
    std::atomic<uint64_t> connect_failures{0};
    std::atomic<uint64_t> responses_5xx{0};
    std::atomic<uint64_t> retries{0};              // requests sent on to another target after a try here failed
    // µs from a request's first byte to this target's first response byte
    // (the dashboard's latency quantiles).
    Histogram response_time{kDurationBucketsUs};

    // Passive health (health/passive_health.h), written by workers: failed
    // tries since passive_window_start_ms, and the steady-clock ms until
    // which the target is out of rotation (0 = in).
    std::atomic<int64_t> passive_window_start_ms{0};
    std::atomic<int> passive_fails{0};
    mutable std::atomic<int64_t> passive_out_until_ms{0};

    // May new requests or connections go here?
    bool routable() const {
        if (draining.load(std::memory_order_relaxed)) return false;
        auto h = health.load(std::memory_order_relaxed);
        if (h != TargetHealth::healthy && h != TargetHealth::unused) return false;
        return !passive_out();
    }
    // Taken out by passive health for now. The clock is read only while a
    // time is set; the first reader after it passed clears it.
    bool passive_out() const {
        int64_t until = passive_out_until_ms.load(std::memory_order_relaxed);
        if (until == 0) return false;
        if (steady_now_ms() < until) return true;
        passive_out_until_ms.compare_exchange_strong(until, 0, std::memory_order_relaxed);
        return false;
    }

    // What the admin API and metrics show: "draining", else the health.
    const char* state_name() const {
        if (draining.load(std::memory_order_relaxed)) return "draining";
        return to_string(health.load(std::memory_order_relaxed));
    }

    // Human-readable reason for the current state (admin API). Guarded because
    // it is a string; written rarely (state changes), read by the admin API.
    void set_reason(std::string reason);
    std::string reason() const;

private:
    mutable std::mutex reason_mutex_;
    std::string reason_;
};

// Main thread only: keeps one TargetState per (group, address, port) for as
// long as any snapshot or live connection holds it.
class TargetRegistry {
public:
    // `created` (optional) says whether the object is new, i.e. not yet seen
    // by any other thread, so its initial state may be set without a race.
    std::shared_ptr<TargetState> get_or_create(const std::string& group, const SocketAddress& address,
                                               bool* created = nullptr);
    // Drop entries nobody references any more.
    void collect();

private:
    std::unordered_map<std::string, std::weak_ptr<TargetState>> states_;
};


}  // namespace lb
