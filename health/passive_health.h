// The passive health signals as workers raise them: a refused or timed-out
// connect to a target on live traffic counts towards the active check's
// unhealthy_threshold (see health_state.h for the counting); any failed try
// counts towards the group's passive_health (nginx max_fails), which takes
// a target out for a while without touching its health state.
//
// Threading: any worker thread; TargetState atomics only, no lock unless the
// target changes state.
#pragma once

#include "conf/config.h"
#include "lb/targets/target_state.h"

namespace lb {

// A try on `target` failed (README "Passive health"): counted within the
// group's fail_timeout window; max_fails of them take the target out of
// rotation for fail_timeout. Nothing when max_fails is 0.
void note_failed_try(TargetState& target, const conf::PassiveHealth& passive);

// `error` is the connect's -errno. Counts it in the target's
// connect_failures (every kind) and towards unhealthy_threshold (all but a
// failed TLS handshake); logs when the target leaves rotation.
void note_connect_failure(TargetState& target, const conf::HealthCheck& check, int error);

}  // namespace lb
