// Socket addresses and CIDR blocks, IPv4 and IPv6.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace lb {

// A decimal port 0..65535 with nothing around it.
bool parse_port(std::string_view text, uint16_t& port);

// An IP address plus port, stored as a sockaddr so it can go straight to
// connect()/bind() without conversion.
class SocketAddress {
public:
    SocketAddress() = default;
    static SocketAddress from_sockaddr(const sockaddr* sa, socklen_t len);
    // getsockname()/getpeername() of `fd`; invalid when the call fails. A
    // family other than IPv4/IPv6 keeps only its family (it cannot be used
    // as an address, and reads as "unix" or "").
    static SocketAddress local_of(int fd);
    static SocketAddress peer_of(int fd);

    // "1.2.3.4:80", "[2001:db8::1]:443", "*:80" (= 0.0.0.0:80).
    static std::optional<SocketAddress> parse(std::string_view host_port);
    // A literal IP (no port, nothing after it) plus a port.
    static std::optional<SocketAddress> from_ip(std::string_view ip, uint16_t port);

    const sockaddr* sa() const { return &storage_.any; }
    socklen_t len() const { return len_; }
    int family() const { return storage_.any.sa_family; }
    bool valid() const { return len_ != 0; }

    uint16_t port() const;
    void set_port(uint16_t port);
    // The address only: "1.2.3.4" or "2001:db8::1" (IPv4-mapped IPv6 shown as IPv4).
    std::string ip_string() const;
    // "1.2.3.4:80" or "[2001:db8::1]:80".
    std::string to_string() const;
    // 16 bytes; IPv4 is mapped to ::ffff:a.b.c.d so both families compare.
    std::array<uint8_t, 16> ip_bytes() const;
    // 0.0.0.0 or [::]: bound to every local address.
    bool is_any() const;
    // Why this cannot be a target a connection is made to (the unspecified
    // address, broadcast 255.255.255.255, or multicast), or nullptr.
    const char* unusable_as_target() const;

    bool operator==(const SocketAddress& other) const;
    bool operator!=(const SocketAddress& other) const { return !(*this == other); }

private:
    // Big enough for IPv4 and IPv6 only (28 bytes, not sockaddr_storage's
    // 128): every connection holds two of these, and idle connections are
    // most of a balancer's memory.
    // The largest member first: `storage_{}` initializes only the first
    // member, and sin6_scope_id must be zero, not whatever was there.
    union Storage {
        sockaddr_in6 v6;
        sockaddr_in v4;
        sockaddr any;
    };
    template <int (*Get)(int, sockaddr*, socklen_t*)>
    static SocketAddress of_socket(int fd);

    Storage storage_{};
    socklen_t len_ = 0;
};

// A CIDR block such as 10.0.0.0/8 or 2001:db8::/32. A bare address is a /32
// or /128. IPv4 blocks also match IPv4-mapped IPv6 peers.
class Cidr {
public:
    static std::optional<Cidr> parse(std::string_view text);
    bool contains(const SocketAddress& addr) const;
    std::string to_string() const { return text_; }

private:
    std::array<uint8_t, 16> bytes_{};  // IPv4 stored mapped (::ffff:a.b.c.d)
    int prefix_ = 0;                   // in the 128-bit space
    std::string text_;
};

// Is `address` in any of `blocks`?
bool in_any(std::span<const Cidr> blocks, const SocketAddress& address);

}  // namespace lb
