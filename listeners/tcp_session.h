// TcpProxySession: a client connection on a tcp listener until its target
// connection is up (the listener's default action picks the group; connect
// and retry as in TunnelConnectSession), then both sockets go to a
// TunnelSession.
#pragma once

#include <memory>

#include "listeners/tunnel_connect_session.h"

namespace lb {

class TcpProxySession final : public TunnelConnectSession {
public:
    TcpProxySession(Worker& worker, const ListenerRuntime& listener, std::unique_ptr<Stream> client,
                    ConnectionTicket ticket)
        : TunnelConnectSession(worker, listener, std::move(client), std::move(ticket)) {}

    void start();
};

}  // namespace lb
