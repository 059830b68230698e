// Choosing a target of a group for one new request or connection: the
// client's sticky target if it may still take traffic; otherwise only
// routable targets (healthy or unchecked, not draining, weight > 0), or, if
// none is routable, every non-draining target (fail open, as an ALB does);
// with cross_zone off the zone is chosen first (lb/targets/zone_split.h), then the
// group's balancer picks inside it; targets in slow start take only their
// ramped share of those picks (lb/targets/slow_start.h).
#pragma once

#include <cstdint>
#include <span>

#include "lb/runtime/runtime.h"

namespace lb {

struct WorkerSnapshot;

// One of a forward action's groups (at least one), by the groups' weights
// when there are several.
const conf::WeightedTargetGroup& pick_weighted_group(const conf::ForwardAction& action);

// The group a forward action sends this request or connection to, as
// above. Null if the action has no group or the group is missing.
const TargetGroupRuntime* pick_group(const Runtime& runtime, const conf::ForwardAction& action);

// Returns null when the group has no target that may take traffic (503).
// `exclude` holds targets already tried for this request. `sticky` is the
// target a stickiness cookie names: kept while routable and not excluded
// (weight 0 keeps sticky clients, as HAProxy's: no *new* clients).
const TargetEntry* pick_target(WorkerSnapshot& snapshot, const TargetGroupRuntime& group, uint64_t client_hash,
                               std::span<const TargetState* const> exclude = {},
                               const TargetEntry* sticky = nullptr);

}  // namespace lb
