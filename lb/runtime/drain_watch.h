// DrainWatch: one worker's view of draining targets. The first snapshot
// that shows a target draining starts its drain on this worker (pooled
// connections to it closed, sessions told so keep-alive clients it served
// close after their response); a timer at its drain deadline ends it
// (tunnels and requests still on it closed). Re-registration (draining
// cleared) or a new deadline re-arms or drops the watch.
//
// Threading: one per worker, loop thread only. Reads TargetState::draining
// and drain_deadline_ms, which the main thread writes before publishing the
// snapshot observe() is called with.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "lb/io/event_loop.h"
#include "lb/runtime/runtime.h"
#include "lb/targets/target_state.h"

namespace lb {

class DrainWatch {
public:
    struct Callbacks {
        std::function<void(const TargetState&)> drain_started;
        std::function<void(const TargetState&)> deadline_reached;
    };

    DrainWatch(EventLoop& loop, Callbacks callbacks) : loop_(loop), callbacks_(std::move(callbacks)) {}

    // Each snapshot the worker adopts.
    void observe(const Runtime& runtime);

private:
    struct Watch {
        std::weak_ptr<TargetState> state;
        int64_t deadline_ms = 0;
        bool fired = false;
        Timer timer;
        explicit Watch(DrainWatch* owner) : timer([this, owner] { owner->fire(*this); }) {}
    };

    void arm(Watch& watch, int64_t deadline_ms);
    void fire(Watch& watch);

    EventLoop& loop_;
    Callbacks callbacks_;
    std::unordered_map<const TargetState*, std::unique_ptr<Watch>> watches_;
};

}  // namespace lb
