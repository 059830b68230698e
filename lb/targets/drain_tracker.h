// DrainTracker: targets that left their group (reload or admin API) and are
// draining for the group's deregistration_delay (README, "Connection draining"). A
// draining target stays in each new snapshot's group, so it is still shown
// and its TargetState (in-flight counts, health) stays shared, but it is never
// picked. The drain ends when nothing is left on it (no request in flight,
// no tunnel open) or when the delay runs out; the next snapshot drops it.
// An unhealthy target, or a delay of 0, ends at once: nothing to wait for.
//
// Threading: main thread only. It writes TargetState::drain_deadline_ms and
// TargetState::draining before the snapshot showing the change is published;
// workers read both (relaxed) and learn of drains through the snapshots.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "conf/config.h"
#include "lb/targets/target_state.h"

namespace lb {

struct DrainingTarget {
    std::string group;
    conf::Target target;
    std::shared_ptr<TargetState> state;
    int64_t deadline_ms = 0;  // steady clock
    std::string source;       // where the target was registered ("config" or "api")
};

class DrainTracker {
public:
    // Marks `state` draining until now + delay (now, if it is unhealthy).
    void start(DrainingTarget target, conf::Duration delay, int64_t now_ms);
    // Ends a drain because the target is registered again; false if none.
    bool cancel(const std::string& group, const std::string& key);
    const DrainingTarget* find(const std::string& group, const std::string& key) const;
    // Forgets drains that are over; true if any ended (a new snapshot is due).
    bool collect(int64_t now_ms);
    // Forgets drains of groups that no longer exist.
    void forget_group(const std::string& group);

    const std::vector<DrainingTarget>& targets() const { return targets_; }
    bool empty() const { return targets_.empty(); }

private:
    std::vector<DrainingTarget> targets_;
};

}  // namespace lb
