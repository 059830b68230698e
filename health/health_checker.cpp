#include "health/health_checker.h"

#include <chrono>
#include <unordered_set>

#include "lb/base/log.h"
#include "lb/targets/health_state.h"

namespace lb::health {

HealthChecker::~HealthChecker() { stop(); }

Status HealthChecker::start(std::shared_ptr<const Runtime> runtime) {
    thread_ = std::thread([this, runtime = std::move(runtime)]() mutable { run(std::move(runtime)); });
    while (!ready_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!loop_) {
        thread_.join();
        return Error{"health checker: " + start_error_};
    }
    return Ok{};
}

void HealthChecker::update(std::shared_ptr<const Runtime> runtime) {
    if (!loop_) return;
    loop_->post([this, runtime = std::move(runtime)] { apply(*runtime); });
}

void HealthChecker::stop() {
    if (!thread_.joinable()) return;
    loop_->post([this] { begin_stop(); });
    thread_.join();
    loop_.reset();
}

void HealthChecker::run(std::shared_ptr<const Runtime> runtime) {
    EventLoop::Options options;
    options.ring_entries = 256;
    options.buffer_count = 64;
    options.buffer_size = 4096;  // a status line is all a check reads
    auto created = EventLoop::create(options);
    if (!created) {
        start_error_ = created.error();
        ready_ = true;
        return;
    }
    loop_ = std::move(*created);
    apply(*runtime);
    runtime.reset();
    ready_ = true;
    loop_->run();
    probes_.clear();
}

void HealthChecker::apply(const Runtime& runtime) {
    if (loop_->stopping()) return;
    std::unordered_set<const TargetState*> seen;
    for (const auto& group : runtime.groups) {
        const conf::HealthCheck& check = group->config.health_check;
        std::shared_ptr<const tls::ClientContext> tls;
        if (check.enabled && check.protocol == conf::HealthCheck::Protocol::https) {
            // As an ALB's: an https check proves the target answers over TLS,
            // not that its certificate verifies (traffic does that), so a
            // self-signed target can be checked. The group's SNI name is sent.
            conf::UpstreamTls unverified{.verify = false, .ca_file = {}, .server_name = group->config.tls.server_name};
            auto created = tls::ClientContext::create(unverified, group->config.pos);
            if (!created) {
                LB_LOG_ERROR("target group %s: cannot set up https health checks: %s", group->config.name.c_str(),
                             created.error().c_str());
                continue;
            }
            tls = std::move(*created);
        }
        for (const auto& entry : group->targets) {
            TargetState* state = entry.state.get();
            if (!check.enabled) {
                end_checks(*state);
                continue;
            }
            seen.insert(state);
            auto it = probes_.find(state);
            if (it != probes_.end()) {
                it->second->reconfigure(check, tls);
                continue;
            }
            begin_checks(*state);
            probes_.emplace(state, std::make_unique<HealthProbe>(*loop_, entry.state, check, tls));
        }
    }
    // Targets gone from the snapshot (deregistered, drained, group removed or
    // its checks turned off): nobody routes by their health any more.
    std::erase_if(probes_, [&](const auto& item) { return !seen.contains(item.first); });
}

void HealthChecker::begin_stop() {
    probes_.clear();  // closes any check connection in flight
    loop_->stop();
    loop_->set_exit_condition([this] { return loop_->live_streams() == 0; });
}

}  // namespace lb::health
