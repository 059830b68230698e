// Server: the main thread. Loads the config, starts the workers, and then
// runs a control loop that turns signals into actions (README, "Signals"):
// SIGHUP reload, SIGQUIT graceful stop, SIGTERM/SIGINT stop now, SIGUSR1
// reopen logs, SIGUSR2 binary upgrade (lb/control/binary_upgrade.h). It
// tells the service manager when lb is ready, reloading and stopping
// (lb/control/service_notify.h).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "conf/config.h"
#include "health/health_checker.h"
#include "lb/control/admin_api.h"
#include "lb/control/binary_upgrade.h"
#include "lb/control/dashboard_history.h"
#include "lb/discovery/dns_discovery.h"
#include "lb/io/event_loop.h"
#include "lb/io/inherited_sockets.h"
#include "lb/runtime/runtime.h"
#include "lb/targets/target_registrations.h"
#include "lb/worker/worker.h"

namespace lb {

struct ServerOptions {
    std::string config_path;
    std::optional<int> workers;  // --workers overrides global.workers
    std::vector<std::string> arguments;  // argv as given: a binary upgrade starts the new lb with them
};

class Server final : private AdminControl {
public:
    explicit Server(ServerOptions options);
    ~Server();
    // Runs in the foreground until stopped; returns the process exit code.
    int run();

private:
    // How often drains are checked for being over (nothing left on the target).
    static constexpr int64_t kDrainPollMs = 100;
    // How often readiness is checked until lb is ready.
    static constexpr int64_t kReadyPollMs = 20;

    // Sockets handed over by the previous lb or systemd; the state a previous
    // lb carried over. Before the first build.
    Status take_inheritance();
    // Ready: every listener bound, the first health results in (see
    // README, "Running under systemd") and the first DNS answers applied.
    bool serving_ready() const;
    void check_ready();
    std::string status_line() const;
    void write_pid_file() const;
    void start_upgrade();
    void upgrade_ready(pid_t pid);

    void arm_signal_read();
    void on_signal(int result, uint32_t flags);
    // Re-reads the config file; the new generation, or why it was rejected
    // (the old config keeps serving).
    Result<uint64_t> reload();
    Result<uint64_t> read_and_apply_config();
    // Compiles `base` (the YAML) plus the admin API's registrations into a
    // snapshot and publishes it: targets no longer named start draining,
    // named-again ones stop. Nothing changes if it fails. FileReads::reuse
    // (admin API changes, drain ends: the YAML is the one already serving)
    // keeps the certificates, CA files and sticky secret already loaded, so
    // changed files go live on SIGHUP only and a broken one cannot fail a
    // target registration.
    enum class FileReads { fresh, reuse };
    Status apply_config(const conf::Config& base, FileReads files = FileReads::fresh);

    // AdminControl (the admin API, on the control loop)
    std::shared_ptr<const Runtime> current_runtime() const override { return runtime_; }
    TargetSource target_source(const std::string& group, const SocketAddress& address) const override;
    AdminOutcome register_target(const std::string& group, TargetRegistration registration) override;
    AdminOutcome deregister_target(const std::string& group, const SocketAddress& address) override;
    Result<uint64_t> reload_config() override { return reload(); }
    bool stopping() const override { return stopping_; }
    ServerStats stats() const override;
    const DnsDiscovery* discovery() const override { return discovery_.get(); }
    const DashboardHistory& dashboard_history() const override { return dashboard_; }
    // The dashboard's once-a-second reading of the counters.
    void sample_dashboard();
    void poll_drains();
    // An answer behind some target changed: rebuild with the new addresses.
    void dns_changed();
    void begin_stop(bool graceful);
    int worker_count(const conf::Config& config) const;

    ServerOptions options_;
    int workers_ = 1;
    conf::Config config_;
    RuntimeBuilder builder_;
    DrainTracker drains_;
    TargetRegistrations registrations_;
    std::set<std::string> api_targets_;  // "group\nkey" of the current snapshot's API-registered targets
    std::shared_ptr<const Runtime> runtime_;
    std::vector<std::unique_ptr<Worker>> workers_list_;
    health::HealthChecker health_checker_;
    std::atomic<int64_t> connection_budget_{0};
    std::unique_ptr<EventLoop> loop_;
    std::unique_ptr<AdminApi> admin_;  // after loop_: destroyed before it
    std::unique_ptr<DnsDiscovery> discovery_;  // after loop_: destroyed before it, once it stopped
    std::unique_ptr<BinaryUpgrade> upgrade_;   // after loop_: destroyed before it
    InheritedSockets inherited_;
    std::optional<Handover> handover_;         // this lb was started by a binary upgrade
    std::string executable_;                   // the binary this lb was started from
    bool ready_ = false;
    bool handed_over_ = false;                 // a new lb took over: say nothing more to systemd
    int signal_fd_ = -1;
    char signal_buffer_[128];
    bool stopping_ = false;
    int64_t started_unix_s_ = 0;
    uint64_t reloads_ = 0;
    uint64_t reloads_rejected_ = 0;
    int64_t last_reload_unix_ms_ = 0;
    std::string last_reload_error_;  // empty: the last reload was accepted
    DashboardHistory dashboard_;
    bool graceful_ = false;
    Timer shutdown_timer_;
    Timer drain_timer_;
    Timer ready_timer_;
    Timer dashboard_timer_;
    CompletionOf<Server, &Server::on_signal> signal_completion_{this};
};

}  // namespace lb
