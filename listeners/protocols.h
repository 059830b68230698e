// The protocols lb serves, as the workers see them (Protocols in
// lb/worker/worker.h): what starts on an accepted connection of each listener
// protocol, and what receives a udp listener's datagrams.
#pragma once

#include <memory>

#include "lb/io/tcp_stream.h"
#include "lb/runtime/runtime.h"
#include "lb/worker/worker.h"

namespace lb {

// The table the server gives every worker.
const Protocols& listener_protocols();

// Starts the session of `listener`'s protocol on a connection whose client
// is known (after any PROXY header), once the client limits allow it: an
// HTTP client over them gets 429 on its first request, a TCP or TLS
// passthrough client is closed.
void start_session(Worker& worker, const ListenerRuntime& listener, std::unique_ptr<TcpStream> stream,
                   ConnectionTicket ticket);

}  // namespace lb
