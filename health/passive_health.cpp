#include "health/passive_health.h"

#include <cerrno>
#include <cstring>

#include "lb/base/log.h"
#include "lb/targets/health_state.h"

namespace lb {

void note_failed_try(TargetState& target, const conf::PassiveHealth& passive) {
    if (passive.max_fails <= 0) return;
    const int64_t now = steady_now_ms();
    const int64_t window = passive.fail_timeout.count();
    // A new window opens at the first failure after the last one ended. Two
    // workers racing here both count into one of the windows: close enough
    // for a threshold, and no lock on the request path.
    int64_t start = target.passive_window_start_ms.load(std::memory_order_relaxed);
    if (start == 0 || now - start >= window) {
        if (target.passive_window_start_ms.compare_exchange_strong(start, now, std::memory_order_relaxed))
            target.passive_fails.store(0, std::memory_order_relaxed);
    }
    if (target.passive_fails.fetch_add(1, std::memory_order_relaxed) + 1 < passive.max_fails) return;
    target.passive_fails.store(0, std::memory_order_relaxed);
    target.passive_window_start_ms.store(0, std::memory_order_relaxed);
    int64_t until = target.passive_out_until_ms.load(std::memory_order_relaxed);
    if (until > now) return;  // already out
    if (!target.passive_out_until_ms.compare_exchange_strong(until, now + window, std::memory_order_relaxed)) return;
    LB_LOG_WARN("target group %s: target %s is out of rotation for %lld ms: %d tries failed within %lld ms "
                "(passive_health)",
                target.group.c_str(), target.key.c_str(), static_cast<long long>(window), passive.max_fails,
                static_cast<long long>(window));
}

void note_connect_failure(TargetState& target, const conf::HealthCheck& check, int error) {
    target.connect_failures.fetch_add(1, std::memory_order_relaxed);
    // A failed TLS handshake (-EPROTO) says the target is up but its
    // certificate or TLS setup is wrong: a configuration problem the
    // (unverified) health checks would undo at once, so it does not count
    // towards unhealthy_threshold.
    if (error == -EPROTO) return;
    const char* why = strerror(-error);
    if (health::record_passive_failure(target, check, why) == health::Transition::to_unhealthy) {
        LB_LOG_WARN("target group %s: target %s is unhealthy: %d connects failed on live traffic (last: %s)",
                    target.group.c_str(), target.key.c_str(), check.unhealthy_threshold, why);
    }
}

}  // namespace lb
