#include "lb/targets/drain_tracker.h"

#include <algorithm>

#include "lb/base/log.h"

namespace lb {

void DrainTracker::start(DrainingTarget target, conf::Duration delay, int64_t now_ms) {
    std::erase_if(targets_, [&](const DrainingTarget& t) { return t.state == target.state; });
    TargetState& state = *target.state;
    bool unhealthy = state.health.load(std::memory_order_relaxed) == TargetHealth::unhealthy;
    target.deadline_ms = unhealthy ? now_ms : now_ms + delay.count();
    state.drain_deadline_ms.store(target.deadline_ms, std::memory_order_relaxed);
    state.draining.store(true, std::memory_order_relaxed);
    LB_LOG_INFO("target group %s: target %s deregistered%s", target.group.c_str(), state.key.c_str(),
                unhealthy ? " (unhealthy: not drained)"
                          : (", draining for up to " + std::to_string(delay.count()) + "ms").c_str());
    targets_.push_back(std::move(target));
}

bool DrainTracker::cancel(const std::string& group, const std::string& key) {
    auto it = std::find_if(targets_.begin(), targets_.end(),
                           [&](const DrainingTarget& t) { return t.group == group && t.state->key == key; });
    if (it == targets_.end()) return false;
    it->state->draining.store(false, std::memory_order_relaxed);
    it->state->drain_deadline_ms.store(0, std::memory_order_relaxed);
    targets_.erase(it);
    return true;
}

const DrainingTarget* DrainTracker::find(const std::string& group, const std::string& key) const {
    for (const auto& target : targets_)
        if (target.group == group && target.state->key == key) return &target;
    return nullptr;
}

bool DrainTracker::collect(int64_t now_ms) {
    auto before = targets_.size();
    std::erase_if(targets_, [&](const DrainingTarget& target) {
        const TargetState& state = *target.state;
        bool idle = state.outstanding_requests.load(std::memory_order_relaxed) == 0 &&
                    state.active_connections.load(std::memory_order_relaxed) == 0;
        bool over = now_ms >= target.deadline_ms;
        if (!idle && !over) return false;
        // `draining` stays set: the object may outlive this (held by a
        // closing session) and must never look routable again.
        LB_LOG_INFO("target group %s: target %s drained%s", target.group.c_str(), state.key.c_str(),
                    over ? " (deregistration delay over)" : "");
        return true;
    });
    return targets_.size() != before;
}

void DrainTracker::forget_group(const std::string& group) {
    std::erase_if(targets_, [&](const DrainingTarget& target) { return target.group == group; });
}

}  // namespace lb
