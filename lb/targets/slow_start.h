// Slow start (ALB's `slow_start`): a target that has just become healthy —
// or, in a group without health checks, has been registered by a reload or
// the admin API after start-up — does not get its full share at once. Over the
// group's slow_start duration its share grows linearly from nothing to
// full, so a cold cache or a JIT warming up is not hit by a whole share of
// traffic at once.
//
// How the share is cut: the balancer picks as usual; a pick of a ramping
// target is admitted with probability share / (the largest share among the
// candidates), otherwise the balancer picks again without it. Relative, so
// targets ramping together (a checked group at start-up) split evenly. For client-hashed groups (source_ip
// stickiness or source_ip_hash) the "probability" is a fixed fraction of
// the client's hash, so during the ramp a growing set of clients moves to
// the target and stays, instead of each request flipping between targets.
//
// Threading: TargetState::in_service_since_ms is written by the health
// checker or the main thread; admission runs on workers and only reads it.
#pragma once

#include <cstdint>

#include "lb/targets/target_state.h"

namespace lb {

// Where the target is in its ramp, 0 (just started) to 1 (full share, or not
// ramping at all).
double slow_start_share(int64_t started_ms, int64_t now_ms, int64_t duration_ms);

// Whether a pick of this target is admitted. `roll` is uniform in [0, 1):
// random per request, or derived from the client hash for hashed groups.
inline bool slow_start_admits(double share, double roll) { return roll < share; }

// A roll in [0, 1) fixed per client (hashed groups).
double client_roll(uint64_t client_hash);

// The share of a target of a group with slow start `duration_ms`, now.
inline double slow_start_share(const TargetState& target, int64_t now_ms, int64_t duration_ms) {
    return slow_start_share(target.in_service_since_ms.load(std::memory_order_relaxed), now_ms, duration_ms);
}

}  // namespace lb
