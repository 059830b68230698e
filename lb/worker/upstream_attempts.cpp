#include "lb/worker/upstream_attempts.h"

#include "health/passive_health.h"
#include "lb/worker/target_picker.h"

namespace lb {

UpstreamAttempts::UpstreamAttempts(UpstreamConnector& connector, WorkerSnapshot& snapshot,
                                   const TargetGroupRuntime& group, uint64_t client_hash, const TargetEntry* sticky)
    : connector_(&connector),
      snapshot_(&snapshot),
      group_(&group),
      client_hash_(client_hash),
      sticky_(sticky),
      max_attempts_(group.config.retry.tries) {}

std::unique_ptr<Stream> UpstreamAttempts::next(StreamHandler* handler, Reuse reuse) {
    if (exhausted()) return nullptr;
    const TargetEntry* entry = pick_target(*snapshot_, *group_, client_hash_, tried_, sticky_);
    if (!entry) return nullptr;
    entry_ = entry;
    target_ = entry->state;
    attempts_++;
    std::unique_ptr<Stream> stream;
    if (reuse == Reuse::pooled && !avoid_pool_) stream = connector_->take_idle(*target_, group_->tls != nullptr);
    avoid_pool_ = false;
    reused_ = stream != nullptr;
    if (!stream) {
        stream = connector_->connect(entry->config.addr, group_->config.connect_timeout.count(),
                                     static_cast<int>(group_->config.receive_buffer), group_->tls, handler);
        target_->connections_total.fetch_add(1, std::memory_order_relaxed);
    }
    stream->set_handler(handler);
    return stream;
}

void UpstreamAttempts::failed(int connect_error, bool dead_idle) {
    if (!target_) return;
    if (connect_error != 0) note_connect_failure(*target_, group_->config.health_check, connect_error);
    if (reused_ && dead_idle) {
        // Dead while idle: not the target's fault, and not a try.
        avoid_pool_ = true;
        attempts_--;
        return;
    }
    note_failed_try(*target_, group_->config.passive_health);
    tried_.push_back(target_.get());
}

void UpstreamAttempts::note_failed_answer() {
    if (target_) note_failed_try(*target_, group_->config.passive_health);
}

bool UpstreamAttempts::can_retry() {
    if (exhausted()) return false;
    thread_local std::vector<const TargetState*> exclude;
    exclude = tried_;
    if (target_) exclude.push_back(target_.get());
    return pick_target(*snapshot_, *group_, client_hash_, exclude, sticky_) != nullptr;
}

}  // namespace lb
