#include "lb/worker/target_picker.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "lb/base/log.h"
#include "lb/base/thread_random.h"
#include "lb/targets/slow_start.h"
#include "lb/worker/worker.h"

namespace lb {

namespace {

constexpr int64_t kFailOpenLogMs = 10000;

bool excluded(std::span<const TargetState* const> exclude, const TargetState* state) {
    return std::find(exclude.begin(), exclude.end(), state) != exclude.end();
}

void warn_fail_open(WorkerSnapshot& snapshot, const TargetGroupRuntime& group) {
    int64_t now = steady_now_ms();
    int64_t& last = snapshot.fail_open_logged_ms[group.index];
    if (last != INT64_MIN && now - last < kFailOpenLogMs) return;
    last = now;
    int unhealthy = 0;
    int initial = 0;
    for (const auto& entry : group.targets) {
        auto health = entry.state->health.load(std::memory_order_relaxed);
        unhealthy += health == TargetHealth::unhealthy;
        initial += health == TargetHealth::initial;
    }
    LB_LOG_WARN("target group %s: no healthy target (%d unhealthy, %d not yet checked); routing to all of them "
                "(fail open)",
                group.config.name.c_str(), unhealthy, initial);
}

// Tiered groups (SRV priorities): only the lowest tier among `eligible` stays.
void keep_lowest_tier(const TargetGroupRuntime& group, std::vector<uint32_t>& eligible) {
    if (!group.tiered || eligible.empty()) return;
    int lowest = group.targets[eligible.front()].config.tier;
    for (uint32_t i : eligible) lowest = std::min(lowest, group.targets[i].config.tier);
    std::erase_if(eligible, [&](uint32_t i) { return group.targets[i].config.tier != lowest; });
}

}  // namespace

const conf::WeightedTargetGroup& pick_weighted_group(const conf::ForwardAction& action) {
    const conf::WeightedTargetGroup* choice = &action.target_groups.front();
    if (action.target_groups.size() == 1) return *choice;
    int total = 0;
    for (const auto& group : action.target_groups) total += group.weight;
    if (total <= 0) return *choice;
    int roll = static_cast<int>(random_below(total));
    for (const auto& group : action.target_groups) {
        if (roll < group.weight) return group;
        roll -= group.weight;
    }
    return *choice;
}

const TargetGroupRuntime* pick_group(const Runtime& runtime, const conf::ForwardAction& action) {
    if (action.target_groups.empty()) return nullptr;
    return runtime.group(pick_weighted_group(action).name);
}


const TargetEntry* pick_target(WorkerSnapshot& snapshot, const TargetGroupRuntime& group, uint64_t client_hash,
                               std::span<const TargetState* const> exclude, const TargetEntry* sticky) {
    // A sticky client keeps its target while that target may take traffic
    // (in a tiered group: while its tier is the one serving, below).
    bool sticky_routable = sticky && sticky->state->routable() && !excluded(exclude, sticky->state.get());
    if (sticky_routable && !group.tiered) return sticky;
    thread_local std::vector<uint32_t> eligible;
    eligible.clear();
    const auto& targets = group.targets;
    for (uint32_t i = 0; i < targets.size(); ++i) {
        const auto& entry = targets[i];
        if (entry.config.weight > 0 && entry.state->routable() && !excluded(exclude, entry.state.get()))
            eligible.push_back(i);
    }
    keep_lowest_tier(group, eligible);
    if (sticky_routable && (eligible.empty() || targets[eligible.front()].config.tier == sticky->config.tier))
        return sticky;
    if (eligible.empty()) {
        // Fail open: a group whose every target looks unhealthy still gets
        // traffic, rather than answering 503 for a health check's mistake.
        bool any_unhealthy = false;
        for (uint32_t i = 0; i < targets.size(); ++i) {
            const auto& entry = targets[i];
            if (entry.config.weight > 0 && !entry.state->draining.load(std::memory_order_relaxed) &&
                !excluded(exclude, entry.state.get())) {
                eligible.push_back(i);
                any_unhealthy = true;
            }
        }
        keep_lowest_tier(group, eligible);
        if (any_unhealthy && exclude.empty()) warn_fail_open(snapshot, group);
        // With every target failing open, the sticky one is as good as any.
        if (sticky && !sticky->state->draining.load(std::memory_order_relaxed) &&
            !excluded(exclude, sticky->state.get()))
            return sticky;
    }
    if (eligible.empty()) return nullptr;
    // A hash picks this request's target (not a `hash` request without its key).
    const bool hashed = group.client_hashed && client_hash != kNoClientHash;
    if (group.zones) {
        // Hashed clients keep their zone (and so their target) everywhere;
        // others rotate over zones.
        const ZoneSplit& zones = *group.zones;
        const uint32_t zone = hashed ? zones.zone_for_hash(eligible, client_hash)
                                     : snapshot.zone_rotations[group.index].pick(zones, eligible);
        std::erase_if(eligible, [&](uint32_t i) { return zones.zone_of(i) != zone; });
    }
    Balancer& balancer = *snapshot.balancers[group.index];
    const int64_t slow_start_ms = group.config.slow_start.count();
    if (slow_start_ms == 0) return &targets[balancer.pick(eligible, client_hash)];
    // Slow start: a ramping target's pick is admitted with its share
    // (relative to the furthest along, so targets ramping together split
    // evenly), else the balancer picks again without it; the last candidate
    // always goes.
    const int64_t now = steady_now_ms();
    double top = 0.0;
    for (uint32_t i : eligible) top = std::max(top, slow_start_share(*targets[i].state, now, slow_start_ms));
    for (;;) {
        uint32_t index = balancer.pick(eligible, client_hash);
        if (eligible.size() == 1 || top <= 0.0) return &targets[index];
        double share = slow_start_share(*targets[index].state, now, slow_start_ms) / top;
        if (share >= 1.0) return &targets[index];
        double roll = hashed ? client_roll(client_hash) : random_unit();
        if (slow_start_admits(share, roll)) return &targets[index];
        std::erase(eligible, index);
    }
}

}  // namespace lb
