#include "tls/server_context.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/unit/tls/cert_factory.h"

namespace lb::tls {
namespace {

using test::CertFactory;
using test::KeyKind;

conf::ListenerTls tls_of(std::vector<conf::Certificate> certificates, std::string policy = "recommended") {
    conf::ListenerTls tls;
    tls.certificates = std::move(certificates);
    tls.policy = std::move(policy);
    return tls;
}

std::shared_ptr<const ServerContext> build(const conf::ListenerTls& tls) {
    auto context = ServerContext::create(tls, std::make_shared<TicketKeys>());
    EXPECT_TRUE(context) << (context ? "" : context.error());
    return context ? *context : nullptr;
}

// "CN = x" subjects of the context SNI `name` selects.
std::vector<std::string> picked(const ServerContext& context, std::string_view name) {
    return context.subjects(context.context_for(name));
}

class ServerContextTest : public ::testing::Test {
protected:
    CertFactory certs;
};

TEST_F(ServerContextTest, ExactThenWildcardThenDefault) {
    auto context = build(tls_of({
        certs.make("default", KeyKind::ecdsa, "default.test", {"DNS:default.test"}),
        certs.make("wild", KeyKind::ecdsa, "wild", {"DNS:*.example.com"}),
        certs.make("exact", KeyKind::ecdsa, "exact", {"DNS:api.example.com", "DNS:api2.example.com"}),
    }));
    ASSERT_TRUE(context);
    EXPECT_EQ(picked(*context, "api.example.com"), std::vector<std::string>{"CN = exact"});
    EXPECT_EQ(picked(*context, "API2.example.com"), std::vector<std::string>{"CN = exact"});
    EXPECT_EQ(picked(*context, "www.example.com"), std::vector<std::string>{"CN = wild"});
    EXPECT_EQ(picked(*context, "a.b.example.com"), std::vector<std::string>{"CN = default.test"});
    EXPECT_EQ(picked(*context, "unknown.test"), std::vector<std::string>{"CN = default.test"});
    EXPECT_EQ(picked(*context, ""), std::vector<std::string>{"CN = default.test"});
}

TEST_F(ServerContextTest, CommonNameCountsOnlyWithoutSan) {
    auto context = build(tls_of({
        certs.make("first", KeyKind::ecdsa, "first.test", {"DNS:first.test"}),
        certs.make("cn-only", KeyKind::ecdsa, "cn.example.com", {}),
        certs.make("san", KeyKind::ecdsa, "ignored-cn.example.com", {"DNS:san.example.com"}),
    }));
    ASSERT_TRUE(context);
    EXPECT_EQ(picked(*context, "cn.example.com"), std::vector<std::string>{"CN = cn.example.com"});
    EXPECT_EQ(picked(*context, "san.example.com"), std::vector<std::string>{"CN = ignored-cn.example.com"});
    EXPECT_EQ(picked(*context, "ignored-cn.example.com"), std::vector<std::string>{"CN = first.test"});
}

TEST_F(ServerContextTest, RsaAndEcdsaForOneNameShareAContext) {
    auto context = build(tls_of({
        certs.make("rsa", KeyKind::rsa, "rsa", {"DNS:both.example.com"}),
        certs.make("ec", KeyKind::ecdsa, "ec", {"DNS:both.example.com", "DNS:ec-only.example.com"}),
        certs.make("rsa2", KeyKind::rsa, "rsa-late", {"DNS:both.example.com"}),  // RSA slot already taken
    }));
    ASSERT_TRUE(context);
    EXPECT_EQ(picked(*context, "both.example.com"), (std::vector<std::string>{"CN = rsa", "CN = ec"}));
    EXPECT_EQ(picked(*context, "ec-only.example.com"), std::vector<std::string>{"CN = ec"});
    // The default is the first certificate with its same-name sibling.
    EXPECT_EQ(picked(*context, "nothing.test"), (std::vector<std::string>{"CN = rsa", "CN = ec"}));
}

TEST_F(ServerContextTest, MismatchedKeyNamesFileAndPosition) {
    certs.make("a", KeyKind::ecdsa, "a", {"DNS:a.test"});
    certs.make("b", KeyKind::ecdsa, "b", {"DNS:b.test"});
    auto bad = certs.mismatched("a", "b");
    auto context = ServerContext::create(tls_of({bad}), nullptr);
    ASSERT_FALSE(context);
    EXPECT_EQ(context.error(), "lb.yaml:9:11: listeners[0].tls.certificates[1]: " + bad.key +
                                   ": private key does not match certificate " + bad.cert);
}

TEST_F(ServerContextTest, UnreadableAndBrokenFiles) {
    auto good = certs.make("good", KeyKind::ecdsa, "good", {"DNS:good.test"});
    conf::Certificate missing = good;
    missing.cert = certs.dir() + "/missing.pem";
    auto result = ServerContext::create(tls_of({missing}), nullptr);
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().find("lb.yaml:7:11: listeners[0].tls.certificates[0]: " + missing.cert + ": cannot open"),
              std::string::npos)
        << result.error();

    conf::Certificate not_pem = good;
    not_pem.cert = certs.write_file("junk.pem", "this is not a certificate\n");
    result = ServerContext::create(tls_of({not_pem}), nullptr);
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().find(not_pem.cert + ": no PEM certificate found"), std::string::npos) << result.error();

    conf::Certificate key_is_cert = good;
    key_is_cert.key = good.cert;
    result = ServerContext::create(tls_of({key_is_cert}), nullptr);
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().find(good.cert + ": no usable PEM private key"), std::string::npos) << result.error();
}

TEST_F(ServerContextTest, EncryptedKeyIsRefused) {
    certs.make("enc", KeyKind::ecdsa, "enc", {"DNS:enc.test"});
    auto encrypted = certs.encrypted_key("enc");
    auto result = ServerContext::create(tls_of({encrypted}), nullptr);
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().find(encrypted.key + ": no usable PEM private key (unencrypted PEM expected"),
              std::string::npos)
        << result.error();
}

TEST_F(ServerContextTest, ChainIsLoadedBehindTheLeaf) {
    auto leaf = certs.make("leaf", KeyKind::ecdsa, "leaf", {"DNS:leaf.test"});
    auto other = certs.make("inter", KeyKind::rsa, "intermediate", {"DNS:x.test"});
    // Leaf followed by a second certificate in one file, as a chain is shipped.
    std::string chain_file = certs.dir() + "/chain.pem";
    {
        std::ifstream a(leaf.cert), b(other.cert);
        std::ofstream out(chain_file);
        out << a.rdbuf() << b.rdbuf();
    }
    leaf.cert = chain_file;
    auto context = build(tls_of({leaf}));
    ASSERT_TRUE(context);
    STACK_OF(X509)* chain = nullptr;
    SSL_CTX* ctx = context->context_for("leaf.test");
    ASSERT_EQ(SSL_CTX_get0_chain_certs(ctx, &chain), 1);
    EXPECT_EQ(sk_X509_num(chain), 1);
}

TEST_F(ServerContextTest, PolicyIsApplied) {
    auto context = build(tls_of({certs.make("m", KeyKind::ecdsa, "m", {"DNS:m.test"})}, "modern"));
    ASSERT_TRUE(context);
    EXPECT_EQ(SSL_CTX_get_min_proto_version(context->context_for("m.test")), TLS1_3_VERSION);
    EXPECT_EQ(context->policy(), Policy::modern);
}

}  // namespace
}  // namespace lb::tls
