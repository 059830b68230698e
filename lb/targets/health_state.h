// Target health state machine (ALB semantics). Consecutive active check
// results move a target between initial, healthy and unhealthy; a passive
// failure (a refused or timed-out connect on live traffic) counts like a
// failed check, so a dead target leaves rotation before its next check.
//
//   initial   --healthy_threshold passes-->   healthy
//   initial   --unhealthy_threshold fails-->  unhealthy
//   healthy   --unhealthy_threshold fails (active or passive)--> unhealthy
//   unhealthy --healthy_threshold passes-->   healthy
//   unused: the group has no health check; never changed by results.
//
// Threading: operates on TargetState atomics. Active results come from the
// health checker thread only; passive failures from any worker. The health
// transition itself is a compare-exchange, so a worker and the checker racing
// on one target cannot both move it, and nothing here takes a lock unless the
// state actually changes (the reason string).
#pragma once

#include <string>

#include "conf/config.h"
#include "lb/targets/target_state.h"

namespace lb::health {

enum class Transition { none, to_healthy, to_unhealthy };

// The state a target of a group starts in when first registered.
TargetHealth initial_health(const conf::HealthCheck& check);

// Health checker thread: one active check finished. `failure_reason` is
// ignored when `passed`.
Transition record_check(TargetState& target, const conf::HealthCheck& check, bool passed,
                        const std::string& failure_reason);

// Any worker: a connect to this target failed. Only a healthy target of a
// checked group reacts; the count restarts at the next passing check.
Transition record_passive_failure(TargetState& target, const conf::HealthCheck& check, const char* error);

// Health checker thread, when checks start or stop for a target's group.
// Starting: a target that served unchecked (unused) stays in rotation as
// healthy until checks say otherwise. Stopping: back to unused.
void begin_checks(TargetState& target);
void end_checks(TargetState& target);

}  // namespace lb::health
