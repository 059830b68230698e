#include "lb/targets/health_state.h"

namespace lb::health {

namespace {

bool move(TargetState& target, TargetHealth from, TargetHealth to) {
    return target.health.compare_exchange_strong(from, to, std::memory_order_relaxed);
}

}  // namespace

TargetHealth initial_health(const conf::HealthCheck& check) {
    return check.enabled ? TargetHealth::initial : TargetHealth::unused;
}

Transition record_check(TargetState& target, const conf::HealthCheck& check, bool passed,
                        const std::string& failure_reason) {
    TargetHealth current = target.health.load(std::memory_order_relaxed);
    if (current == TargetHealth::unused) return Transition::none;
    if (passed) {
        target.consecutive_failures.store(0, std::memory_order_relaxed);
        int successes = target.consecutive_successes.fetch_add(1, std::memory_order_relaxed) + 1;
        if (current == TargetHealth::healthy) return Transition::none;
        if (successes >= check.healthy_threshold && move(target, current, TargetHealth::healthy)) {
            target.in_service_since_ms.store(steady_now_ms(), std::memory_order_relaxed);
            target.set_reason("");
            return Transition::to_healthy;
        }
        target.set_reason(std::string(current == TargetHealth::initial ? "registration in progress: "
                                                                       : "recovering: ") +
                          std::to_string(successes) + " of " + std::to_string(check.healthy_threshold) +
                          " checks passed");
        return Transition::none;
    }
    target.consecutive_successes.store(0, std::memory_order_relaxed);
    int failures = target.consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1;
    if (current == TargetHealth::unhealthy) {
        target.set_reason(failure_reason);
        return Transition::none;
    }
    if (failures >= check.unhealthy_threshold && move(target, current, TargetHealth::unhealthy)) {
        target.set_reason(failure_reason);
        return Transition::to_unhealthy;
    }
    return Transition::none;
}

Transition record_passive_failure(TargetState& target, const conf::HealthCheck& check, const char* error) {
    if (!check.enabled || target.health.load(std::memory_order_relaxed) != TargetHealth::healthy)
        return Transition::none;
    target.consecutive_successes.store(0, std::memory_order_relaxed);
    int failures = target.consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1;
    if (failures < check.unhealthy_threshold || !move(target, TargetHealth::healthy, TargetHealth::unhealthy))
        return Transition::none;
    target.set_reason(std::string("connect failed on live traffic: ") + error);
    return Transition::to_unhealthy;
}

void begin_checks(TargetState& target) {
    if (move(target, TargetHealth::unused, TargetHealth::healthy)) {
        target.consecutive_failures.store(0, std::memory_order_relaxed);
        target.consecutive_successes.store(0, std::memory_order_relaxed);
        target.set_reason("health checks enabled; in rotation until they fail");
    }
}

void end_checks(TargetState& target) {
    if (target.health.exchange(TargetHealth::unused, std::memory_order_relaxed) == TargetHealth::unused) return;
    target.consecutive_failures.store(0, std::memory_order_relaxed);
    target.consecutive_successes.store(0, std::memory_order_relaxed);
    target.set_reason("");
}

}  // namespace lb::health
