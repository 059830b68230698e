#include "lb/base/net_address.h"

#include <gtest/gtest.h>

namespace lb {
namespace {

TEST(SocketAddress, ParsesV4V6AndWildcard) {
    auto v4 = SocketAddress::parse("10.1.2.3:8080");
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->to_string(), "10.1.2.3:8080");
    auto v6 = SocketAddress::parse("[2001:db8::1]:443");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->to_string(), "[2001:db8::1]:443");
    EXPECT_EQ(SocketAddress::parse("*:80")->to_string(), "0.0.0.0:80");
    EXPECT_FALSE(SocketAddress::parse("10.1.2.3"));
    EXPECT_FALSE(SocketAddress::parse("10.1.2.3:70000"));
    EXPECT_FALSE(SocketAddress::parse("2001:db8::1:80"));
    EXPECT_FALSE(SocketAddress::parse("host.example:80"));
}

TEST(SocketAddress, IpStringFormatsEveryOctetWidthAndMappedV4) {
    // Every width of octet, both ends of the range: the dotted quad is
    // formatted by hand, not by inet_ntop.
    for (const char* ip : {"0.0.0.0", "255.255.255.255", "1.22.133.4", "10.100.9.200", "127.0.0.1"}) {
        auto address = SocketAddress::from_ip(ip, 80);
        ASSERT_TRUE(address) << ip;
        EXPECT_EQ(address->ip_string(), ip);
    }
    EXPECT_EQ(SocketAddress::from_ip("::ffff:192.0.2.70", 1)->ip_string(), "192.0.2.70");
    EXPECT_EQ(SocketAddress::from_ip("2001:db8::a", 1)->ip_string(), "2001:db8::a");
}

TEST(Cidr, MatchesV4V6AndMappedPeers) {
    auto net = Cidr::parse("10.0.0.0/8");
    ASSERT_TRUE(net);
    EXPECT_TRUE(net->contains(*SocketAddress::parse("10.200.1.1:1")));
    EXPECT_FALSE(net->contains(*SocketAddress::parse("11.0.0.1:1")));
    EXPECT_TRUE(net->contains(*SocketAddress::parse("[::ffff:10.2.3.4]:1")));
    auto v6 = Cidr::parse("2001:db8::/32");
    ASSERT_TRUE(v6);
    EXPECT_TRUE(v6->contains(*SocketAddress::parse("[2001:db8:ffff::1]:1")));
    EXPECT_FALSE(v6->contains(*SocketAddress::parse("[2001:db9::1]:1")));
    EXPECT_FALSE(v6->contains(*SocketAddress::parse("10.0.0.1:1")));
    EXPECT_TRUE(Cidr::parse("192.168.1.7")->contains(*SocketAddress::parse("192.168.1.7:9")));
    EXPECT_FALSE(Cidr::parse("192.168.1.7")->contains(*SocketAddress::parse("192.168.1.8:9")));
    EXPECT_TRUE(Cidr::parse("0.0.0.0/0")->contains(*SocketAddress::parse("8.8.8.8:53")));
    EXPECT_FALSE(Cidr::parse("10.0.0.0/33"));
    EXPECT_FALSE(Cidr::parse("10.0.0/8"));
    EXPECT_FALSE(Cidr::parse("2001:db8::/129"));
}

}  // namespace
}  // namespace lb
