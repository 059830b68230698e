// request_hash (lb/worker/request_hash.h): what a request is balanced by.
// The `hash` algorithm reads its hash_key (header, cookie, query parameter,
// client address cut to a prefix) and answers kNoClientHash when the
// request lacks it; every other algorithm gets the client address.
#include "lb/worker/request_hash.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "lb/base/hash.h"

namespace lb {
namespace {

conf::TargetGroup hash_group(conf::HashKey::Kind kind, std::string name = "", int v4 = 32, int v6 = 128) {
    conf::TargetGroup group;
    group.name = "g";
    group.algorithm = conf::Algorithm::hash;
    group.hash_key.kind = kind;
    group.hash_key.name = std::move(name);
    group.hash_key.ipv4_prefix = v4;
    group.hash_key.ipv6_prefix = v6;
    return group;
}

SocketAddress addr(const char* text) {
    auto parsed = SocketAddress::parse(text);
    EXPECT_TRUE(parsed) << text;
    return parsed ? *parsed : SocketAddress();
}

HttpHead request(std::vector<std::pair<std::string, std::string>> headers) {
    HttpHead head;
    head.method = "GET";
    head.url = "/";
    head.headers = std::move(headers);
    return head;
}

const SocketAddress kClient = addr("192.0.2.1:40000");
const SocketAddress kOtherClient = addr("198.51.100.9:50000");

// ---------------------------------------------------------------- header

TEST(RequestHash, HeaderKeyHashesTheValueWhoeverSendsIt) {
    const conf::TargetGroup group = hash_group(conf::HashKey::Kind::header, "x-user");
    HttpHead alice = request({{"Host", "h"}, {"X-User", "alice"}});
    HttpHead alice_again = request({{"x-user", "alice"}});
    HttpHead bob = request({{"X-User", "bob"}});
    const uint64_t a = request_hash(group, kClient, &alice, "");
    EXPECT_NE(a, kNoClientHash);
    EXPECT_EQ(request_hash(group, kOtherClient, &alice_again, "user=bob"), a);
    EXPECT_NE(request_hash(group, kClient, &bob, ""), a);
    EXPECT_NE(a, hash_client_address(kClient));
}

TEST(RequestHash, MissingOrEmptyHeaderHasNoHash) {
    const conf::TargetGroup group = hash_group(conf::HashKey::Kind::header, "x-user");
    HttpHead none = request({{"Host", "h"}, {"X-Userx", "a"}});
    HttpHead empty = request({{"X-User", ""}});
    EXPECT_EQ(request_hash(group, kClient, &none, "x-user=a"), kNoClientHash);
    EXPECT_EQ(request_hash(group, kClient, &empty, ""), kNoClientHash);
    // A connection without a request (tcp, udp): no head at all.
    EXPECT_EQ(request_hash(group, kClient, nullptr, ""), kNoClientHash);
}

// ---------------------------------------------------------------- cookie

TEST(RequestHash, CookieKeyFindsItsCookieAmongOthers) {
    const conf::TargetGroup group = hash_group(conf::HashKey::Kind::cookie, "sid");
    HttpHead only = request({{"Cookie", "sid=abc"}});
    HttpHead among = request({{"Cookie", "theme=dark; sid=abc; lang=en"}});
    HttpHead split = request({{"Cookie", "a=1"}, {"Cookie", "sid=abc"}});
    HttpHead other = request({{"Cookie", "sid=abd"}});
    const uint64_t h = request_hash(group, kClient, &only, "");
    EXPECT_NE(h, kNoClientHash);
    EXPECT_EQ(request_hash(group, kOtherClient, &among, ""), h);
    EXPECT_EQ(request_hash(group, kClient, &split, ""), h);
    EXPECT_NE(request_hash(group, kClient, &other, ""), h);
}

TEST(RequestHash, MissingOrEmptyCookieHasNoHash) {
    const conf::TargetGroup group = hash_group(conf::HashKey::Kind::cookie, "sid");
    HttpHead none = request({{"Cookie", "xsid=1; sidx=2"}});
    HttpHead empty = request({{"Cookie", "sid="}});
    HttpHead header_named_sid = request({{"sid", "abc"}});
    EXPECT_EQ(request_hash(group, kClient, &none, ""), kNoClientHash);
    EXPECT_EQ(request_hash(group, kClient, &empty, ""), kNoClientHash);
    EXPECT_EQ(request_hash(group, kClient, &header_named_sid, "sid=abc"), kNoClientHash);
}

// ---------------------------------------------------------------- query

TEST(RequestHash, QueryKeyFindsItsParameterAnywhere) {
    const conf::TargetGroup group = hash_group(conf::HashKey::Kind::query, "sid");
    HttpHead head = request({{"Host", "h"}});
    const uint64_t h = request_hash(group, kClient, &head, "sid=x");
    EXPECT_NE(h, kNoClientHash);
    EXPECT_EQ(request_hash(group, kOtherClient, &head, "a=1&sid=x"), h);
    EXPECT_EQ(request_hash(group, kClient, &head, "sid=x&b=2"), h);
    EXPECT_EQ(request_hash(group, kClient, &head, "a=1&sid=x&b=2"), h);
    EXPECT_EQ(request_hash(group, kClient, &head, "sid=x&sid=y"), h);  // the first one counts
    EXPECT_NE(request_hash(group, kClient, &head, "a=1&sid=y"), h);
    EXPECT_NE(request_hash(group, kClient, &head, "sid=x2"), h);
    // Works without a head too (the query is all it reads).
    EXPECT_EQ(request_hash(group, kClient, nullptr, "sid=x"), h);
}

TEST(RequestHash, MissingOrEmptyQueryParameterHasNoHash) {
    const conf::TargetGroup group = hash_group(conf::HashKey::Kind::query, "sid");
    HttpHead head = request({{"Sid", "x"}});
    for (const char* query : {"", "a=1", "asid=x", "sidx=x", "a=sid", "sid=", "sid", "a=1&sid=", "a=1&sid"})
        EXPECT_EQ(request_hash(group, kClient, &head, query), kNoClientHash) << query;
}

// ---------------------------------------------------------------- client_ip

TEST(RequestHash, ClientIpWholeAddressByDefault) {
    const conf::TargetGroup group = hash_group(conf::HashKey::Kind::client_ip);
    HttpHead head = request({});
    const uint64_t h = request_hash(group, addr("10.0.0.1:1000"), &head, "");
    EXPECT_NE(h, kNoClientHash);
    EXPECT_EQ(request_hash(group, addr("10.0.0.1:2000"), nullptr, ""), h);  // the port does not count
    EXPECT_NE(request_hash(group, addr("10.0.0.2:1000"), &head, ""), h);
}

TEST(RequestHash, ClientIpV4PrefixKeepsASubnetTogether) {
    const conf::TargetGroup group = hash_group(conf::HashKey::Kind::client_ip, "", 24);
    const uint64_t h = request_hash(group, addr("10.0.0.1:1000"), nullptr, "");
    EXPECT_NE(h, kNoClientHash);
    EXPECT_EQ(request_hash(group, addr("10.0.0.200:5"), nullptr, ""), h);
    EXPECT_EQ(request_hash(group, addr("10.0.0.255:5"), nullptr, ""), h);
    EXPECT_NE(request_hash(group, addr("10.0.1.1:1000"), nullptr, ""), h);
    EXPECT_NE(request_hash(group, addr("11.0.0.1:1000"), nullptr, ""), h);
    // An IPv6 client keeps all 128 bits unless told otherwise.
    EXPECT_NE(request_hash(group, addr("[2001:db8::1]:1"), nullptr, ""),
              request_hash(group, addr("[2001:db8::2]:1"), nullptr, ""));

    // Prefixes that are not a byte boundary: /20 joins 10.0.0.0-10.0.15.255.
    const conf::TargetGroup twenty = hash_group(conf::HashKey::Kind::client_ip, "", 20);
    const uint64_t t = request_hash(twenty, addr("10.0.0.1:1"), nullptr, "");
    EXPECT_EQ(request_hash(twenty, addr("10.0.15.254:1"), nullptr, ""), t);
    EXPECT_NE(request_hash(twenty, addr("10.0.16.1:1"), nullptr, ""), t);

    // /0: every IPv4 client is one.
    const conf::TargetGroup zero = hash_group(conf::HashKey::Kind::client_ip, "", 0);
    EXPECT_EQ(request_hash(zero, addr("1.2.3.4:1"), nullptr, ""), request_hash(zero, addr("200.1.1.1:9"), nullptr, ""));
    EXPECT_NE(request_hash(zero, addr("1.2.3.4:1"), nullptr, ""), kNoClientHash);
}

TEST(RequestHash, ClientIpV6PrefixKeepsANetworkTogether) {
    const conf::TargetGroup group = hash_group(conf::HashKey::Kind::client_ip, "", 24, 64);
    const uint64_t h = request_hash(group, addr("[2001:db8:1:2::1]:1"), nullptr, "");
    EXPECT_NE(h, kNoClientHash);
    EXPECT_EQ(request_hash(group, addr("[2001:db8:1:2:ffff:ffff:ffff:ffff]:2"), nullptr, ""), h);
    EXPECT_NE(request_hash(group, addr("[2001:db8:1:3::1]:1"), nullptr, ""), h);
    // The IPv4 prefix still applies to IPv4 clients.
    EXPECT_EQ(request_hash(group, addr("10.0.0.1:1"), nullptr, ""), request_hash(group, addr("10.0.0.99:1"), nullptr, ""));
}

TEST(RequestHash, ClientIpKeysIgnoreTheRequest) {
    const conf::TargetGroup group = hash_group(conf::HashKey::Kind::client_ip, "", 24);
    HttpHead a = request({{"X-User", "a"}, {"Cookie", "sid=1"}});
    HttpHead b = request({{"X-User", "b"}});
    EXPECT_EQ(request_hash(group, kClient, &a, "sid=1"), request_hash(group, kClient, &b, "sid=2"));
}

// ---------------------------------------------------------------- other algorithms

TEST(RequestHash, OtherAlgorithmsHashTheClientAddress) {
    for (conf::Algorithm algorithm : {conf::Algorithm::round_robin, conf::Algorithm::least_outstanding_requests,
                                      conf::Algorithm::least_connections, conf::Algorithm::weighted_random,
                                      conf::Algorithm::source_ip_hash}) {
        // A hash_key left in the group is not read by them.
        conf::TargetGroup group = hash_group(conf::HashKey::Kind::header, "x-user");
        group.algorithm = algorithm;
        HttpHead head = request({{"X-User", "alice"}});
        EXPECT_EQ(request_hash(group, kClient, &head, ""), hash_client_address(kClient));
        EXPECT_EQ(request_hash(group, kOtherClient, nullptr, ""), hash_client_address(kOtherClient));
    }
    // The hash algorithm without a key (not a loadable config) has none.
    EXPECT_EQ(request_hash(hash_group(conf::HashKey::Kind::none), kClient, nullptr, ""), kNoClientHash);
}

TEST(RequestHash, SpreadsDistinctKeys) {
    const conf::TargetGroup group = hash_group(conf::HashKey::Kind::query, "sid");
    std::set<uint64_t> seen;
    for (int i = 0; i < 1000; ++i) seen.insert(request_hash(group, kClient, nullptr, "sid=" + std::to_string(i)));
    EXPECT_EQ(seen.size(), 1000u);
    EXPECT_EQ(seen.count(kNoClientHash), 0u);
}

}  // namespace
}  // namespace lb
