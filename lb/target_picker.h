// Choosing a target of a group for one new request or connection: only
// routable targets (healthy or unchecked, not draining, weight > 0); if none
// is routable, every non-draining target (fail open, as an ALB does).
#pragma once

#include <cstdint>
#include <span>

#include "lb/runtime.h"

namespace lb {

struct WorkerSnapshot;

// Returns null when the group has no target that may take traffic (503).
// `exclude` holds targets already tried for this request.
// The group a forward action sends this request or connection to: by the
// groups' weights when there are several. Null if the group is missing.
const TargetGroupRuntime* pick_group(const Runtime& runtime, const conf::ForwardAction& action);

const TargetEntry* pick_target(WorkerSnapshot& snapshot, const TargetGroupRuntime& group, uint64_t client_hash,
                               std::span<const TargetState* const> exclude = {});

}  // namespace lb
