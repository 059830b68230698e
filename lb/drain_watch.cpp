#include "lb/drain_watch.h"

#include <unordered_set>

namespace lb {

void DrainWatch::observe(const Runtime& runtime) {
    std::unordered_set<const TargetState*> draining;
    for (const auto& group : runtime.groups) {
        for (const auto& entry : group->targets) {
            const TargetState& state = *entry.state;
            if (!state.draining.load(std::memory_order_relaxed)) continue;
            draining.insert(&state);
            int64_t deadline = state.drain_deadline_ms.load(std::memory_order_relaxed);
            auto it = watches_.find(&state);
            if (it == watches_.end()) {
                auto watch = std::make_unique<Watch>(this);
                Watch* raw = watch.get();
                raw->state = entry.state;
                watches_.emplace(&state, std::move(watch));
                callbacks_.drain_started(state);
                arm(*raw, deadline);
            } else if (it->second->deadline_ms != deadline) {
                arm(*it->second, deadline);  // drained again after a re-registration
            }
        }
    }
    // A watched target missing from the snapshot either finished draining
    // (nothing left: the close below finds nothing) or reached its deadline
    // on the main thread's clock a moment before ours; or it is routable
    // again (re-registered) and must be left alone.
    std::erase_if(watches_, [&](auto& item) {
        if (draining.contains(item.first)) return false;
        Watch& watch = *item.second;
        auto state = watch.state.lock();
        if (state && state->draining.load(std::memory_order_relaxed) && !watch.fired) fire(watch);
        return true;
    });
}

void DrainWatch::arm(Watch& watch, int64_t deadline_ms) {
    watch.deadline_ms = deadline_ms;
    watch.fired = false;
    loop_.timers().schedule(watch.timer, deadline_ms - loop_.now_ms());
}

void DrainWatch::fire(Watch& watch) {
    // The watch stays until a snapshot no longer shows the target draining:
    // destroying it here would free the timer that is calling us.
    watch.fired = true;
    loop_.timers().cancel(watch.timer);
    auto state = watch.state.lock();
    if (state && state->draining.load(std::memory_order_relaxed)) callbacks_.deadline_reached(*state);
}

}  // namespace lb
