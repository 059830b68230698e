// DashboardHistory: what the dashboard (GET /api/v1/dashboard) shows that
// needs more than one reading of the counters: rates and latency
// quantiles over the last sampling interval, for lb as a whole, each
// listener, target group and target, and the last kPoints of them as time
// series (requests/s, 5xx/s, p99) for lb and each group.
//
// The Server samples once a second from a timer on the control loop;
// sample() takes the time as arguments, so tests drive it without a loop.
// Targets, listeners and groups that vanish from the snapshot (a reload, a
// drain ending) are forgotten at the next sample; new ones start with no
// rate until their second sample. A counter that went backwards (a target
// gone and registered again is a new TargetState) counts as a fresh start.
//
// Memory: kPoints points per series, one series for lb and one per group
// of the current snapshot, one previous reading per target and listener.
//
// Threading: main thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>

#include "lb/base/histogram.h"
#include "lb/runtime/runtime.h"

namespace lb {

class DashboardHistory {
public:
    static constexpr size_t kPoints = 300;      // 5 minutes at one sample a second
    static constexpr int64_t kIntervalMs = 1000;

    // Over the last interval. Latencies in µs; -1: nothing finished in it.
    struct Rates {
        double requests_per_s = 0;
        double errors_per_s = 0;  // 5xx answers
        double p50_us = -1;
        double p99_us = -1;
    };
    struct Point {
        int64_t unix_ms = 0;
        Rates rates;
    };
    using Series = std::deque<Point>;
    struct ListenerRates {
        double requests_per_s = 0;        // HTTP exchanges finished
        double tls_handshakes_per_s = 0;  // completed, all versions
    };

    // lb-wide totals that only the server knows (summed over the workers).
    struct Totals {
        uint64_t exchanges = 0;      // HTTP exchanges finished
        uint64_t responses_5xx = 0;  // of them answered 5xx (by a target or by lb)
    };

    // One reading of every counter in `runtime`; rates are per second of
    // steady_ms since the previous sample.
    void sample(const Runtime& runtime, const Totals& totals, int64_t steady_ms, int64_t unix_ms);

    const Rates& lb_rates() const { return lb_.rates; }
    const Series& lb_series() const { return lb_series_; }
    // Null for a name (or a target "address:port" of a group) not sampled yet.
    const Rates* group_rates(const std::string& group) const;
    const Series* group_series(const std::string& group) const;
    const Rates* target_rates(const std::string& group, const std::string& target) const;
    const ListenerRates* listener_rates(const std::string& listener) const;
    size_t samples() const { return samples_; }

private:
    // The previous reading of one thing and the rates since the one before.
    struct Reading {
        uint64_t requests = 0;
        uint64_t errors = 0;
        HistogramCounts latency;
        Rates rates;
    };
    struct ListenerReading {
        uint64_t exchanges = 0;
        uint64_t handshakes = 0;
        ListenerRates rates;
    };

    // `now` becomes the new reading; rates from `previous` (null: none yet).
    static Reading advance(const Reading* previous, uint64_t requests, uint64_t errors, HistogramCounts latency,
                           double seconds);
    static void append(Series& series, int64_t unix_ms, const Rates& rates);

    int64_t last_steady_ms_ = 0;
    size_t samples_ = 0;
    Reading lb_;
    Series lb_series_;
    std::unordered_map<std::string, Reading> groups_;
    std::unordered_map<std::string, Series> group_series_;
    std::unordered_map<std::string, Reading> targets_;  // "group\naddress:port"
    std::unordered_map<std::string, ListenerReading> listeners_;
};

}  // namespace lb
