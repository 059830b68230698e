// PROXY protocol (HAProxy, "The PROXY protocol, versions 1 & 2", 2020/03/05):
// the header an L4 balancer puts in front of a TCP connection's first byte
// to tell the next hop who the client was. lb writes it to targets
// (proxy_protocol: v1|v2 on tcp and tls_passthrough listeners) and reads it
// from trusted balancers in front of lb (accept_proxy_protocol).
//
// Pure functions and a parser over bytes; no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "conf/config.h"
#include "lb/base/net_address.h"

namespace lb::proxy_protocol {

// Longest v1 line including CRLF (spec section 2.1).
constexpr size_t kMaxV1Size = 107;
// v2: 12-byte signature, version/command, family/transport, 16-bit length.
constexpr size_t kV2FixedSize = 16;
constexpr std::string_view kV1Signature = "PROXY ";
constexpr std::string_view kV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};

// "PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n" (TCP6 for IPv6; an IPv4
// address on one side and IPv6 on the other are both written as IPv6).
std::string encode_v1(const SocketAddress& source, const SocketAddress& destination);
// Signature, 0x21 (version 2, PROXY), 0x11 TCP over IPv4 or 0x21 TCP over
// IPv6, the address length, then source and destination addresses and
// ports in network order. No TLVs.
std::string encode_v2(const SocketAddress& source, const SocketAddress& destination);
// The header a listener's `proxy_protocol` setting asks for; empty for none.
std::string encode(conf::ProxyProtocol version, const SocketAddress& source, const SocketAddress& destination);

// What a received header says. `local` (v1 UNKNOWN, v2 LOCAL, or a v2
// family other than TCP over IPv4/IPv6): the receiver keeps the
// connection's own addresses, as the spec requires.
struct Header {
    int version = 0;  // 1 or 2
    bool local = false;
    SocketAddress source;
    SocketAddress destination;
};

// Reads one header from the first bytes of a connection, fed in pieces as
// they arrive. Stops at the header's end: the bytes after it belong to the
// connection and are left in rest().
class Parser {
public:
    enum class Status { need_more, done, invalid };

    Status feed(std::string_view data);
    Status status() const { return status_; }
    const Header& header() const { return header_; }
    // Bytes received after the header (valid once done).
    std::string_view rest() const { return std::string_view(buffer_).substr(header_size_); }
    // Why the header was refused (valid once invalid).
    const char* error() const { return error_; }

private:
    Status parse_v1();
    Status parse_v2();
    Status fail(const char* why);

    std::string buffer_;
    Status status_ = Status::need_more;
    Header header_;
    size_t header_size_ = 0;
    const char* error_ = "";
};

// Whether `prefix` (a connection's first bytes) starts a PROXY header of
// either version: yes, no, or maybe when it is too short to tell.
enum class Signature { no, maybe, yes };
Signature match_signature(std::string_view prefix);

}  // namespace lb::proxy_protocol
