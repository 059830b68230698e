#include "listeners/proxy_protocol.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>

namespace lb::proxy_protocol {

namespace {

constexpr uint8_t kVersion2 = 0x20;
constexpr uint8_t kCommandLocal = 0x00;
constexpr uint8_t kCommandProxy = 0x01;
constexpr uint8_t kFamilyUnspec = 0x0;
constexpr uint8_t kFamilyInet = 0x1;
constexpr uint8_t kFamilyInet6 = 0x2;
constexpr uint8_t kFamilyUnix = 0x3;
constexpr uint8_t kTransportStream = 0x1;
constexpr uint8_t kTransportDgram = 0x2;
constexpr size_t kInetAddressesSize = 12;    // 2 x 4 bytes + 2 x 2 bytes
constexpr size_t kInet6AddressesSize = 36;   // 2 x 16 bytes + 2 x 2 bytes
constexpr size_t kUnixAddressesSize = 216;   // 2 x 108 bytes

bool is_v4(const SocketAddress& address) {
    if (address.family() == AF_INET) return true;
    if (address.family() != AF_INET6) return false;
    auto bytes = address.ip_bytes();
    static constexpr std::array<uint8_t, 12> mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::equal(mapped.begin(), mapped.end(), bytes.begin());
}

bool usable(const SocketAddress& address) {
    return address.family() == AF_INET || address.family() == AF_INET6;
}

// Address bytes in network order: the last 4 of the mapped form for IPv4.
void append_ip(std::string& out, const SocketAddress& address, bool v4) {
    auto bytes = address.ip_bytes();
    const uint8_t* start = v4 ? bytes.data() + 12 : bytes.data();
    out.append(reinterpret_cast<const char*>(start), v4 ? 4 : 16);
}

void append_port(std::string& out, uint16_t port) {
    out.push_back(static_cast<char>(port >> 8));
    out.push_back(static_cast<char>(port & 0xff));
}

std::string ip_text(const SocketAddress& address, bool v4) {
    auto bytes = address.ip_bytes();
    char text[INET6_ADDRSTRLEN] = {0};
    if (v4) inet_ntop(AF_INET, bytes.data() + 12, text, sizeof(text));
    else inet_ntop(AF_INET6, bytes.data(), text, sizeof(text));
    return text;
}

std::optional<SocketAddress> parse_address(std::string_view ip, std::string_view port_text, int family) {
    if (ip.empty() || ip.size() >= INET6_ADDRSTRLEN) return std::nullopt;
    uint16_t port = 0;
    if (!parse_port(port_text, port)) return std::nullopt;
    // inet_pton of the expected family only: "TCP4 ::1" is malformed.
    char text[INET6_ADDRSTRLEN] = {0};
    std::memcpy(text, ip.data(), ip.size());
    uint8_t bytes[16];
    if (inet_pton(family, text, bytes) != 1) return std::nullopt;
    return SocketAddress::from_ip(ip, port);
}

SocketAddress address_from_bytes(const uint8_t* ip, const uint8_t* port, bool v4) {
    sockaddr_storage storage{};
    uint16_t port_value = static_cast<uint16_t>((port[0] << 8) | port[1]);
    if (v4) {
        auto* in = reinterpret_cast<sockaddr_in*>(&storage);
        in->sin_family = AF_INET;
        in->sin_port = htons(port_value);
        std::memcpy(&in->sin_addr, ip, 4);
        return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&storage), sizeof(sockaddr_in));
    }
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port_value);
    std::memcpy(&in6->sin6_addr, ip, 16);
    return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&storage), sizeof(sockaddr_in6));
}

Signature compare(std::string_view prefix, std::string_view signature) {
    size_t n = std::min(prefix.size(), signature.size());
    if (prefix.substr(0, n) != signature.substr(0, n)) return Signature::no;
    return prefix.size() >= signature.size() ? Signature::yes : Signature::maybe;
}

}  // namespace

std::string encode_v1(const SocketAddress& source, const SocketAddress& destination) {
    if (!usable(source) || !usable(destination)) return "PROXY UNKNOWN\r\n";
    bool v4 = is_v4(source) && is_v4(destination);
    std::string out = v4 ? "PROXY TCP4 " : "PROXY TCP6 ";
    out += ip_text(source, v4);
    out += ' ';
    out += ip_text(destination, v4);
    out += ' ';
    out += std::to_string(source.port());
    out += ' ';
    out += std::to_string(destination.port());
    out += "\r\n";
    return out;
}

std::string encode_v2(const SocketAddress& source, const SocketAddress& destination) {
    std::string out(kV2Signature);
    out.push_back(static_cast<char>(kVersion2 | kCommandProxy));
    if (!usable(source) || !usable(destination)) {
        // Unknown endpoints: AF_UNSPEC with no address block (section 2.2).
        out.push_back(static_cast<char>(kFamilyUnspec << 4));
        append_port(out, 0);
        return out;
    }
    bool v4 = is_v4(source) && is_v4(destination);
    uint8_t family = v4 ? kFamilyInet : kFamilyInet6;
    out.push_back(static_cast<char>((family << 4) | kTransportStream));
    append_port(out, static_cast<uint16_t>(v4 ? kInetAddressesSize : kInet6AddressesSize));
    append_ip(out, source, v4);
    append_ip(out, destination, v4);
    append_port(out, source.port());
    append_port(out, destination.port());
    return out;
}

