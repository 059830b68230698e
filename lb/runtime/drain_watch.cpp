#include "lb/runtime/drain_watch.h"

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
            // A watch kept past its target's end (see below) may name a
            // freed object whose address a new target now has.
            if (it != watches_.end() && it->second->state.lock() != entry.state) {
                watches_.erase(it);
                it = watches_.end();
            }
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
    // A watched target missing from the snapshot is routable again
    // (re-registered: leave it alone), or the main thread ended its drain:
    // its deadline passed (on the main thread's clock, a moment before
    // ours), or it looked idle. Idle can be wrong for a connection that was
    // still being set up to it when the drain ended (tunnels count from
    // their first byte), so until the deadline the watch stays armed and
    // cuts such a late tunnel then, not at once.
    std::erase_if(watches_, [&](auto& item) {
        if (draining.contains(item.first)) return false;
        Watch& watch = *item.second;
        auto state = watch.state.lock();
        if (!state || !state->draining.load(std::memory_order_relaxed) || watch.fired) return true;
        if (loop_.now_ms() < watch.deadline_ms) return false;
        fire(watch);
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
