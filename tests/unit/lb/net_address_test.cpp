#include "lb/base/net_address.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lb/base/unique_fd.h"

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
    // Nothing left over in the IPv6 fields no parser sets.
    auto* six = reinterpret_cast<const sockaddr_in6*>(v6->sa());
    EXPECT_EQ(six->sin6_scope_id, 0u);
    EXPECT_EQ(six->sin6_flowinfo, 0u);
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

// Addresses read from sockets: IPv4 and IPv6 whole (the storage is sized
// for sockaddr_in6, not sockaddr_storage), another family reduced to its
// family, a failed call invalid.
TEST(SocketAddress, ReadsLocalAndPeerAddressesOfSockets) {
    for (const char* bind_to : {"127.0.0.1:0", "[::1]:0"}) {
        auto address = SocketAddress::parse(bind_to);
        ASSERT_TRUE(address);
        UniqueFd listener(socket(address->family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
        ASSERT_TRUE(listener);
        if (bind(listener.get(), address->sa(), address->len()) != 0) {
            EXPECT_EQ(address->family(), AF_INET6) << "IPv4 loopback must bind";
            continue;  // no IPv6 on this machine
        }
        ASSERT_EQ(listen(listener.get(), 1), 0);
        SocketAddress local = SocketAddress::local_of(listener.get());
        ASSERT_TRUE(local.valid());
        EXPECT_NE(local.port(), 0);
        EXPECT_EQ(local.ip_string(), address->ip_string());
        UniqueFd client(socket(address->family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
        ASSERT_EQ(connect(client.get(), local.sa(), local.len()), 0);
        SocketAddress peer = SocketAddress::peer_of(client.get());
        EXPECT_EQ(peer, local);
        EXPECT_EQ(peer.len(), address->len());
        EXPECT_EQ(SocketAddress::local_of(client.get()).ip_string(), address->ip_string());
    }
    int pair[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    SocketAddress unix_peer = SocketAddress::peer_of(pair[0]);
    EXPECT_EQ(unix_peer.family(), AF_UNIX);
    EXPECT_EQ(unix_peer.ip_string(), "unix");
    close(pair[0]);
    close(pair[1]);
    EXPECT_FALSE(SocketAddress::peer_of(-1).valid());
    UniqueFd unconnected(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_FALSE(SocketAddress::peer_of(unconnected.get()).valid());
}

}  // namespace
}  // namespace lb
