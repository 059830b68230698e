// TlsPassthroughSession: a client connection on a tls_passthrough listener
// (the NLB's TLS passthrough, routed like an ALB): read the ClientHello
// without terminating TLS, route its SNI through the listener's rules (host
// conditions; the default action without a match or without SNI), connect
// to a target of the chosen group (as in TunnelConnectSession), replay the
// bytes read so far, then hand both sockets to a TunnelSession. The TLS
// session is the target's: lb never sees the plaintext nor holds a key.
//
// Anything that is not a ClientHello is closed without a byte forwarded; a
// hello that does not complete within the listener's header_timeout likewise.
#pragma once

#include <memory>

#include "listeners/tunnel_connect_session.h"
#include "tls/client_hello.h"

namespace lb {

class TlsPassthroughSession final : public TunnelConnectSession {
public:
    TlsPassthroughSession(Worker& worker, const ListenerRuntime& listener, std::unique_ptr<Stream> client,
                          ConnectionTicket ticket);

    void start();

private:
    void route();
    void close(CloseMode mode) override;
    std::string_view replay() const override { return hello_.buffered(); }  // the ClientHello, byte for byte
    std::string_view log_host() const override { return hello_.server_name(); }
    void on_hello_timeout();
    void on_stream_data(Stream& stream, std::string_view data) override;

    tls::ClientHelloParser hello_;
    Timer hello_timer_;
};

}  // namespace lb
