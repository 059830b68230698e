#include "lb/base/net_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace lb {

bool parse_port(std::string_view text, uint16_t& port) {
    if (text.empty() || text.size() > 5) return false;
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return false;
    port = static_cast<uint16_t>(value);
    return true;
}

SocketAddress SocketAddress::from_sockaddr(const sockaddr* sa, socklen_t len) {
    SocketAddress out;
    if (len > sizeof(out.storage_)) len = sizeof(out.storage_);
    std::memcpy(&out.storage_, sa, len);
    out.len_ = len;
    return out;
}

template <int (*Get)(int, sockaddr*, socklen_t*)>
SocketAddress SocketAddress::of_socket(int fd) {
    sockaddr_storage storage{};
    socklen_t len = sizeof(storage);
    if (Get(fd, reinterpret_cast<sockaddr*>(&storage), &len) != 0) return {};
    if (storage.ss_family != AF_INET && storage.ss_family != AF_INET6) len = sizeof(sa_family_t);
    return from_sockaddr(reinterpret_cast<const sockaddr*>(&storage), len);
}

SocketAddress SocketAddress::local_of(int fd) { return of_socket<getsockname>(fd); }
SocketAddress SocketAddress::peer_of(int fd) { return of_socket<getpeername>(fd); }

std::optional<SocketAddress> SocketAddress::from_ip(std::string_view ip, uint16_t port) {
    // inet_pton reads up to a NUL: "127.0.0.1\0x" must not pass as 127.0.0.1.
    if (ip.find('\0') != std::string_view::npos) return std::nullopt;
    std::string host(ip);
    SocketAddress out;
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    auto* v4 = &out.storage_.v4;
    auto* v6 = &out.storage_.v6;
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        out.len_ = sizeof(sockaddr_in);
        return out;
    }
    if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        out.len_ = sizeof(sockaddr_in6);
        return out;
    }
    return std::nullopt;
}

std::optional<SocketAddress> SocketAddress::parse(std::string_view text) {
    std::string_view host, port_text;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
        host = text.substr(1, close - 1);
        port_text = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos) return std::nullopt;
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) return std::nullopt;  // IPv6 needs brackets
    }
    uint16_t port = 0;
    if (!parse_port(port_text, port)) return std::nullopt;
    if (host == "*" || host.empty()) host = "0.0.0.0";
    return from_ip(host, port);
}

uint16_t SocketAddress::port() const {
    if (family() == AF_INET) return ntohs(storage_.v4.sin_port);
    if (family() == AF_INET6) return ntohs(storage_.v6.sin6_port);
    return 0;
}

void SocketAddress::set_port(uint16_t port) {
    if (family() == AF_INET) storage_.v4.sin_port = htons(port);
    if (family() == AF_INET6) storage_.v6.sin6_port = htons(port);
}

namespace {

// Dotted quad of four address bytes. glibc's inet_ntop formats IPv4 with
// sprintf, which showed in the worker's profile: this runs for every
// forwarded request (X-Forwarded-For, the access log).
std::string dotted_quad(const unsigned char* bytes) {
    std::string out;
    out.reserve(15);
    for (int i = 0; i < 4; ++i) {
        if (i) out += '.';
        unsigned v = bytes[i];
        if (v >= 100) out += static_cast<char>('0' + v / 100);
        if (v >= 10) out += static_cast<char>('0' + v / 10 % 10);
        out += static_cast<char>('0' + v % 10);
    }
    return out;
}

}  // namespace

std::string SocketAddress::ip_string() const {
    char buf[INET6_ADDRSTRLEN] = {0};
    if (family() == AF_INET) {
        return dotted_quad(reinterpret_cast<const unsigned char*>(&storage_.v4.sin_addr));
    } else if (family() == AF_INET6) {
        const auto* v6 = &storage_.v6;
        if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
            return dotted_quad(&v6->sin6_addr.s6_addr[12]);
        } else {
            inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof(buf));
        }
    } else if (family() == AF_UNIX) {
        return "unix";
    }
    return buf;
}

