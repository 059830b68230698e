#include "tls/client_hello.h"

namespace lb::tls {

namespace {

constexpr uint8_t kHandshakeRecord = 22;
constexpr uint8_t kClientHello = 1;
constexpr size_t kRecordHeader = 5;
constexpr size_t kMaxRecordPayload = 16384;  // 2^14
constexpr uint16_t kServerNameExtension = 0;
constexpr uint16_t kAlpnExtension = 16;

// Big-endian reads over a shrinking view; every read checks the length first.
class Reader {
public:
    explicit Reader(std::string_view data) : data_(data) {}
    bool empty() const { return data_.empty(); }
    size_t size() const { return data_.size(); }
    bool u8(uint8_t& out) {
        if (data_.empty()) return false;
        out = static_cast<uint8_t>(data_[0]);
        data_.remove_prefix(1);
        return true;
    }
    bool u16(uint16_t& out) {
        if (data_.size() < 2) return false;
        out = static_cast<uint16_t>(static_cast<uint8_t>(data_[0]) << 8 | static_cast<uint8_t>(data_[1]));
        data_.remove_prefix(2);
        return true;
    }
    bool bytes(size_t length, std::string_view& out) {
        if (data_.size() < length) return false;
        out = data_.substr(0, length);
        data_.remove_prefix(length);
        return true;
    }
    // A vector with a 1- or 2-byte length prefix.
    bool vector8(std::string_view& out) {
        uint8_t length;
        return u8(length) && bytes(length, out);
    }
    bool vector16(std::string_view& out) {
        uint16_t length;
        return u16(length) && bytes(length, out);
    }

private:
    std::string_view data_;
};

// A host name as RFC 6066 means it: letters, digits, '-', '_' (seen in
// the wild), dot-separated labels none of which is empty; one trailing dot
// (the absolute form) is allowed here and dropped by the caller.
bool valid_host_name(std::string_view name) {
    if (name.empty() || name.size() > 255) return false;
    std::string_view labels = name.back() == '.' ? name.substr(0, name.size() - 1) : name;
    if (labels.empty() || labels.front() == '.' || labels.back() == '.') return false;
    if (labels.find("..") != std::string_view::npos) return false;
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '.' || c == '_';
        if (!ok) return false;
    }
    return true;
}

}  // namespace

ClientHelloParser::Status ClientHelloParser::fail(const char* why) {
    status_ = Status::invalid;
    error_ = why;
    return status_;
}

ClientHelloParser::Status ClientHelloParser::feed(std::string_view data) {
    if (status_ != Status::need_more) {
        if (status_ == Status::done) buffered_.append(data);
        return status_;
    }
    // Only the first kMaxBufferedBytes are taken apart: garbage is garbage,
    // a hello that has not ended by then is too big. The rest of this piece
    // is kept should the hello end before it: it belongs to the connection.
    std::string_view beyond;
    if (buffered_.size() + data.size() > kMaxBufferedBytes) {
        beyond = data.substr(kMaxBufferedBytes - buffered_.size());
        data.remove_suffix(beyond.size());
    }
    buffered_.append(data);
    bool truncated = buffered_.size() == kMaxBufferedBytes;

    // Take complete records apart, collecting their handshake payload.
    while (buffered_.size() - record_offset_ >= kRecordHeader) {
        const auto* header = reinterpret_cast<const uint8_t*>(buffered_.data() + record_offset_);
        if (header[0] != kHandshakeRecord) return fail("not a TLS handshake record");
        if (header[1] != 3) return fail("not a TLS record version");
        size_t length = size_t(header[3]) << 8 | header[4];
        if (length == 0 || length > kMaxRecordPayload) return fail("bad TLS record length");
        if (buffered_.size() - record_offset_ < kRecordHeader + length) break;
        handshake_.append(buffered_, record_offset_ + kRecordHeader, length);
        record_offset_ += kRecordHeader + length;

        if (handshake_.size() >= 4) {
            if (static_cast<uint8_t>(handshake_[0]) != kClientHello) return fail("first handshake message is not a ClientHello");
            size_t hello_length = size_t(static_cast<uint8_t>(handshake_[1])) << 16 |
                                  size_t(static_cast<uint8_t>(handshake_[2])) << 8 | static_cast<uint8_t>(handshake_[3]);
            if (hello_length > kMaxHelloBytes) return fail("ClientHello too large");
            if (handshake_.size() >= 4 + hello_length) {
                if (parse_hello(std::string_view(handshake_).substr(4, hello_length)) == Status::done)
                    buffered_.append(beyond);
                return status_;
            }
        }
    }
    // A partial record header can already tell garbage apart.
    if (buffered_.size() > record_offset_) {
        auto first = static_cast<uint8_t>(buffered_[record_offset_]);
        if (first != kHandshakeRecord) return fail("not a TLS handshake record");
        if (buffered_.size() - record_offset_ >= 2 && buffered_[record_offset_ + 1] != 3)
            return fail("not a TLS record version");
    }
    if (truncated) return fail("ClientHello too large");
    return status_;
}

