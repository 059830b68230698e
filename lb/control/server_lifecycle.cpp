// Server's start-up and hand-over half (lb/control/server.h): the sockets
// and state lb was handed (binary upgrade, systemd), readiness, the status
// line systemd shows, the pid file, and starting a binary upgrade.
#include "lb/control/server.h"

#include <unistd.h>

#include <fstream>

#include "lb/base/log.h"
#include "lb/control/service_notify.h"

namespace lb {

Status Server::take_inheritance() {
    // The path lb was started by, not what it resolves to: a deploy that
    // repoints a symlink (/usr/sbin/lb -> /opt/lb-1.3/lb) upgrades to the
    // new target. Without a slash argv[0] came from PATH: the file itself.
    const std::string& started_as = options_.arguments.empty() ? std::string() : options_.arguments.front();
    char path[4096];
    if (started_as.find('/') != std::string::npos) {
        executable_ = started_as;
        if (started_as.front() != '/' && getcwd(path, sizeof(path))) executable_ = std::string(path) + "/" + started_as;
    } else if (ssize_t length = readlink("/proc/self/exe", path, sizeof(path) - 1); length > 0) {
        executable_.assign(path, static_cast<size_t>(length));
    }
    auto handover = Handover::from_environment();
    if (!handover) return Error{handover.error()};
    std::vector<std::string> problems;
    if (*handover) {
        handover_ = std::move(**handover);
        inherited_ = InheritedSockets(handover_->sockets, "the previous lb", &problems);
        builder_.ticket_keys->adopt(std::move(handover_->state.ticket_keys));
        if (!handover_->state.sticky_secret.empty())
            builder_.random_signer = std::make_shared<StickyCookieSigner>(handover_->state.sticky_secret);
        builder_.carried_health = std::move(handover_->state.target_health);
        LB_LOG_INFO("binary upgrade: taking over %zu sockets from pid %d", handover_->sockets.size(),
                    static_cast<int>(getppid()));
    } else if (std::vector<int> fds = service::activation_sockets(); !fds.empty()) {
        inherited_ = InheritedSockets(fds, "systemd", &problems);
    }
    for (const std::string& problem : problems) LB_LOG_WARN("%s", problem.c_str());
    builder_.sockets.inherit(&inherited_);
    return Ok{};
}

bool Server::serving_ready() const {
    for (const auto& group : runtime_->groups) {
        // Names whose first lookup has not ended yet, or whose answer is not
        // built into the snapshot yet (the rebuild is deferred).
        bool answered = false;
        for (const auto& name : discovery_->names_of(group->config.name)) {
            if (!name.resolved && name.last_error.empty()) return false;
            answered = answered || !name.answer.empty();
        }
        if (answered && group->targets.empty()) return false;
        if (!group->config.health_check.enabled) continue;
        // A checked group is ready once a target is healthy (a binary
        // upgrade hands the verdicts over), or once every target has had its
        // first check: healthy_threshold passes (5 x 30 s by default) would
        // hold a start for minutes while the group fails open anyway.
        bool healthy = false, unchecked = false;
        for (const auto& entry : group->targets) {
            const TargetState& target = *entry.state;
            TargetHealth health = target.health.load(std::memory_order_relaxed);
            healthy = healthy || health == TargetHealth::healthy;
            unchecked = unchecked || (health == TargetHealth::initial &&
                                      target.consecutive_successes.load(std::memory_order_relaxed) == 0 &&
                                      target.consecutive_failures.load(std::memory_order_relaxed) == 0);
        }
        if (!healthy && unchecked) return false;
    }
    return true;
}

void Server::check_ready() {
    if (ready_ || stopping_) return;
    if (!serving_ready()) {
        loop_->timers().schedule(ready_timer_, kReadyPollMs);
        return;
    }
    ready_ = true;
    builder_.carried_health.clear();
    if (handover_) {
        for (auto& worker : workers_list_) worker->start_accepting();
        write_pid_file();
        // Named before it hears: it may be gone (and this lb reparented)
        // by the time the line is written.
        pid_t previous = getppid();
        handover_->report_ready();
        LB_LOG_INFO("ready: serving in place of pid %d", static_cast<int>(previous));
        // systemd hears it from the previous lb (MAINPID=), which it still
        // takes for the service's main process.
        return;
    }
    LB_LOG_INFO("ready: %s", status_line().c_str());
    service::ready(status_line());
}

std::string Server::status_line() const {
    size_t targets = 0, serving = 0;
    for (const auto& group : runtime_->groups) {
        for (const auto& entry : group->targets) {
            ++targets;
            serving += entry.state->routable() ? 1 : 0;
        }
    }
    size_t listeners = runtime_->listeners.size();
    return "generation " + std::to_string(runtime_->generation) + ": " + std::to_string(listeners) +
           (listeners == 1 ? " listener, " : " listeners, ") + std::to_string(serving) + " of " +
           std::to_string(targets) + " targets in service";
}

void Server::write_pid_file() const {
    if (config_.global.pid_file.empty()) return;
    std::ofstream pid(config_.global.pid_file, std::ios::trunc);
    pid << getpid() << "\n";
    if (!pid) LB_LOG_WARN("cannot write pid file %s", config_.global.pid_file.c_str());
}

void Server::start_upgrade() {
    if (stopping_) {
        LB_LOG_WARN("binary upgrade refused: lb is stopping");
        return;
    }
    if (!ready_) {
        LB_LOG_WARN("binary upgrade refused: this lb is not ready yet");
        return;
    }
    BinaryUpgrade::Request request;
    request.executable = executable_;
    request.arguments = options_.arguments;
    for (const auto& listener : runtime_->listeners)
        for (int i = 0; i < listener->sockets->distinct(); ++i) request.sockets.push_back(listener->sockets->fd(i));
    if (int admin = admin_->listening_fd(); admin >= 0) request.sockets.push_back(admin);
    request.state.ticket_keys = builder_.ticket_keys->current_keys();
    if (builder_.random_signer) request.state.sticky_secret = builder_.random_signer->secret();
    for (const auto& group : runtime_->groups) {
        if (!group->config.health_check.enabled) continue;
        for (const auto& entry : group->targets) {
            TargetHealth health = entry.state->health.load(std::memory_order_relaxed);
            if (health != TargetHealth::healthy && health != TargetHealth::unhealthy) continue;
            request.state.target_health[group->config.name + "\n" + entry.state->key] = {
                health, entry.state->in_service_since_ms.load(std::memory_order_relaxed)};
        }
    }
    request.timeout_ms = config_.global.upgrade_timeout.count();
    if (auto started = upgrade_->start(request); !started) {
        LB_LOG_ERROR("binary upgrade: %s; this lb keeps serving", started.error().c_str());
        return;
    }
    LB_LOG_INFO("binary upgrade: started %s (pid %d), waiting up to %lld ms for it to be ready", executable_.c_str(),
                static_cast<int>(upgrade_->pid()), static_cast<long long>(request.timeout_ms));
    service::status("upgrading: new lb pid " + std::to_string(upgrade_->pid()) + " starting; " + status_line());
}

void Server::upgrade_ready(pid_t pid) {
    LB_LOG_INFO("binary upgrade: the new lb (pid %d) is ready; this one stops accepting and drains", static_cast<int>(pid));
    handed_over_ = true;
    service::handed_over(pid, "serving (took over by binary upgrade)");
    admin_->stop_accepting();
    begin_stop(true);
}

}  // namespace lb
