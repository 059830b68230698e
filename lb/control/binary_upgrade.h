// Binary upgrade (SIGUSR2, `lb -s upgrade`): the running lb starts the
// binary it was started from, with the same arguments, and hands it what it
// must not lose: every listening socket (TCP, UDP, the admin API's), the
// TLS session-ticket keys and a random sticky-cookie key. The new lb builds
// its config on those sockets without accepting on them, and says "ready"
// on a pipe once its first health results allow traffic; only then does the
// old one stop accepting and drain as on SIGQUIT. The sockets are the same
// kernel objects in both processes, so nothing queued on them is lost and no
// SYN or datagram is refused at any moment. If the new lb exits, is not
// ready within global.upgrade_timeout, or rejects the config, the old one
// keeps serving and logs why.
//
// What passes, in the new process's environment (descriptors without
// close-on-exec):
//   LB_UPGRADE_FDS=5,6,9   listening sockets (InheritedSockets learns what
//                          each is from the kernel)
//   LB_UPGRADE_STATE_FD=7  a memfd: "ticket-key EPOCH NAME AES HMAC" and
//                          "sticky-secret KEY" lines (hex), and
//                          "target-health HEALTH SINCE_MS ADDRESS:PORT GROUP"
//                          for each checked target
//   LB_UPGRADE_READY_FD=8  a pipe: the new lb writes "ready PID\n" on it
//
// Threading: main thread (the control loop).
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lb/base/result.h"
#include "lb/base/timer_wheel.h"
#include "lb/base/unique_fd.h"
#include "lb/io/event_loop.h"
#include "lb/runtime/runtime.h"
#include "tls/ticket_keys.h"

namespace lb {

// What one lb carries over to the next besides sockets.
struct CarriedState {
    std::vector<tls::TicketKeys::Key> ticket_keys;  // newest first
    std::string sticky_secret;                     // empty: none to carry (a file names it, or no cookies yet)
    // Checked targets' verdicts, keyed "group\naddress:port" as
    // RuntimeBuilder::carried_health: the new lb need not wait for
    // healthy_threshold passes before it may take over.
    std::unordered_map<std::string, CarriedTargetHealth> target_health;

    std::string serialize() const;
    static Result<CarriedState> parse(std::string_view text);
};

// The new process's side: what the old one handed over, if it did.
class Handover {
public:
    // From the environment (the variables are removed from it), or nothing
    // when lb was not started by an upgrade.
    static Result<std::optional<Handover>> from_environment();

    std::vector<int> sockets;
    CarriedState state;
    // Tells the old lb this one serves now; once.
    void report_ready();

private:
    UniqueFd ready_;
};

// The old process's side: one upgrade at a time.
class BinaryUpgrade {
public:
    struct Callbacks {
        std::function<void(pid_t)> ready;               // the new lb serves: hand over
        std::function<void(const std::string&)> failed; // the old lb keeps serving
    };
    struct Request {
        std::string executable;
        std::vector<std::string> arguments;  // argv, [0] included
        std::vector<int> sockets;            // passed without close-on-exec
        CarriedState state;
        int64_t timeout_ms = 0;
    };

    BinaryUpgrade(EventLoop& loop, Callbacks callbacks);
    ~BinaryUpgrade();
    BinaryUpgrade(const BinaryUpgrade&) = delete;
    BinaryUpgrade& operator=(const BinaryUpgrade&) = delete;

    // Starts the new process; an error when it could not be started at all.
    Status start(const Request& request);
    bool in_progress() const { return pid_ > 0 && !done_; }
    // Ends an upgrade under way: the new process is killed, `failed` runs.
    void abandon(const std::string& why) { fail(why); }
    pid_t pid() const { return pid_; }

private:
    void arm_read();
    void on_read(int result, uint32_t flags);
    // `exiting`: it closed its ready pipe, so it is on its way out and is
    // killed only if it does not exit within a grace period.
    void fail(const std::string& why, bool exiting = false);
    // Collects the exit status of a failed new process without blocking.
    void reap();
    void timed_out();

    EventLoop& loop_;
    Callbacks callbacks_;
    pid_t pid_ = -1;
    bool done_ = false;
    bool read_pending_ = false;  // a read of the ready pipe is in the ring
    UniqueFd ready_pipe_;
    char buffer_[64];
    std::string received_;
    int reap_tries_ = 0;
    bool reaping_ = false;  // a failed new process not yet waited for
    bool killed_ = false;   // and SIGKILL was sent to it
    Timer deadline_;
    Timer reap_timer_;
    CompletionOf<BinaryUpgrade, &BinaryUpgrade::on_read> read_completion_{this};
};

}  // namespace lb
