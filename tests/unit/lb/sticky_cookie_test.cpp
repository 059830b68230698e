#include "lb/targets/sticky_cookie.h"

#include <gtest/gtest.h>

namespace lb {
namespace {

TEST(Base64Url, RoundTripsEveryLength) {
    std::string data;
    for (int i = 0; i < 70; ++i) {
        auto encoded = base64url_encode(data);
        EXPECT_EQ(encoded.find_first_of("+/="), std::string::npos);
        auto decoded = base64url_decode(encoded);
        ASSERT_TRUE(decoded);
        EXPECT_EQ(*decoded, data);
        data.push_back(static_cast<char>(i * 37));
    }
    EXPECT_FALSE(base64url_decode("a"));
    EXPECT_FALSE(base64url_decode("ab+c"));
}

TEST(StickyCookieSigner, RoundTripWithinExpiry) {
    StickyCookieSigner signer("0123456789abcdef-secret");
    auto cookie = signer.encode("group-a", "10.0.0.1:80", 2000);
    EXPECT_EQ(signer.decode(cookie, "group-a", 1000), "10.0.0.1:80");
    EXPECT_EQ(signer.decode(cookie, "group-a", 2000), "10.0.0.1:80");
}

TEST(StickyCookieSigner, ExpiredIsRejected) {
    StickyCookieSigner signer("0123456789abcdef-secret");
    auto cookie = signer.encode("g", "t", 2000);
    EXPECT_FALSE(signer.decode(cookie, "g", 2001));
}

TEST(StickyCookieSigner, ForeignScopeIsRejected) {
    StickyCookieSigner signer("0123456789abcdef-secret");
    auto cookie = signer.encode("group-a", "t", 2000);
    EXPECT_FALSE(signer.decode(cookie, "group-b", 1000));
}

TEST(StickyCookieSigner, AnotherKeyIsRejectedAndTheSameKeyAccepted) {
    StickyCookieSigner ours("0123456789abcdef-secret");
    StickyCookieSigner theirs("another-secret-0123456789");
    StickyCookieSigner twin("0123456789abcdef-secret");
    auto cookie = ours.encode("g", "t", 2000);
    EXPECT_FALSE(theirs.decode(cookie, "g", 1000));
    EXPECT_EQ(twin.decode(cookie, "g", 1000), "t");
}

TEST(StickyCookieSigner, FlippingAnyByteIsRejected) {
    StickyCookieSigner signer("0123456789abcdef-secret");
    auto cookie = signer.encode("group", "10.1.2.3:8080", 5000);
    for (size_t i = 0; i < cookie.size(); ++i) {
        std::string tampered = cookie;
        tampered[i] = tampered[i] == 'A' ? 'B' : 'A';
        if (tampered == cookie) continue;
        EXPECT_FALSE(signer.decode(tampered, "group", 1000)) << "byte " << i;
    }
    EXPECT_FALSE(signer.decode(cookie.substr(0, cookie.size() - 1), "group", 1000));
    EXPECT_FALSE(signer.decode("garbage", "group", 1000));
    EXPECT_FALSE(signer.decode("", "group", 1000));
}

}  // namespace
}  // namespace lb
