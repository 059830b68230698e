#include "lb/control/server.h"

#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <csignal>
#include <cstring>
#include <fstream>
#include <thread>

#include "conf/config_loader.h"
#include "lb/base/log.h"
#include "lb/control/service_notify.h"
#include "lb/runtime/access_log.h"
#include "listeners/protocols.h"

namespace lb {

namespace {

sigset_t handled_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGHUP, SIGQUIT, SIGTERM, SIGINT, SIGUSR1, SIGUSR2}) sigaddset(&set, sig);
    return set;
}

int64_t unix_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

Server::Server(ServerOptions options)
    : options_(std::move(options)),
      shutdown_timer_([this] { begin_stop(false); }),
      drain_timer_([this] { poll_drains(); }),
      ready_timer_([this] { check_ready(); }),
      dashboard_timer_([this] { sample_dashboard(); }) {}

Server::~Server() {
    health_checker_.stop();
    for (auto& worker : workers_list_) worker->join();
    if (signal_fd_ >= 0) close(signal_fd_);
}

int Server::worker_count(const conf::Config& config) const {
    if (options_.workers) return *options_.workers;
    if (config.global.workers > 0) return config.global.workers;
    unsigned cores = std::thread::hardware_concurrency();
    return cores ? static_cast<int>(cores) : 1;
}

