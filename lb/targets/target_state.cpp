#include "lb/targets/target_state.h"

namespace lb {

const char* to_string(TargetHealth health) {
    switch (health) {
        case TargetHealth::initial: return "initial";
        case TargetHealth::healthy: return "healthy";
        case TargetHealth::unhealthy: return "unhealthy";
        case TargetHealth::unused: return "unused";
    }
    return "unknown";
}

TargetState::TargetState(std::string group_name, SocketAddress addr)
    : group(std::move(group_name)), address(addr), key(addr.to_string()) {}

void TargetState::set_reason(std::string reason) {
    std::lock_guard lock(reason_mutex_);
    reason_ = std::move(reason);
}

std::string TargetState::reason() const {
    std::lock_guard lock(reason_mutex_);
    return reason_;
}

std::shared_ptr<TargetState> TargetRegistry::get_or_create(const std::string& group, const SocketAddress& address,
                                                           bool* created) {
    std::string id = group + "\n" + address.to_string();
    auto& slot = states_[id];
    if (created) *created = false;
    if (auto existing = slot.lock()) return existing;
    auto state = std::make_shared<TargetState>(group, address);
    slot = state;
    if (created) *created = true;
    return state;
}

void TargetRegistry::collect() {
    for (auto it = states_.begin(); it != states_.end();) {
        if (it->second.expired()) it = states_.erase(it);
        else ++it;
    }
}

}  // namespace lb
