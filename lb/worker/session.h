// Session: one client connection's work on a worker (HTTP exchange, tunnel,
// TCP connect). The worker keeps a list of live sessions so a graceful stop
// can ask each to finish, and a hard stop can abort them.
#pragma once

#include "lb/io/event_loop.h"

namespace lb {

class TargetState;
class Worker;

class Session : public Retirable {
public:
    explicit Session(Worker& worker);
    ~Session() override;
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Graceful stop: finish the request in flight, then close. Tunnels keep
    // going until the shutdown timeout aborts them.
    virtual void drain() = 0;
    // Close everything now.
    virtual void abort() = 0;
    // The worker adopted a new snapshot: a session between requests should
    // move to it now rather than keep the old one alive.
    virtual void snapshot_changed() {}
    // Draining (README, "Connection draining"): `target` was deregistered and gets no
    // new traffic; a session it last served should end after its current
    // response. Then its deregistration delay ended: whatever still uses it
    // is closed. Called by the worker for every session; most ignore it.
    virtual void target_draining(const TargetState& target) { (void)target; }
    virtual void target_drained(const TargetState& target) { (void)target; }

protected:
    // Unlinks from the worker and frees the session after this iteration.
    void retire();
    Worker& worker_;

private:
    friend class Worker;
    Session* prev_ = nullptr;
    Session* next_ = nullptr;
    bool retired_ = false;
};

}  // namespace lb
