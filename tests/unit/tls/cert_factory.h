// Test certificates made with the OpenSSL API into a temporary directory:
// self-signed leaves with chosen CN/SANs and key type, plus broken variants
// (mismatched key, encrypted key, not PEM) for the error paths.
#pragma once

#include <string>
#include <vector>

#include "conf/config.h"

namespace lb::tls::test {

enum class KeyKind { rsa, ecdsa };

class CertFactory {
public:
    CertFactory();
    ~CertFactory();
    CertFactory(const CertFactory&) = delete;
    CertFactory& operator=(const CertFactory&) = delete;

    // Writes <dir>/<name>.pem and <dir>/<name>.key. Empty `sans` = no SAN extension.
    conf::Certificate make(const std::string& name, KeyKind kind, const std::string& cn,
                           const std::vector<std::string>& sans, int valid_days = 30);
    // The key of `other` paired with the certificate of `name`.
    conf::Certificate mismatched(const std::string& name, const std::string& other);
    // `name`'s key re-written encrypted with a passphrase.
    conf::Certificate encrypted_key(const std::string& name);
    std::string write_file(const std::string& file, const std::string& text);
    const std::string& dir() const { return dir_; }

private:
    std::string dir_;
};

}  // namespace lb::tls::test
