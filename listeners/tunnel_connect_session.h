// TunnelConnectSession: what a tcp and a tls_passthrough client connection
// share before they become a TunnelSession. Connect to a target of the
// chosen group, retrying refused connects on other targets as every proxied
// request does (lb/worker/upstream_attempts.h); with none left, reset the
// client as an NLB does. Once connected, send the PROXY header (if configured) and what
// the subclass must replay, then hand both sockets to a TunnelSession.
// Subclasses choose the group and call connect().
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "lb/io/stream.h"
#include "lb/worker/session.h"
#include "lb/worker/upstream_attempts.h"
#include "lb/worker/worker.h"

namespace lb {

class TunnelConnectSession : public Session, protected StreamHandler {
public:
    void drain() override {}  // like a tunnel: lives until the shutdown timeout
    void abort() override { close(CloseMode::abort); }
    // Still connecting to a target whose deregistration delay ran out.
    void target_drained(const TargetState& target) override {
        if (attempts_ && attempts_->target().get() == &target) close(CloseMode::reset);
    }

protected:
    TunnelConnectSession(Worker& worker, const ListenerRuntime& listener, std::unique_ptr<Stream> client,
                         ConnectionTicket ticket);

    void connect(const TargetGroupRuntime& group);
    // Drops the target connection, closes the client by `mode`, retires.
    virtual void close(CloseMode mode);
    // Sent to the target after the PROXY header, before the client's bytes.
    virtual std::string_view replay() const { return {}; }
    // What the tunnel's access log shows as the host.
    virtual std::string_view log_host() const { return {}; }

    void on_stream_data(Stream&, std::string_view) override {}
    void on_stream_eof(Stream& stream) override;
    void on_stream_error(Stream& stream, int error) override;
    void on_stream_drained(Stream&) override {}

    std::shared_ptr<WorkerSnapshot> snapshot_;
    const ListenerRuntime* listener_;
    std::unique_ptr<Stream> client_;
    bool closing_ = false;

private:
    void connect_next();
    void on_stream_connected(Stream& stream, int error) final;

    std::optional<UpstreamAttempts> attempts_;
    int64_t connect_start_us_ = 0;   // this try's connect began (for the access log)
    std::unique_ptr<Stream> upstream_;
    ConnectionTicket ticket_;
};

}  // namespace lb
