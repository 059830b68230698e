// Which address is the client when a request comes through proxies lb
// trusts (a listener's trusted_proxies), the way nginx's realip module does
// with real_ip_recursive on: walk X-Forwarded-For from the right, skipping
// trusted proxies; the first address that is not one is the client.
#pragma once

#include <span>

#include "lb/base/net_address.h"
#include "lb/http/http_head.h"

namespace lb {

// The client of `request`, which arrived from `peer`. An untrusted peer is
// the client itself. From a trusted one, X-Forwarded-For (all its headers,
// in order) is read right to left: trusted addresses are skipped, the first
// other one is the client (port 0: the header carries none). If every entry
// is trusted the leftmost is the client; an entry that is not an IP
// address ends the walk at the last good one, so junk cannot pose as a
// client.
SocketAddress client_behind_proxies(const SocketAddress& peer, const HttpHead& request,
                                    std::span<const Cidr> trusted);

}  // namespace lb
