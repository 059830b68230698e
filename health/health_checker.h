// HealthChecker: the active health checks of every target group, on a
// thread of its own with its own EventLoop (docs/architecture.md, "Threads"), so a slow
// or hanging target never delays traffic and the workers never spend a cycle
// on probes. Results are published only into TargetState atomics (see
// health_state.h), which workers read when they pick a target.
//
// Threading: the main thread calls start/update/stop; everything else runs
// on the checker thread. update() hands over each new Runtime snapshot
// (start-up, reload, admin API change) through the loop's mailbox; the
// checker diffs it against its probes by TargetState identity, so a reload
// neither resets health nor restarts a target's check cadence.
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "health/health_probe.h"
#include "lb/base/result.h"
#include "lb/io/event_loop.h"
#include "lb/runtime/runtime.h"

namespace lb::health {

class HealthChecker {
public:
    HealthChecker() = default;
    ~HealthChecker();
    HealthChecker(const HealthChecker&) = delete;
    HealthChecker& operator=(const HealthChecker&) = delete;

    // Main thread. start() returns once the loop runs (or failed to start).
    Status start(std::shared_ptr<const Runtime> runtime);
    void update(std::shared_ptr<const Runtime> runtime);
    // Ends every probe and joins the thread.
    void stop();

private:
    void run(std::shared_ptr<const Runtime> runtime);
    void apply(const Runtime& runtime);
    void begin_stop();

    std::thread thread_;
    std::unique_ptr<EventLoop> loop_;
    std::atomic<bool> ready_{false};
    std::string start_error_;  // written before ready_ is set
    std::unordered_map<const TargetState*, std::unique_ptr<HealthProbe>> probes_;
};

}  // namespace lb::health
