// ClientHelloParser: reads the first TLS ClientHello of a connection without
// terminating TLS (tls_passthrough listeners route on its SNI).
//
// Incremental: feed() whatever the socket delivered; the hello may be split
// across TCP segments and across several TLS records. Every byte fed is kept
// in buffered() so it can be replayed to the target unchanged. Bounded: a
// hello larger than kMaxHelloBytes, or more than kMaxBufferedBytes before it
// completes, is invalid, as is anything that is not a TLS handshake record
// carrying a ClientHello (RFC 8446 sections 4.1.2 and 5.1; RFC 6066 section 3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lb::tls {

class ClientHelloParser {
public:
    enum class Status { need_more, done, invalid };
    static constexpr size_t kMaxHelloBytes = 16384;
    static constexpr size_t kMaxBufferedBytes = 32768;

    Status feed(std::string_view data);
    Status status() const { return status_; }

    // After done: the SNI host name, lower case without a trailing dot (empty = none sent).
    const std::string& server_name() const { return server_name_; }
    const std::vector<std::string>& alpn() const { return alpn_; }
    // Every byte fed so far (the hello and anything after it).
    const std::string& buffered() const { return buffered_; }
    // Why the input was invalid.
    const char* error() const { return error_; }

private:
    Status fail(const char* why);
    Status parse_hello(std::string_view body);
    bool parse_server_name(std::string_view data);
    bool parse_alpn(std::string_view data);

    std::string buffered_;
    size_t record_offset_ = 0;  // start of the first record not yet taken apart
    std::string handshake_;     // handshake bytes from the records so far
    Status status_ = Status::need_more;
    const char* error_ = "";
    std::string server_name_;
    std::vector<std::string> alpn_;
};

}  // namespace lb::tls
