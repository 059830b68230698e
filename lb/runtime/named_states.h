// NamedStates: the state of a listener or a target group that outlives
// config snapshots, one object per name for as long as any snapshot or
// connection holds it (ListenerState, TargetGroupState).
//
// Threading: main thread only (RuntimeBuilder); the objects themselves are
// shared with the workers.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

namespace lb {

template <typename State>
class NamedStates {
public:
    std::shared_ptr<State> get_or_create(const std::string& name) {
        auto& slot = states_[name];
        if (auto existing = slot.lock()) return existing;
        auto created = std::make_shared<State>(name);
        slot = created;
        return created;
    }
    // Drop entries nobody references any more.
    void collect() {
        std::erase_if(states_, [](const auto& entry) { return entry.second.expired(); });
    }

private:
    std::unordered_map<std::string, std::weak_ptr<State>> states_;
};

}  // namespace lb
