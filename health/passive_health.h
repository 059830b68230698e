// The passive health signal as workers raise it: a refused or timed-out
// connect to a target on live traffic (see health_state.h for the counting).
//
// Threading: any worker thread; TargetState atomics only, no lock unless the
// target changes state.
#pragma once

#include "conf/config.h"
#include "lb/targets/target_state.h"

namespace lb {

// `error` is the connect's -errno. Counts it in the target's
// connect_failures (every kind) and towards unhealthy_threshold (all but a
// failed TLS handshake); logs when the target leaves rotation.
void note_connect_failure(TargetState& target, const conf::HealthCheck& check, int error);

}  // namespace lb
