// ClientContext: how lb talks TLS to the targets of an https target group —
// certificate verification (on unless `verify: false`; against tls.ca_file
// or the system store), the name verified and sent as SNI, ALPN http/1.1.
//
// Threading: built on the main thread by RuntimeBuilder, immutable, shared
// by every worker through the Runtime; each upstream TLS connection holds a
// shared_ptr to it.
#pragma once

#include <memory>
#include <string>

#include "conf/config.h"
#include "lb/base/net_address.h"
#include "lb/base/result.h"
#include "tls/openssl_error.h"

namespace lb::tls {

class ClientContext {
public:
    static Result<std::shared_ptr<const ClientContext>> create(const conf::TargetGroup& group) {
        return create(group.tls, group.pos);
    }
    static Result<std::shared_ptr<const ClientContext>> create(const conf::UpstreamTls& tls,
                                                               const conf::SourcePos& pos);

    // A client-mode SSL for a connection to `target`. SNI is tls.server_name;
    // without one, no SNI is sent (RFC 6066 forbids IP literals there) and
    // the certificate must carry the target's IP address instead.
    SslPtr new_ssl(const SocketAddress& target) const;
    bool verify() const { return verify_; }

private:
    SslCtxPtr ctx_;
    std::string server_name_;
    bool verify_ = true;
};

}  // namespace lb::tls
