#include "listeners/tcp_session.h"

#include "lb/worker/target_picker.h"

namespace lb {

void TcpProxySession::start() {
    // Nothing is read from the client until the target is connected; its
    // bytes wait in the kernel.
    client_->set_handler(this);
    const TargetGroupRuntime* group = nullptr;
    const auto& action = listener_->config.default_action;
    if (action.kind == conf::Action::Kind::forward) group = pick_group(*snapshot_->runtime, action.forward);
    if (!group) {
        close(CloseMode::abort);
        return;
    }
    connect(*group);
}

}  // namespace lb
