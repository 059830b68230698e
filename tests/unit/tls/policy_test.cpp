#include "tls/policy.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <string>

#include "tls/openssl_error.h"

namespace lb::tls {
namespace {

struct Ciphers {
    int aead = 0, cbc = 0, non_ecdhe_tls12 = 0, tls13 = 0;
    std::string names;
};

Ciphers ciphers_of(SSL_CTX* ctx) {
    Ciphers out;
    STACK_OF(SSL_CIPHER)* list = SSL_CTX_get_ciphers(ctx);
    for (int i = 0; i < sk_SSL_CIPHER_num(list); ++i) {
        const SSL_CIPHER* cipher = sk_SSL_CIPHER_value(list, i);
        out.names += std::string(SSL_CIPHER_get_name(cipher)) + " ";
        if (SSL_CIPHER_get_kx_nid(cipher) == NID_kx_any) {  // TLS 1.3 suites leave key exchange to the groups
            ++out.tls13;
            continue;
        }
        if (SSL_CIPHER_is_aead(cipher)) ++out.aead;
        else ++out.cbc;
        if (SSL_CIPHER_get_kx_nid(cipher) != NID_kx_ecdhe) ++out.non_ecdhe_tls12;
    }
    return out;
}

SslCtxPtr context_with(Policy policy) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    auto applied = apply_policy(ctx.get(), policy);
    EXPECT_TRUE(applied) << (applied ? "" : applied.error());
    return ctx;
}

TEST(Policy, NamesRoundTrip) {
    for (Policy p : {Policy::recommended, Policy::modern, Policy::compat}) EXPECT_EQ(parse_policy(to_string(p)), p);
    EXPECT_EQ(parse_policy("legacy"), std::nullopt);
    EXPECT_EQ(parse_policy(""), std::nullopt);
}

TEST(Policy, RecommendedIsTls12And13WithForwardSecretAeadOnly) {
    auto ctx = context_with(Policy::recommended);
    EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx.get()), TLS1_2_VERSION);
    EXPECT_EQ(SSL_CTX_get_max_proto_version(ctx.get()), TLS1_3_VERSION);
    Ciphers c = ciphers_of(ctx.get());
    EXPECT_GT(c.aead, 0) << c.names;
    EXPECT_EQ(c.cbc, 0) << c.names;
    EXPECT_EQ(c.non_ecdhe_tls12, 0) << c.names;
    EXPECT_EQ(c.tls13, 3) << c.names;
}

TEST(Policy, ModernIsTls13Only) {
    auto ctx = context_with(Policy::modern);
    EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx.get()), TLS1_3_VERSION);
    EXPECT_EQ(SSL_CTX_get_max_proto_version(ctx.get()), TLS1_3_VERSION);
}

TEST(Policy, CompatAddsCbcSuitesButStaysForwardSecret) {
    auto ctx = context_with(Policy::compat);
    EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx.get()), TLS1_2_VERSION);
    Ciphers c = ciphers_of(ctx.get());
    EXPECT_GT(c.cbc, 0) << c.names;
    EXPECT_GT(c.aead, 0) << c.names;
    EXPECT_EQ(c.non_ecdhe_tls12, 0) << c.names;
    EXPECT_NE(c.names.find("ECDHE-RSA-AES128-SHA "), std::string::npos) << c.names;
}

TEST(Policy, EveryPresetKeepsTls13Suites) {
    for (Policy p : {Policy::recommended, Policy::modern, Policy::compat}) {
        auto ctx = context_with(p);
        EXPECT_EQ(ciphers_of(ctx.get()).tls13, 3) << to_string(p);
    }
}

}  // namespace
}  // namespace lb::tls
