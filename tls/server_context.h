// ServerContext: everything an https listener needs to terminate TLS — its
// certificates indexed by name for SNI, the policy, ALPN, and the shared
// session-ticket keys.
//
// One SSL_CTX per distinct set of certificates a name can get: a name with
// both an RSA and an ECDSA certificate gets a context holding both, and
// OpenSSL picks between them from the client's signature algorithms and
// cipher list. A connection starts on the default context (the first
// certificate's) and the servername callback moves it to the context its SNI
// selects (SniTable: exact, then wildcard, else default).
//
// Threading: built on the main thread by RuntimeBuilder (start-up, lb -t,
// every reload), immutable afterwards, shared by all workers through the
// Runtime. Each TLS connection holds a shared_ptr to it, so a reload that
// drops the listener's old context never pulls it from under a handshake.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "conf/config.h"
#include "lb/base/result.h"
#include "tls/openssl_error.h"
#include "tls/policy.h"
#include "tls/sni_table.h"
#include "tls/ticket_keys.h"

namespace lb::tls {

class ServerContext {
public:
    // `offer_h2`: ALPN offers h2 before http/1.1 (the listener's http2).
    static Result<std::shared_ptr<const ServerContext>> create(const conf::ListenerTls& config,
                                                               std::shared_ptr<TicketKeys> ticket_keys,
                                                               bool offer_h2 = false);

    // A server-mode SSL for one accepted connection; null on allocation failure.
    SslPtr new_ssl() const;
    int64_t handshake_timeout_ms() const { return handshake_timeout_ms_; }
    Policy policy() const { return policy_; }

    // The context SNI `server_name` selects (empty name = no SNI).
    SSL_CTX* context_for(std::string_view server_name) const;
    // Subjects of the certificates in a context, for tests and logs.
    std::vector<std::string> subjects(const SSL_CTX* ctx) const;

private:
    struct Slot {
        SslCtxPtr ctx;
        std::vector<std::string> subjects;
    };

    static int on_servername(SSL* ssl, int* alert, void* arg);

    std::vector<Slot> slots_;
    size_t default_slot_ = 0;
    SniTable sni_;
    Policy policy_ = Policy::recommended;
    int64_t handshake_timeout_ms_ = 10000;
    std::shared_ptr<TicketKeys> ticket_keys_;
};

}  // namespace lb::tls
