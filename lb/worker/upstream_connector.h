// UpstreamConnector: where a session's connections to targets come from, a
// pooled idle one or a new connect (plain TCP, or TLS for https groups).
// The worker's (WorkerUpstreams) uses its UpstreamPool and event loop; unit
// tests give fake streams instead, so the exchange and the connect-and-retry
// policy above it run without sockets.
//
// Threading: one per worker; loop thread only.
#pragma once

#include <memory>

#include "lb/base/net_address.h"
#include "lb/io/stream.h"
#include "lb/targets/target_state.h"

namespace lb {

namespace tls {
class ClientContext;
}

class EventLoop;
class UpstreamPool;

class UpstreamConnector {
public:
    virtual ~UpstreamConnector() = default;
    // An idle pooled connection to `target` of the right kind (TLS or not),
    // or null.
    virtual std::unique_ptr<Stream> take_idle(const TargetState& target, bool tls) = 0;
    // A new connection; `handler` hears on_stream_connected, never from
    // inside this call. `tls` null: plain TCP. `receive_buffer`: the
    // socket's SO_RCVBUF, 0 for the kernel's autotuning.
    virtual std::unique_ptr<Stream> connect(const SocketAddress& to, int64_t timeout_ms, int receive_buffer,
                                            const std::shared_ptr<const tls::ClientContext>& tls,
                                            StreamHandler* handler) = 0;
    // A connection that may carry another request to `target`.
    virtual void put_idle(std::shared_ptr<TargetState> target, std::unique_ptr<Stream> stream) = 0;
};

class WorkerUpstreams final : public UpstreamConnector {
public:
    WorkerUpstreams(EventLoop& loop, UpstreamPool& pool) : loop_(loop), pool_(pool) {}

    std::unique_ptr<Stream> take_idle(const TargetState& target, bool tls) override;
    std::unique_ptr<Stream> connect(const SocketAddress& to, int64_t timeout_ms, int receive_buffer,
                                    const std::shared_ptr<const tls::ClientContext>& tls,
                                    StreamHandler* handler) override;
    void put_idle(std::shared_ptr<TargetState> target, std::unique_ptr<Stream> stream) override;

private:
    EventLoop& loop_;
    UpstreamPool& pool_;
};

}  // namespace lb
