// Which address is the client behind trusted proxies (X-Forwarded-For,
// right to left, like nginx realip with real_ip_recursive on).
#include "listeners/trusted_proxies.h"

#include <gtest/gtest.h>

#include <vector>

namespace lb {
namespace {

SocketAddress peer(const char* ip) { return *SocketAddress::from_ip(ip, 40000); }

std::vector<Cidr> cidrs(std::initializer_list<const char*> texts) {
    std::vector<Cidr> out;
    for (const char* text : texts) out.push_back(*Cidr::parse(text));
    return out;
}

HttpHead with_xff(std::initializer_list<const char*> values) {
    HttpHead head;
    head.headers.emplace_back("Host", "x");
    for (const char* value : values) head.headers.emplace_back("X-Forwarded-For", value);
    return head;
}

std::string client(const char* from, std::initializer_list<const char*> xff,
                   std::initializer_list<const char*> trusted = {"10.0.0.0/8", "2001:db8::/32"}) {
    auto trusted_cidrs = cidrs(trusted);
    return client_behind_proxies(peer(from), with_xff(xff), trusted_cidrs).to_string();
}

TEST(TrustedProxies, UntrustedPeerIsTheClientWhateverItClaims) {
    EXPECT_EQ(client("192.0.2.1", {"203.0.113.9"}), "192.0.2.1:40000");
}

TEST(TrustedProxies, RightmostUntrustedAddressIsTheClient) {
    EXPECT_EQ(client("10.0.0.1", {"203.0.113.9"}), "203.0.113.9:0");
    // A client-supplied first entry is not believed: 198.51.100.7 is the
    // last address a trusted proxy vouched for.
    EXPECT_EQ(client("10.0.0.1", {"1.1.1.1, 198.51.100.7, 10.2.3.4"}), "198.51.100.7:0");
    EXPECT_EQ(client("10.0.0.1", {"1.1.1.1", "198.51.100.7 ,10.2.3.4"}), "198.51.100.7:0");
}

TEST(TrustedProxies, AllTrustedMeansTheLeftmost) {
    EXPECT_EQ(client("10.0.0.1", {"10.9.9.9, 10.2.3.4"}), "10.9.9.9:0");
}

TEST(TrustedProxies, NoHeaderMeansThePeer) {
    EXPECT_EQ(client("10.0.0.1", {}), "10.0.0.1:40000");
}

TEST(TrustedProxies, JunkEndsTheWalkAtTheLastGoodAddress) {
    EXPECT_EQ(client("10.0.0.1", {"203.0.113.9, unknown"}), "10.0.0.1:40000");
    EXPECT_EQ(client("10.0.0.1", {"203.0.113.9, nonsense, 10.2.3.4"}), "10.2.3.4:0");
    EXPECT_EQ(client("10.0.0.1", {"203.0.113.9:1234"}), "10.0.0.1:40000");
}

TEST(TrustedProxies, Ipv6Entries) {
    EXPECT_EQ(client("2001:db8::1", {"2001:db8::5, 2a00:1450::1, 2001:db8::2"}), "[2a00:1450::1]:0");
}

}  // namespace
}  // namespace lb
