// TLS policies: named presets of protocol versions and cipher suites for
// https listeners, so operators pick a posture instead of cipher strings.
//
//   recommended  TLS 1.2 + 1.3; 1.2 limited to ECDHE with AEAD ciphers
//   modern       TLS 1.3 only
//   compat       recommended plus the TLS 1.2 ECDHE CBC suites old clients need
#pragma once

#include <openssl/ssl.h>

#include <optional>
#include <string_view>

#include "lb/base/result.h"

namespace lb::tls {

enum class Policy { recommended, modern, compat };

struct PolicySettings {
    int min_version;          // TLS1_2_VERSION ...
    int max_version;
    const char* cipher_list;  // TLS 1.2 and below (OpenSSL cipher string)
    const char* ciphersuites; // TLS 1.3
    int security_level;
};

std::optional<Policy> parse_policy(std::string_view name);
const char* to_string(Policy policy);
const PolicySettings& settings_of(Policy policy);

// Versions, ciphers and security level on a server or client context.
Status apply_policy(SSL_CTX* ctx, Policy policy);

}  // namespace lb::tls