ClientHelloParser::Status ClientHelloParser::parse_hello(std::string_view body) {
    Reader reader(body);
    uint16_t legacy_version;
    std::string_view random, session_id, cipher_suites, compression;
    if (!reader.u16(legacy_version) || (legacy_version >> 8) != 3) return fail("bad ClientHello version");
    if (!reader.bytes(32, random)) return fail("truncated ClientHello");
    if (!reader.vector8(session_id) || session_id.size() > 32) return fail("bad session id");
    if (!reader.vector16(cipher_suites) || cipher_suites.size() < 2 || cipher_suites.size() % 2)
        return fail("bad cipher suites");
    if (!reader.vector8(compression) || compression.empty()) return fail("bad compression methods");
    if (reader.empty()) {  // no extensions at all (old clients): no SNI
        status_ = Status::done;
        return status_;
    }
    std::string_view extensions;
    if (!reader.vector16(extensions) || !reader.empty()) return fail("bad extensions block");
    Reader ext(extensions);
    bool seen_server_name = false;
    while (!ext.empty()) {
        uint16_t type;
        std::string_view data;
        if (!ext.u16(type) || !ext.vector16(data)) return fail("truncated extension");
        if (type == kServerNameExtension) {
            if (seen_server_name) return fail("duplicate server_name extension");
            seen_server_name = true;
            if (!parse_server_name(data)) return fail("bad server_name extension");
        } else if (type == kAlpnExtension) {
            if (!parse_alpn(data)) return fail("bad ALPN extension");
        }
    }
    status_ = Status::done;
    return status_;
}

bool ClientHelloParser::parse_server_name(std::string_view data) {
    Reader reader(data);
    std::string_view list;
    if (!reader.vector16(list) || !reader.empty() || list.empty()) return false;
    Reader names(list);
    while (!names.empty()) {
        uint8_t name_type;
        std::string_view name;
        if (!names.u8(name_type) || !names.vector16(name)) return false;
        if (name_type != 0 || !server_name_.empty()) continue;  // host_name is the only type defined
        if (!valid_host_name(name)) return false;
        if (name.back() == '.') name.remove_suffix(1);
        server_name_.reserve(name.size());
        for (char c : name) server_name_.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    }
    return true;
}

bool ClientHelloParser::parse_alpn(std::string_view data) {
    Reader reader(data);
    std::string_view list;
    if (!reader.vector16(list) || !reader.empty() || list.empty()) return false;
    Reader protocols(list);
    while (!protocols.empty()) {
        std::string_view protocol;
        if (!protocols.vector8(protocol) || protocol.empty()) return false;
        alpn_.emplace_back(protocol);
    }
    return true;
}

}  // namespace lb::tls
