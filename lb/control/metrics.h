// Metrics: what lb is doing, for operators and their monitoring. Totals are
// summed over the workers' counters (each worker writes only its own) and
// every target's counters come from its TargetState, so reading them never
// stops traffic. Served by the admin API as JSON (GET /api/v1/stats) and in
// the Prometheus text format (GET /metrics).
//
// Threading: built and rendered on the main thread; the counters it reads
// are atomics written by the workers.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "lb/runtime/runtime.h"

namespace lb {

struct WorkerCounters;

struct ServerStats {
    std::string zone;               // global.zone
    uint64_t generation = 0;
    int64_t started_unix_s = 0;
    int workers = 0;
    uint64_t reloads = 0;           // accepted since start (SIGHUP, lb -s reload, admin API)
    uint64_t reloads_rejected = 0;
    // DNS discovery (lb/discovery/dns_discovery.h), main thread
    uint64_t dns_answered = 0;      // lookups that got records
    uint64_t dns_failures = 0;      // failed or no such name
    uint64_t dns_changes = 0;       // answers that differed from the one before

    // summed over the workers
    uint64_t connections_accepted = 0;
    uint64_t connections_refused_allow = 0;
    uint64_t connections_refused_limit = 0;
    int64_t connections_open = 0;
    uint64_t requests = 0;
    uint64_t responses_local = 0;
    std::array<uint64_t, 6> responses_by_class{};  // [0] none, [1] 1xx ... [5] 5xx

    // The last reload (SIGHUP, lb -s reload, admin API); 0: none since start.
    int64_t last_reload_unix_ms = 0;
    bool last_reload_accepted = false;
    std::string last_reload_error;  // why it was rejected

    void add(const WorkerCounters& counters);
};

nlohmann::json stats_json(const ServerStats& stats, const Runtime& runtime);
std::string prometheus_text(const ServerStats& stats, const Runtime& runtime);

}  // namespace lb
