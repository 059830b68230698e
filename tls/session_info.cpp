#include "tls/session_info.h"

#include <openssl/ssl.h>

#include "tls/tls_stream.h"

namespace lb::tls {

TlsSessionInfo describe_session(const SSL* ssl) {
    TlsSessionInfo info;
    if (!ssl) return info;
    if (const char* version = SSL_get_version(ssl)) info.version = version;
    if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl))
        if (const char* name = SSL_CIPHER_get_name(cipher)) info.cipher = name;
    if (const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) info.server_name = name;
    return info;
}

TlsSessionInfo describe_session(const Stream& stream) {
    const auto* tls = dynamic_cast<const TlsStream*>(&stream);
    return tls ? describe_session(tls->ssl()) : TlsSessionInfo{};
}

}  // namespace lb::tls
