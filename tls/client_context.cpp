#include "tls/client_context.h"

#include <openssl/x509v3.h>

namespace lb::tls {

namespace {
constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
}

Result<std::shared_ptr<const ClientContext>> ClientContext::create(const conf::UpstreamTls& tls,
                                                                   const conf::SourcePos& pos) {
    auto context = std::make_shared<ClientContext>();
    context->verify_ = tls.verify;
    context->server_name_ = tls.server_name;
    context->ctx_.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX* ctx = context->ctx_.get();
    if (!ctx) return Error{pos.format("SSL_CTX_new: " + openssl_error())};
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_alpn_protos(ctx, kAlpnHttp11, sizeof(kAlpnHttp11));
    if (context->verify_) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        if (!tls.ca_file.empty()) {
            if (SSL_CTX_load_verify_locations(ctx, tls.ca_file.c_str(), nullptr) != 1)
                return Error{pos.format("tls.ca_file " + tls.ca_file + ": no usable CA certificates (" +
                                              openssl_error() + ")")};
        } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            return Error{pos.format("cannot load the system CA store: " + openssl_error())};
        }
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    }
    clear_openssl_errors();
    return std::shared_ptr<const ClientContext>(std::move(context));
}

SslPtr ClientContext::new_ssl(const SocketAddress& target) const {
    SslPtr ssl(SSL_new(ctx_.get()));
    if (!ssl) return ssl;
    SSL_set_connect_state(ssl.get());
    if (!server_name_.empty()) SSL_set_tlsext_host_name(ssl.get(), server_name_.c_str());
    if (verify_) {
        bool named = server_name_.empty()
                         ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), target.ip_string().c_str()) == 1
                         : SSL_set1_host(ssl.get(), server_name_.c_str()) == 1;
        if (!named) return nullptr;  // refuse rather than connect unverified
    }
    return ssl;
}

}  // namespace lb::tls
