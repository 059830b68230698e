// TlsPassthroughSession: a client connection on a tls_passthrough listener
// (the NLB's TLS passthrough, routed like an ALB): read the ClientHello
// without terminating TLS, route its SNI through the listener's rules (host
// conditions; the default action without a match or without SNI), connect
// to a target of the chosen group (next target on a connect failure), replay
// the bytes read so far, then hand both sockets to a TunnelSession. The TLS
// session is the target's: lb never sees the plaintext nor holds a key.
//
// Anything that is not a ClientHello is closed without a byte forwarded; a
// hello that does not complete within the listener's header_timeout likewise.
#pragma once

#include <memory>
#include <vector>

#include "lb/session.h"
#include "lb/stream.h"
#include "lb/worker.h"
#include "tls/client_hello.h"

namespace lb {

class TlsPassthroughSession final : public Session, private StreamHandler {
public:
    TlsPassthroughSession(Worker& worker, const ListenerRuntime& listener, std::unique_ptr<Stream> client,
                          ConnectionTicket ticket);

    void start();
    void drain() override {}  // like a TCP tunnel: lives until the shutdown timeout
    void abort() override { close(CloseMode::abort); }
    // Still connecting to a target whose deregistration delay ran out.
    void target_drained(const TargetState& target) override {
        if (target_.get() == &target) close(CloseMode::reset);
    }

private:
    void route();
    void connect_next();
    void close(CloseMode mode);
    void on_hello_timeout();
    void on_stream_connected(Stream& stream, int error) override;
    void on_stream_data(Stream& stream, std::string_view data) override;
    void on_stream_eof(Stream& stream) override;
    void on_stream_error(Stream& stream, int error) override;
    void on_stream_drained(Stream&) override {}

    std::shared_ptr<WorkerSnapshot> snapshot_;
    const ListenerRuntime* listener_;
    const TargetGroupRuntime* group_ = nullptr;
    std::unique_ptr<Stream> client_;
    std::unique_ptr<Stream> upstream_;
    ConnectionTicket ticket_;
    tls::ClientHelloParser hello_;
    std::shared_ptr<TargetState> target_;
    std::vector<const TargetState*> tried_;
    bool closing_ = false;
    Timer hello_timer_;
};

}  // namespace lb