std::string SocketAddress::to_string() const {
    const auto* v6 = &storage_.v6;
    bool bracket = family() == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr);
    std::string ip = ip_string();
    return (bracket ? "[" + ip + "]" : ip) + ":" + std::to_string(port());
}

std::array<uint8_t, 16> SocketAddress::ip_bytes() const {
    std::array<uint8_t, 16> out{};
    if (family() == AF_INET) {
        out[10] = 0xff;
        out[11] = 0xff;
        std::memcpy(&out[12], &storage_.v4.sin_addr, 4);
    } else if (family() == AF_INET6) {
        std::memcpy(out.data(), &storage_.v6.sin6_addr, 16);
    }
    return out;
}

bool SocketAddress::is_any() const {
    if (family() == AF_INET) return storage_.v4.sin_addr.s_addr == INADDR_ANY;
    if (family() == AF_INET6) return IN6_IS_ADDR_UNSPECIFIED(&storage_.v6.sin6_addr);
    return false;
}

const char* SocketAddress::unusable_as_target() const {
    if (is_any()) return "the unspecified address cannot be a target";
    std::array<uint8_t, 16> bytes = ip_bytes();
    bool v4 = bytes[10] == 0xff && bytes[11] == 0xff && std::all_of(bytes.begin(), bytes.begin() + 10,
                                                                   [](uint8_t b) { return b == 0; });
    if (v4) {
        if (bytes[12] == 0 && bytes[13] == 0 && bytes[14] == 0 && bytes[15] == 0)
            return "the unspecified address cannot be a target";
        if (bytes[12] == 255 && bytes[13] == 255 && bytes[14] == 255 && bytes[15] == 255)
            return "the broadcast address cannot be a target";
        if ((bytes[12] & 0xf0) == 224) return "a multicast address cannot be a target";
    } else if (bytes[0] == 0xff) {
        return "a multicast address cannot be a target";
    }
    return nullptr;
}

bool SocketAddress::operator==(const SocketAddress& other) const {
    return ip_bytes() == other.ip_bytes() && port() == other.port();
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
    Cidr out;
    out.text_ = std::string(text);
    std::string_view ip = text;
    int prefix = -1;
    if (auto slash = text.find('/'); slash != std::string_view::npos) {
        ip = text.substr(0, slash);
        auto bits = text.substr(slash + 1);
        if (bits.empty() || bits.size() > 3) return std::nullopt;
        auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
        if (ec != std::errc() || end != bits.data() + bits.size()) return std::nullopt;
    }
    auto addr = SocketAddress::from_ip(ip, 0);
    if (!addr || ip.find('[') != std::string_view::npos) return std::nullopt;
    bool v4 = addr->family() == AF_INET;
    int max_bits = v4 ? 32 : 128;
    if (prefix == -1) prefix = max_bits;
    if (prefix < 0 || prefix > max_bits) return std::nullopt;
    out.prefix_ = v4 ? prefix + 96 : prefix;
    out.bytes_ = addr->ip_bytes();
    // Zero the host bits so "10.1.2.3/8" means 10.0.0.0/8.
    for (int bit = out.prefix_; bit < 128; ++bit) out.bytes_[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
    return out;
}

bool Cidr::contains(const SocketAddress& addr) const {
    auto bytes = addr.ip_bytes();
    int full = prefix_ / 8;
    if (std::memcmp(bytes.data(), bytes_.data(), full) != 0) return false;
    int rest = prefix_ % 8;
    if (rest == 0) return true;
    uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (bytes[full] & mask) == (bytes_[full] & mask);
}

bool in_any(std::span<const Cidr> blocks, const SocketAddress& address) {
    for (const auto& cidr : blocks)
        if (cidr.contains(address)) return true;
    return false;
}

}  // namespace lb
