#include "tls/policy.h"

#include "tls/openssl_error.h"

namespace lb::tls {

namespace {

// Forward secrecy (ECDHE) and AEAD only; ECDSA first since it is the cheaper handshake.
constexpr const char* kAeadCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

constexpr const char* kCompatCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:"
    "ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:"
    "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:"
    "ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA";

constexpr const char* kTls13Suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

const PolicySettings kRecommended{TLS1_2_VERSION, TLS1_3_VERSION, kAeadCiphers, kTls13Suites, 2};
const PolicySettings kModern{TLS1_3_VERSION, TLS1_3_VERSION, kAeadCiphers, kTls13Suites, 2};
// SHA-1 MAC CBC suites are still allowed at level 1 for TLS 1.2.
const PolicySettings kCompat{TLS1_2_VERSION, TLS1_3_VERSION, kCompatCiphers, kTls13Suites, 1};

}  // namespace

std::optional<Policy> parse_policy(std::string_view name) {
    if (name == "recommended") return Policy::recommended;
    if (name == "modern") return Policy::modern;
    if (name == "compat") return Policy::compat;
    return std::nullopt;
}

const char* to_string(Policy policy) {
    switch (policy) {
        case Policy::recommended: return "recommended";
        case Policy::modern: return "modern";
        case Policy::compat: return "compat";
    }
    return "?";
}

const PolicySettings& settings_of(Policy policy) {
    switch (policy) {
        case Policy::modern: return kModern;
        case Policy::compat: return kCompat;
        case Policy::recommended: break;
    }
    return kRecommended;
}

Status apply_policy(SSL_CTX* ctx, Policy policy) {
    const PolicySettings& settings = settings_of(policy);
    // The level first: it filters what the cipher lists may enable.
    SSL_CTX_set_security_level(ctx, settings.security_level);
    if (!SSL_CTX_set_min_proto_version(ctx, settings.min_version) ||
        !SSL_CTX_set_max_proto_version(ctx, settings.max_version))
        return Error{"cannot set protocol versions: " + openssl_error()};
    if (!SSL_CTX_set_cipher_list(ctx, settings.cipher_list))
        return Error{"cannot set TLS 1.2 ciphers: " + openssl_error()};
    if (!SSL_CTX_set_ciphersuites(ctx, settings.ciphersuites))
        return Error{"cannot set TLS 1.3 cipher suites: " + openssl_error()};
    return Ok{};
}

}  // namespace lb::tls
