// ExchangeHost: what an HTTP exchange (listeners/http_exchange.h) uses of
// the worker it runs on: timers and the loop's clock, where target
// connections come from, counters, the access log, and whether the worker
// is draining. The Worker is the one real host; unit tests give their own,
// with a timer wheel they advance by hand and fake target connections.
//
// Threading: the host's loop thread only.
#pragma once

#include <cstdint>

#include "lb/base/timer_wheel.h"
#include "lb/runtime/access_log.h"
#include "lb/worker/upstream_connector.h"
#include "lb/worker/worker_counters.h"

namespace lb {

class EventLoop;

class ExchangeHost {
public:
    virtual TimerWheel& timers() = 0;
    virtual int64_t now_us() const = 0;  // the loop's clock, µs (steady)
    virtual UpstreamConnector& upstreams() = 0;
    virtual WorkerCounters& counters() = 0;
    virtual AccessLogWriter& access_log() = 0;
    // Stopping gracefully: answers end their connections, and target
    // connections are not pooled.
    virtual bool draining() const = 0;
    // The loop response bodies may be spliced on (lb/io/splice_pump.h);
    // null where they may not be (a host with no loop).
    virtual EventLoop* splice_loop() { return nullptr; }

protected:
    ~ExchangeHost() = default;
};

}  // namespace lb
