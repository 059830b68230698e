// ProxyHeaderRefusal: on a listener with accept_proxy_protocol, a peer
// outside trusted_proxies is a direct client, who must not claim another
// address. Its connection's first bytes are held (TcpStream's
// FirstBytesCheck) until they tell whether they begin a PROXY header: if
// they do, the connection is refused before any byte reaches the session
// and counted in proxy_header_untrusted; if not, they go on untouched. The
// session starts at once either way, so protocols where the server speaks
// first are not delayed.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "lb/io/tcp_stream.h"

namespace lb {

class ProxyHeaderRefusal final : public FirstBytesCheck {
public:
    ProxyHeaderRefusal(std::atomic<uint64_t>* refused, std::string peer)
        : refused_(refused), peer_(std::move(peer)) {}
    Verdict check(std::string_view received) override;

private:
    std::atomic<uint64_t>* refused_;
    std::string peer_;  // for the log line
};

}  // namespace lb
