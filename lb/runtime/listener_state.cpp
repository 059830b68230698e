#include "lb/runtime/listener_state.h"

namespace lb {

std::shared_ptr<ListenerState> ListenerRegistry::get_or_create(const std::string& name) {
    auto& slot = states_[name];
    if (auto existing = slot.lock()) return existing;
    auto created = std::make_shared<ListenerState>(name);
    slot = created;
    return created;
}

void ListenerRegistry::collect() {
    std::erase_if(states_, [](const auto& entry) { return entry.second.expired(); });
}

}  // namespace lb
