// TcpProxySession: a client connection on a tcp listener until its target
// connection is up — pick a target, connect, retry the next target on a
// connect failure — then both sockets go to a TunnelSession.
#pragma once

#include <memory>
#include <vector>

#include "lb/session.h"
#include "lb/stream.h"
#include "lb/worker.h"

namespace lb {

class TcpProxySession final : public Session, private StreamHandler {
public:
    TcpProxySession(Worker& worker, const ListenerRuntime& listener, std::unique_ptr<Stream> client,
                    ConnectionTicket ticket);

    void start();
    void drain() override {}
    void abort() override { close(CloseMode::abort); }
    void target_drained(const TargetState& target) override {
        if (target_.get() == &target) close(CloseMode::reset);
    }

private:
    void connect_next();
    void close(CloseMode mode);
    void on_stream_connected(Stream& stream, int error) override;
    void on_stream_data(Stream&, std::string_view) override {}
    void on_stream_eof(Stream& stream) override;
    void on_stream_error(Stream& stream, int error) override;
    void on_stream_drained(Stream&) override {}

    std::shared_ptr<WorkerSnapshot> snapshot_;
    const ListenerRuntime* listener_;
    const TargetGroupRuntime* group_ = nullptr;
    std::unique_ptr<Stream> client_;
    std::unique_ptr<Stream> upstream_;
    ConnectionTicket ticket_;
    std::shared_ptr<TargetState> target_;
    std::vector<const TargetState*> tried_;
    bool closing_ = false;
};

}  // namespace lb
