#include "lb/control/dashboard_history.h"

namespace lb {

namespace {

std::string target_id(const std::string& group, const std::string& target) { return group + "\n" + target; }

// Adds `more` into `into` bucket by bucket (same bounds).
void merge(HistogramCounts& into, const HistogramCounts& more) {
    if (into.buckets.empty()) {
        into = more;
        return;
    }
    for (size_t i = 0; i < into.buckets.size() && i < more.buckets.size(); ++i) into.buckets[i] += more.buckets[i];
    into.sum += more.sum;
}

// Completed TLS handshakes, all versions.
uint64_t completed_handshakes(const tls::HandshakeCounters& counters) {
    uint64_t total = 0;
    for (const auto& count : counters.completed) total += count.load(std::memory_order_relaxed);
    return total;
}

double per_second(uint64_t now, uint64_t before, double seconds) {
    return now >= before ? static_cast<double>(now - before) / seconds : 0;
}

}  // namespace

DashboardHistory::Reading DashboardHistory::advance(const Reading* previous, uint64_t requests, uint64_t errors,
                                                    HistogramCounts latency, double seconds) {
    Reading next;
    next.requests = requests;
    next.errors = errors;
    // A counter below the previous reading belongs to a new object under the
    // same name: no rate for this interval, the next one counts from here.
    if (previous && seconds > 0 && requests >= previous->requests && errors >= previous->errors) {
        next.rates.requests_per_s = per_second(requests, previous->requests, seconds);
        next.rates.errors_per_s = per_second(errors, previous->errors, seconds);
        HistogramCounts window = previous->latency.buckets.empty() ? latency : latency.since(previous->latency);
        if (window.count() > 0) {
            next.rates.p50_us = window.quantile(0.5);
            next.rates.p99_us = window.quantile(0.99);
        }
    }
    next.latency = std::move(latency);
    return next;
}

void DashboardHistory::append(Series& series, int64_t unix_ms, const Rates& rates) {
    series.push_back({unix_ms, rates});
    while (series.size() > kPoints) series.pop_front();
}

void DashboardHistory::sample(const Runtime& runtime, const Totals& totals, int64_t steady_ms, int64_t unix_ms) {
    bool first = samples_ == 0;
    if (!first && steady_ms <= last_steady_ms_) return;  // no time passed: nothing to divide by
    double seconds = first ? 0 : static_cast<double>(steady_ms - last_steady_ms_) / 1000.0;
    last_steady_ms_ = steady_ms;
    ++samples_;

    // Listeners: their exchanges, handshakes, and together lb's latency.
    HistogramCounts lb_latency;
    std::unordered_map<std::string, ListenerReading> listeners;
    for (const auto& listener : runtime.listeners) {
        const ListenerState& state = *listener->state;
        HistogramCounts duration = state.http.duration.read();
        ListenerReading reading;
        reading.exchanges = duration.count();
        reading.handshakes = completed_handshakes(state.tls_handshakes);
        auto previous = listeners_.find(state.name);
        if (previous != listeners_.end() && seconds > 0) {
            reading.rates.requests_per_s = per_second(reading.exchanges, previous->second.exchanges, seconds);
            reading.rates.tls_handshakes_per_s = per_second(reading.handshakes, previous->second.handshakes, seconds);
        }
        listeners.emplace(state.name, reading);
        merge(lb_latency, duration);
    }
    listeners_ = std::move(listeners);

    lb_ = advance(first ? nullptr : &lb_, totals.exchanges, totals.responses_5xx, std::move(lb_latency), seconds);
    if (!first) append(lb_series_, unix_ms, lb_.rates);

    std::unordered_map<std::string, Reading> groups, targets;
    std::unordered_map<std::string, Series> group_series;
    for (const auto& group : runtime.groups) {
        const std::string& name = group->config.name;
        double group_errors = 0;
        for (const auto& entry : group->targets) {
            const TargetState& state = *entry.state;
            std::string id = target_id(name, state.key);
            auto previous = targets_.find(id);
            Reading reading = advance(previous == targets_.end() ? nullptr : &previous->second,
                                      state.requests_total.load(std::memory_order_relaxed),
                                      state.responses_5xx.load(std::memory_order_relaxed), state.response_time.read(),
                                      seconds);
            group_errors += reading.rates.errors_per_s;
            targets.emplace(std::move(id), std::move(reading));
        }
        // The group's requests and latency are its own histogram's (whole
        // exchanges, the target's answer included); its 5xx are its targets'.
        HistogramCounts duration = group->state->http.duration.read();
        uint64_t exchanges = duration.count();
        auto previous = groups_.find(name);
        Reading reading = advance(previous == groups_.end() ? nullptr : &previous->second, exchanges, 0,
                                  std::move(duration), seconds);
        reading.rates.errors_per_s = group_errors;
        auto series = group_series_.find(name);
        Series& kept = group_series[name];
        if (series != group_series_.end()) kept = std::move(series->second);
        if (previous != groups_.end()) append(kept, unix_ms, reading.rates);
        groups.emplace(name, std::move(reading));
    }
    groups_ = std::move(groups);
    targets_ = std::move(targets);
    group_series_ = std::move(group_series);
}

const DashboardHistory::Rates* DashboardHistory::group_rates(const std::string& group) const {
    auto it = groups_.find(group);
    return it == groups_.end() ? nullptr : &it->second.rates;
}

const DashboardHistory::Series* DashboardHistory::group_series(const std::string& group) const {
    auto it = group_series_.find(group);
    return it == group_series_.end() ? nullptr : &it->second;
}

const DashboardHistory::Rates* DashboardHistory::target_rates(const std::string& group,
                                                              const std::string& target) const {
    auto it = targets_.find(target_id(group, target));
    return it == targets_.end() ? nullptr : &it->second.rates;
}

const DashboardHistory::ListenerRates* DashboardHistory::listener_rates(const std::string& listener) const {
    auto it = listeners_.find(listener);
    return it == listeners_.end() ? nullptr : &it->second.rates;
}

}  // namespace lb
