// A listener certificate loaded from PEM files: the leaf, its chain, the
// private key (checked to match) and the DNS names it answers for (SAN DNS
// names; the subject CN only when there are none).
#pragma once

#include <string>
#include <vector>

#include "conf/config.h"
#include "lb/base/result.h"
#include "tls/openssl_error.h"

namespace lb::tls {

struct LoadedCertificate {
    X509Ptr leaf;
    std::vector<X509Ptr> chain;   // intermediates, in file order
    EvpPkeyPtr key;
    int key_type = 0;             // EVP_PKEY_RSA, EVP_PKEY_EC, ...
    std::vector<std::string> names;
    std::string subject;          // one line, for logs
    bool expired = false;
};

// Errors name the file and the config position:
// "lb.yaml:9:11: listeners[0].tls.certificates[0]: /etc/lb/a.key: private key does not match certificate /etc/lb/a.pem"
Result<LoadedCertificate> load_certificate(const conf::Certificate& config);

const char* key_type_name(int key_type);

}  // namespace lb::tls
