#include "health/passive_health.h"

#include <cerrno>
#include <cstring>

#include "lb/base/log.h"
#include "lb/targets/health_state.h"

namespace lb {

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