int Server::run() {
    // Signals are taken synchronously through a signalfd; every thread
    // started from here inherits the blocked mask.
    // Two sockets per proxied connection: take every descriptor we may.
    rlimit files{};
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
    sigset_t signals = handled_signals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    auto loaded = conf::load_config_file(options_.config_path);
    if (!loaded) {
        LB_LOG_ERROR("%s", loaded.error().c_str());
        return 1;
    }
    config_ = std::move(*loaded);
    workers_ = worker_count(config_);

    EventLoop::Options control_options;
    control_options.ring_entries = 64;
    control_options.buffer_count = 64;  // signals and admin API connections
    control_options.buffer_size = 4096;
    auto loop = EventLoop::create(control_options);
    if (!loop) {
        LB_LOG_ERROR("%s", loop.error().c_str());
        return 1;
    }
    loop_ = std::move(*loop);
    if (auto taken = take_inheritance(); !taken) {
        LB_LOG_ERROR("%s", taken.error().c_str());
        return 1;
    }
    // Names are looked up from the start; until they answer, their groups
    // have no targets (503), and each answer rebuilds the snapshot.
    discovery_ = std::make_unique<DnsDiscovery>(*loop_, [this] { dns_changed(); });
    if (auto prepared = discovery_->prepare(config_); !prepared) {
        LB_LOG_ERROR("%s", prepared.error().c_str());
        return 1;
    }
    discovery_->follow(config_);
    if (auto applied = apply_config(config_); !applied) {
        LB_LOG_ERROR("%s", applied.error().c_str());
        return 1;
    }
    if (auto status = AccessLogSink::instance().configure(config_.global.access_log); !status) {
        LB_LOG_ERROR("%s", status.error().c_str());
        return 1;
    }
    admin_ = std::make_unique<AdminApi>(*loop_, static_cast<AdminControl&>(*this));
    auto admin_settings = admin_->prepare(config_.global.admin, &inherited_);
    if (!admin_settings) {
        LB_LOG_ERROR("%s", admin_settings.error().c_str());
        return 1;
    }
    admin_->commit(std::move(*admin_settings));
    builder_.sockets.inherit(nullptr);
    for (const std::string& socket : inherited_.close_unclaimed())
        LB_LOG_WARN("the %s socket from %s matches no listener of this config: closed", socket.c_str(),
                    inherited_.origin().c_str());
    upgrade_ = std::make_unique<BinaryUpgrade>(
        *loop_, BinaryUpgrade::Callbacks{[this](pid_t pid) { upgrade_ready(pid); },
                                         [this](const std::string& why) {
                                             LB_LOG_ERROR("binary upgrade: %s%s", why.c_str(),
                                                          stopping_ ? "" : "; this lb keeps serving");
                                         }});
    signal_fd_ = signalfd(-1, &signals, SFD_CLOEXEC);
    if (signal_fd_ < 0) {
        LB_LOG_ERROR("signalfd: %s", strerror(errno));
        return 1;
    }

    // Checks start before traffic: targets of checked groups begin `initial`.
    if (auto started = health_checker_.start(runtime_); !started) {
        LB_LOG_ERROR("%s", started.error().c_str());
        return 1;
    }

    connection_budget_.store(config_.global.max_connections);
    for (int i = 0; i < workers_; ++i) {
        workers_list_.push_back(std::make_unique<Worker>(i, &connection_budget_, listener_protocols()));
        // A finished worker wakes the control loop so it can check whether all are done.
        workers_list_.back()->set_exit_notifier([this] { loop_->post([] {}); });
    }
    // Taking over from a previous lb: accept only once ready (until then
    // the previous one serves everything on the same sockets).
    for (auto& worker : workers_list_) worker->start(runtime_, /*accepting=*/!handover_);
    bool failed = false;
    for (auto& worker : workers_list_) {
        while (!worker->ready()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        failed = failed || worker->failed();
    }
    if (failed) {
        for (auto& worker : workers_list_)
            if (!worker->failed()) worker->stop(false);
        for (auto& worker : workers_list_) worker->join();
        return 1;
    }
    if (!handover_) write_pid_file();
    for (const auto& listener : runtime_->listeners) {
        LB_LOG_INFO("listener %s: %s on %s", listener->config.name.c_str(), conf::to_string(listener->config.protocol),
                    listener->config.listen.to_string().c_str());
    }
    LB_LOG_INFO("lb %s started: %d worker%s, config %s", LB_VERSION, workers_, workers_ == 1 ? "" : "s",
                options_.config_path.c_str());

    started_unix_s_ = time(nullptr);
    arm_signal_read();
    check_ready();
    sample_dashboard();
    loop_->run();

    for (auto& worker : workers_list_) worker->join();
    health_checker_.stop();
    // After an upgrade the file names the new lb: it is not ours to remove.
    if (!config_.global.pid_file.empty()) {
        std::ifstream in(config_.global.pid_file);
        long pid = 0;
        if (in >> pid && pid == getpid()) unlink(config_.global.pid_file.c_str());
    }
    LB_LOG_INFO("lb stopped");
    return 0;
}

void Server::arm_signal_read() {
    io_uring_prep_read(loop_->sqe_for(&signal_completion_), signal_fd_, signal_buffer_, sizeof(signalfd_siginfo), 0);
}

void Server::on_signal(int result, uint32_t) {
    if (result == static_cast<int>(sizeof(signalfd_siginfo))) {
        signalfd_siginfo info;
        memcpy(&info, signal_buffer_, sizeof(info));
        switch (info.ssi_signo) {
            case SIGHUP:
                if (auto reloaded = reload(); !reloaded)
                    LB_LOG_ERROR("reload rejected, still serving the previous config: %s", reloaded.error().c_str());
                break;
            case SIGQUIT: begin_stop(true); break;
            case SIGTERM:
            case SIGINT: begin_stop(false); break;
            case SIGUSR2: start_upgrade(); break;
            case SIGUSR1:
                if (auto status = AccessLogSink::instance().reopen(); !status)
                    LB_LOG_ERROR("%s", status.error().c_str());
                else
                    LB_LOG_INFO("log files reopened");
                break;
            default: break;
        }
    }
    // Also while stopping: SIGTERM turns a graceful stop (or the drain after
    // a binary upgrade) into an immediate one, SIGUSR1 still reopens the
    // log, and an upgrade or reload is refused with a reason.
    arm_signal_read();
}

Result<uint64_t> Server::reload() {
    if (stopping_) return Error{"lb is stopping"};
    if (ready_) service::reloading();
    auto result = read_and_apply_config();
    ++(result ? reloads_ : reloads_rejected_);
    last_reload_unix_ms_ = unix_now_ms();
    last_reload_error_ = result ? std::string() : result.error();
    // READY=1 either way: a rejected config leaves the previous one serving.
    if (ready_) service::ready(result ? status_line() : "reload rejected, serving generation " +
                                                             std::to_string(runtime_->generation) + ": " + result.error());
    return result;
}

Result<uint64_t> Server::read_and_apply_config() {
    LB_LOG_INFO("reload requested: reading %s", options_.config_path.c_str());
    auto loaded = conf::load_config_file(options_.config_path);
    if (!loaded) return Error{loaded.error()};
    if (worker_count(*loaded) != workers_) {
        LB_LOG_WARN("global.workers changed: takes effect on restart; keeping %d", workers_);
    }
    auto admin_settings = admin_->prepare(loaded->global.admin);
    if (!admin_settings) return Error{admin_settings.error()};
    if (auto prepared = discovery_->prepare(*loaded); !prepared) return Error{prepared.error()};
    TargetRegistrations previous = registrations_;
    registrations_.prune(*loaded);
    if (auto applied = apply_config(*loaded); !applied) {
        registrations_ = std::move(previous);
        return Error{applied.error()};
    }
    // Names new in this config are looked up from now on (their targets
    // come with the rebuild their first answer triggers); names it dropped
    // are forgotten.
    discovery_->follow(*loaded);
    admin_->commit(std::move(*admin_settings));
    if (auto status = AccessLogSink::instance().configure(loaded->global.access_log); !status) {
        LB_LOG_ERROR("reload: %s", status.error().c_str());
    }
    int64_t budget_change = loaded->global.max_connections - config_.global.max_connections;
    connection_budget_.fetch_add(budget_change);
    config_ = std::move(*loaded);
    LB_LOG_INFO("reloaded: generation %llu", static_cast<unsigned long long>(runtime_->generation));
    return runtime_->generation;
}

namespace {

std::string api_target_id(const std::string& group, const std::string& key) { return group + "\n" + key; }

}  // namespace

Status Server::apply_config(const conf::Config& base, FileReads files) {
    // The YAML, then the admin API's changes, then names turned into the
    // addresses they resolve to now.
    conf::Config effective = discovery_->apply(registrations_.apply(base));
    int64_t now = steady_now_ms();

    // Targets serving now that the new config no longer names. A group that
    // is gone takes its targets with it: there is no group left to drain in.
    std::vector<DrainingTarget> leaving;
    if (runtime_) {
        for (const auto& group : runtime_->groups) {
            const conf::TargetGroup* next = effective.find_target_group(group->config.name);
            if (!next) continue;
            for (const auto& entry : group->targets) {
                if (entry.state->draining.load(std::memory_order_relaxed)) continue;
                if (next->names_target(entry.config.addr)) continue;
                bool api = api_targets_.contains(api_target_id(group->config.name, entry.state->key));
                leaving.push_back({group->config.name, entry.config, entry.state, 0,
                                   to_string(api ? TargetSource::api : TargetSource::config)});
            }
        }
    }
    std::vector<DrainingTarget> draining;
    for (const auto& target : drains_.targets()) {
        const conf::TargetGroup* group = effective.find_target_group(target.group);
        if (group && !group->names_target(target.target.addr)) draining.push_back(target);
    }
    draining.insert(draining.end(), leaving.begin(), leaving.end());

    auto built = builder_.build(effective, workers_, true, draining,
                                files == FileReads::reuse ? runtime_.get() : nullptr);
    if (!built) return Error{built.error()};

    // Commit: nothing below can fail.
    std::vector<std::pair<std::string, std::string>> ended;
    for (const auto& target : drains_.targets()) {
        const conf::TargetGroup* group = effective.find_target_group(target.group);
        if (!group || group->names_target(target.target.addr)) ended.emplace_back(target.group, target.state->key);
    }
    for (const auto& [group, key] : ended) {
        if (drains_.cancel(group, key) && effective.find_target_group(group))
            LB_LOG_INFO("target group %s: target %s registered again, drain cancelled", group.c_str(), key.c_str());
    }
    for (auto& target : leaving) {
        conf::Duration delay = effective.find_target_group(target.group)->deregistration_delay;
        drains_.start(std::move(target), delay, now);
    }
    // A target named again after its drain ended may still have its old
    // TargetState (a closing session held it): it is registered now.
    for (const auto& group : (*built)->groups) {
        for (const auto& entry : group->targets) {
            if (drains_.find(group->config.name, entry.state->key)) continue;
            entry.state->draining.store(false, std::memory_order_relaxed);
            entry.state->drain_deadline_ms.store(0, std::memory_order_relaxed);
        }
    }

    api_targets_.clear();
    for (const auto& group : effective.target_groups)
        for (const auto& target : group.targets)
            if (registrations_.source(group.name, target.addr) == TargetSource::api)
                api_targets_.insert(api_target_id(group.name, target.addr.to_string()));

    runtime_ = std::move(*built);  // a copy left in `built` would pin this snapshot
    for (auto& worker : workers_list_) worker->publish(runtime_);
    health_checker_.update(runtime_);
    if (!drains_.empty() && !drain_timer_.armed() && loop_) loop_->timers().schedule(drain_timer_, kDrainPollMs);
    return Ok{};
}

TargetSource Server::target_source(const std::string& group, const SocketAddress& address) const {
    if (const DrainingTarget* draining = drains_.find(group, address.to_string()))
        return draining->source == to_string(TargetSource::api) ? TargetSource::api : TargetSource::config;
    return registrations_.source(group, address);
}

AdminOutcome Server::register_target(const std::string& group_name, TargetRegistration registration) {
    if (stopping_) return {503, "lb is stopping"};
    const conf::TargetGroup* group = config_.find_target_group(group_name);
    if (!group) return {404, "no target group '" + group_name + "'"};
    // One source of targets per group: DNS decides what a discovered group
    // holds, and an API target there could not be told apart from a record.
    if (group->discovered())
        return {409, "target group '" + group_name + "' takes its targets from DNS (" + config_.path + ", line " +
                         std::to_string(group->pos.line) + "): change the records instead"};
    const conf::Target& target = registration.target;
    for (const auto& defined : group->targets) {
        if (defined.addr != target.addr) continue;
        if ((registration.weight_given && target.weight != defined.weight) ||
            (registration.zone_given && target.zone != defined.zone))
            return {409, "target " + target.addr.to_string() + " is defined in " + config_.path + " (line " +
                             std::to_string(defined.pos.line) + "): change its weight or zone there"};
    }
    bool registered = false;
    if (const TargetGroupRuntime* current = runtime_->group(group_name)) {
        for (const auto& entry : current->targets)
            registered = registered ||
                         (entry.config.addr == target.addr && !entry.state->draining.load(std::memory_order_relaxed));
    }
    TargetRegistrations previous = registrations_;
    registrations_.register_target(config_, group_name, std::move(registration.target));
    if (auto applied = apply_config(config_, FileReads::reuse); !applied) {
        registrations_ = std::move(previous);
        return {500, applied.error()};
    }
    LB_LOG_INFO("admin API: target group %s: target %s %s", group_name.c_str(), target.addr.to_string().c_str(),
                registered ? "registration updated" : "registered");
    return {registered ? 200 : 201, ""};
}

ServerStats Server::stats() const {
    ServerStats stats;
    stats.zone = config_.global.zone;
    stats.generation = runtime_->generation;
    stats.started_unix_s = started_unix_s_;
    stats.workers = workers_;
    stats.reloads = reloads_;
    stats.reloads_rejected = reloads_rejected_;
    stats.last_reload_unix_ms = last_reload_unix_ms_;
    stats.last_reload_accepted = last_reload_unix_ms_ != 0 && last_reload_error_.empty();
    stats.last_reload_error = last_reload_error_;
    for (const auto& worker : workers_list_) stats.add(worker->counters());
    if (discovery_) {
        const DnsDiscovery::Counters& dns = discovery_->counters();
        stats.dns_answered = dns.answered;
        stats.dns_failures = dns.failures;
        stats.dns_changes = dns.changes;
    }
    return stats;
}

AdminOutcome Server::deregister_target(const std::string& group_name, const SocketAddress& address) {
    if (stopping_) return {503, "lb is stopping"};
    const conf::TargetGroup* group = config_.find_target_group(group_name);
    if (!group) return {404, "no target group '" + group_name + "'"};
    if (group->discovered())
        return {409, "target group '" + group_name + "' takes its targets from DNS (" + config_.path + ", line " +
                         std::to_string(group->pos.line) + "): change the records instead"};
    const TargetGroupRuntime* current = runtime_->group(group_name);
    const TargetEntry* found = nullptr;
    for (const auto& entry : current->targets)
        if (entry.config.addr == address) found = &entry;
    if (!found) return {404, "target " + address.to_string() + " is not registered in target group '" + group_name + "'"};
    if (found->state->draining.load(std::memory_order_relaxed)) return {202, ""};  // already on its way out
    TargetRegistrations previous = registrations_;
    registrations_.deregister_target(config_, group_name, address);
    if (auto applied = apply_config(config_, FileReads::reuse); !applied) {
        registrations_ = std::move(previous);
        return {500, applied.error()};
    }
    return {202, ""};
}

void Server::sample_dashboard() {
    if (stopping_) return;
    ServerStats totals = stats();
    DashboardHistory::Totals counted;
    for (uint64_t answered : totals.responses_by_class) counted.exchanges += answered;
    counted.responses_5xx = totals.responses_by_class[5];
    dashboard_.sample(*runtime_, counted, steady_now_ms(), unix_now_ms());
    loop_->timers().schedule(dashboard_timer_, DashboardHistory::kIntervalMs);
}

void Server::dns_changed() {
    if (stopping_) return;
    if (auto applied = apply_config(config_, FileReads::reuse); !applied)
        LB_LOG_ERROR("dns: applying new addresses: %s", applied.error().c_str());
}

void Server::poll_drains() {
    if (drains_.empty() || stopping_) return;
    if (drains_.collect(steady_now_ms())) {
        if (auto applied = apply_config(config_, FileReads::reuse); !applied)
            LB_LOG_ERROR("dropping drained targets: %s", applied.error().c_str());
    }
    if (!drains_.empty()) loop_->timers().schedule(drain_timer_, kDrainPollMs);
}

void Server::begin_stop(bool graceful) {
    if (stopping_ && (graceful || !graceful_)) return;
    bool first = !stopping_;
    stopping_ = true;
    graceful_ = graceful;
    if (first && !handed_over_) service::stopping();
    // A new lb not yet ready must not outlive the stop it would not know of.
    if (upgrade_ && upgrade_->in_progress()) upgrade_->abandon("lb is stopping");
    LB_LOG_INFO(graceful ? "graceful stop: draining for up to %lld ms" : "stopping%.0lld",
                static_cast<long long>(graceful ? config_.global.shutdown_timeout.count() : 0));
    // After a hand-over, idle keep-alive clients are answered once more
    // (Connection: close) rather than closed under a request in flight.
    for (auto& worker : workers_list_) worker->stop(graceful, handed_over_);
    if (graceful) loop_->timers().schedule(shutdown_timer_, config_.global.shutdown_timeout.count());
    else loop_->timers().cancel(shutdown_timer_);
    if (first) {
        loop_->stop();
        // The admin API answers (read-only) until the workers are done.
        loop_->set_exit_condition([this] {
            for (auto& worker : workers_list_)
                if (!worker->finished()) return false;
            admin_->shutdown();
            return admin_->idle() && loop_->live_streams() == 0;
        });
    }
}

}  // namespace lb