std::string encode(conf::ProxyProtocol version, const SocketAddress& source, const SocketAddress& destination) {
    switch (version) {
        case conf::ProxyProtocol::none: return {};
        case conf::ProxyProtocol::v1: return encode_v1(source, destination);
        case conf::ProxyProtocol::v2: return encode_v2(source, destination);
    }
    return {};
}

Signature match_signature(std::string_view prefix) {
    Signature v1 = compare(prefix, kV1Signature);
    Signature v2 = compare(prefix, kV2Signature);
    if (v1 == Signature::yes || v2 == Signature::yes) return Signature::yes;
    if (v1 == Signature::maybe || v2 == Signature::maybe) return Signature::maybe;
    return Signature::no;
}

Parser::Status Parser::feed(std::string_view data) {
    if (status_ != Status::need_more) return status_;
    buffer_.append(data);
    switch (match_signature(buffer_)) {
        case Signature::no: return fail("not a PROXY protocol header");
        case Signature::maybe: return status_;
        case Signature::yes: break;
    }
    status_ = buffer_.front() == 'P' ? parse_v1() : parse_v2();
    return status_;
}

Parser::Status Parser::fail(const char* why) {
    error_ = why;
    status_ = Status::invalid;
    return status_;
}

Parser::Status Parser::parse_v1() {
    size_t newline = buffer_.find('\n');
    if (newline == std::string::npos) {
        if (buffer_.size() >= kMaxV1Size) return fail("PROXY v1 line longer than 107 bytes");
        return Status::need_more;
    }
    if (newline + 1 > kMaxV1Size) return fail("PROXY v1 line longer than 107 bytes");
    if (newline == 0 || buffer_[newline - 1] != '\r') return fail("PROXY v1 line does not end in CRLF");
    std::string_view line = std::string_view(buffer_).substr(0, newline - 1);
    header_size_ = newline + 1;
    header_.version = 1;

    // Fields are separated by exactly one space.
    std::array<std::string_view, 7> fields;
    size_t count = 0;
    size_t at = 0;
    while (true) {
        size_t space = line.find(' ', at);
        if (count == fields.size()) return fail("PROXY v1 line has too many fields");
        fields[count++] = line.substr(at, space == std::string_view::npos ? std::string_view::npos : space - at);
        if (space == std::string_view::npos) break;
        at = space + 1;
        // UNKNOWN: the rest of the line is to be ignored (section 2.1).
        if (count == 2 && fields[1] == "UNKNOWN") break;
    }
    if (count >= 2 && fields[1] == "UNKNOWN") {
        header_.local = true;
        return Status::done;
    }
    if (count < 2 || (fields[1] != "TCP4" && fields[1] != "TCP6"))
        return fail("PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN");
    if (count != 6) return fail("PROXY v1 line needs source, destination and both ports");
    int family = fields[1] == "TCP4" ? AF_INET : AF_INET6;
    auto source = parse_address(fields[2], fields[4], family);
    auto destination = parse_address(fields[3], fields[5], family);
    if (!source || !destination) return fail("PROXY v1 address or port is malformed");
    header_.source = *source;
    header_.destination = *destination;
    return Status::done;
}

Parser::Status Parser::parse_v2() {
    if (buffer_.size() < kV2FixedSize) return Status::need_more;
    const auto* bytes = reinterpret_cast<const uint8_t*>(buffer_.data());
    uint8_t version = bytes[12] & 0xf0;
    uint8_t command = bytes[12] & 0x0f;
    uint8_t family = bytes[13] >> 4;
    uint8_t transport = bytes[13] & 0x0f;
    size_t length = (size_t(bytes[14]) << 8) | bytes[15];
    if (version != kVersion2) return fail("PROXY v2 header with an unknown version");
    if (command != kCommandLocal && command != kCommandProxy) return fail("PROXY v2 header with an unknown command");
    if (family > kFamilyUnix || transport > kTransportDgram) return fail("PROXY v2 header with an unknown family");
    if (buffer_.size() < kV2FixedSize + length) return Status::need_more;
    header_size_ = kV2FixedSize + length;
    header_.version = 2;

    size_t needed = family == kFamilyInet ? kInetAddressesSize
                    : family == kFamilyInet6 ? kInet6AddressesSize
                    : family == kFamilyUnix  ? kUnixAddressesSize
                                             : 0;
    if (length < needed) return fail("PROXY v2 address block shorter than its family needs");
    // LOCAL (health checks of the proxy itself), and anything that is not
    // TCP over IP: keep the connection's own addresses. Extra bytes after
    // the addresses are TLVs, which lb does not use.
    if (command == kCommandLocal || transport != kTransportStream ||
        (family != kFamilyInet && family != kFamilyInet6)) {
        header_.local = true;
        return Status::done;
    }
    bool v4 = family == kFamilyInet;
    size_t ip_size = v4 ? 4 : 16;
    const uint8_t* block = bytes + kV2FixedSize;
    header_.source = address_from_bytes(block, block + 2 * ip_size, v4);
    header_.destination = address_from_bytes(block + ip_size, block + 2 * ip_size + 2, v4);
    return Status::done;
}

}  // namespace lb::proxy_protocol
