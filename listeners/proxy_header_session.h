// ProxyHeaderSession: the first step of a connection from a trusted proxy on
// a listener with accept_proxy_protocol. Reads the PROXY header (v1 or v2)
// within the listener's header_timeout, makes the addresses it carries the
// connection's client and destination (source_ip rules, stickiness,
// X-Forwarded-For, logs and any PROXY header lb sends on all see them),
// then hands the connection, with the bytes after the header, to the
// listener's own session. A missing, malformed or late header closes the
// connection with nothing forwarded and counts in proxy_header_invalid.
#pragma once

#include <memory>

#include "lb/io/stream.h"
#include "lb/io/tcp_stream.h"
#include "lb/worker/session.h"
#include "lb/worker/worker.h"
#include "listeners/proxy_protocol.h"

namespace lb {

class ProxyHeaderSession final : public Session, private StreamHandler {
public:
    ProxyHeaderSession(Worker& worker, const ListenerRuntime& listener, std::unique_ptr<TcpStream> client,
                       ConnectionTicket ticket);

    void start();
    // A graceful stop still lets the header arrive (within its timeout) and
    // the session answer: the connection was accepted, so it is served; the
    // session started on a draining worker closes after its request.
    void drain() override {}
    void abort() override { close(); }

private:
    void refuse(const char* why);
    void close();
    void on_stream_connected(Stream&, int) override {}
    void on_stream_data(Stream& stream, std::string_view data) override;
    void on_stream_eof(Stream&) override { refuse("connection closed before a complete PROXY header"); }
    void on_stream_error(Stream&, int) override { close(); }
    void on_stream_drained(Stream&) override {}

    std::shared_ptr<WorkerSnapshot> snapshot_;  // keeps listener_ alive
    const ListenerRuntime* listener_;
    std::unique_ptr<TcpStream> client_;
    ConnectionTicket ticket_;
    proxy_protocol::Parser parser_;
    bool closing_ = false;
    Timer header_timer_;
};

}  // namespace lb
