#include "listeners/protocols.h"

#include "listeners/http_session.h"
#include "listeners/proxy_header_session.h"
#include "listeners/proxy_screen.h"
#include "listeners/tcp_session.h"
#include "listeners/tls_passthrough_session.h"
#include "listeners/trusted_proxies.h"
#include "listeners/udp_listener.h"
#include "tls/tls_stream.h"

namespace lb {

namespace {

void accepted(Worker& worker, const ListenerRuntime& listener, std::unique_ptr<TcpStream> stream,
              ConnectionTicket ticket) {
    const conf::Listener& config = listener.config;
    if (config.accept_proxy_protocol) {
        if (in_any(config.trusted_proxies, stream->peer())) {
            (new ProxyHeaderSession(worker, listener, std::move(stream), std::move(ticket)))->start();
            return;
        }
        // Anyone else is a direct client, who must not claim another address.
        stream->check_first_bytes(std::make_unique<ProxyHeaderRefusal>(&listener.state->proxy_header_untrusted,
                                                                       stream->peer().to_string()));
    }
    start_session(worker, listener, std::move(stream), std::move(ticket));
}

std::unique_ptr<DatagramListener> datagram(Worker& worker, std::shared_ptr<const Runtime> runtime,
                                           const ListenerRuntime& listener, int socket_index,
                                           ProvidedBuffers& buffers) {
    return std::make_unique<UdpListener>(worker, std::move(runtime), listener, socket_index, buffers);
}

}  // namespace

const Protocols& listener_protocols() {
    static const Protocols protocols{accepted, datagram};
    return protocols;
}

void start_session(Worker& worker, const ListenerRuntime& listener, std::unique_ptr<TcpStream> stream,
                   ConnectionTicket ticket) {
    const char* limited =
        listener.client_limiter ? worker.check_client_limits(listener, stream->peer(), ticket) : nullptr;
    switch (listener.config.protocol) {
        case conf::ListenerProtocol::http: {
            auto* session = new HttpSession(worker, listener, std::move(stream), std::move(ticket));
            if (limited) session->refuse_first_request(limited);
            session->start();
            break;
        }
        case conf::ListenerProtocol::https: {
            if (!listener.tls) {  // the builder always makes one; never serve https without it
                Stream::close(std::move(stream), CloseMode::abort);
                break;
            }
            auto tls_stream = tls::TlsStream::accept(worker.loop(), std::move(stream), listener.tls,
                                                     &listener.state->tls_handshakes);
            auto* session = new HttpSession(worker, listener, std::move(tls_stream), std::move(ticket), /*tls=*/true);
            if (limited) session->refuse_first_request(limited);
            session->start();
            break;
        }
        case conf::ListenerProtocol::tcp:
            if (limited) {
                Stream::close(std::move(stream), CloseMode::graceful);
                break;
            }
            (new TcpProxySession(worker, listener, std::move(stream), std::move(ticket)))->start();
            break;
        case conf::ListenerProtocol::tls_passthrough:
            if (limited) {
                Stream::close(std::move(stream), CloseMode::graceful);
                break;
            }
            (new TlsPassthroughSession(worker, listener, std::move(stream), std::move(ticket)))->start();
            break;
        default:
            Stream::close(std::move(stream), CloseMode::abort);
            break;
    }
}

}  // namespace lb
