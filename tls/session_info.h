// What a client's TLS connection negotiated, for the access log: protocol
// version, cipher and the SNI name it asked for. Read once per connection.
#pragma once

#include <string>

struct ssl_st;

namespace lb {
class Stream;
}

namespace lb::tls {

struct TlsSessionInfo {
    std::string version;      // "TLSv1.3"
    std::string cipher;       // "TLS_AES_256_GCM_SHA384"
    std::string server_name;  // empty when the client sent no SNI
};

// Of a connection whose handshake is done.
TlsSessionInfo describe_session(const ssl_st* ssl);
// Of a client connection: empty unless `stream` is a TlsStream.
TlsSessionInfo describe_session(const Stream& stream);

}  // namespace lb::tls
