// PROXY protocol v1/v2: exact bytes as the spec lays them out, and the
// parser on whole, split, trailing and malformed input.
#include "listeners/proxy_protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lb::proxy_protocol {
namespace {

SocketAddress addr(const char* text) { return *SocketAddress::parse(text); }

std::string bytes(std::initializer_list<int> values) {
    std::string out;
    for (int v : values) out.push_back(static_cast<char>(v));
    return out;
}

const std::string kSig = bytes({0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a});

TEST(ProxyProtocolEncode, V1Ipv4IsTheSpecLine) {
    EXPECT_EQ(encode_v1(addr("192.168.0.1:56324"), addr("192.168.0.11:443")),
              "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
}

TEST(ProxyProtocolEncode, V1Ipv6) {
    EXPECT_EQ(encode_v1(addr("[2001:db8::1]:1234"), addr("[2001:db8::2]:443")),
              "PROXY TCP6 2001:db8::1 2001:db8::2 1234 443\r\n");
}

TEST(ProxyProtocolEncode, V1MixedFamiliesAreWrittenAsIpv6) {
    EXPECT_EQ(encode_v1(addr("10.0.0.1:5"), addr("[2001:db8::2]:443")),
              "PROXY TCP6 ::ffff:10.0.0.1 2001:db8::2 5 443\r\n");
}

TEST(ProxyProtocolEncode, V1MappedIpv4OnBothSidesIsTcp4) {
    EXPECT_EQ(encode_v1(addr("[::ffff:10.0.0.1]:5"), addr("10.0.0.2:80")), "PROXY TCP4 10.0.0.1 10.0.0.2 5 80\r\n");
}

TEST(ProxyProtocolEncode, V1UnknownWithoutAddresses) {
    EXPECT_EQ(encode_v1(SocketAddress(), addr("10.0.0.2:80")), "PROXY UNKNOWN\r\n");
}

TEST(ProxyProtocolEncode, V2Ipv4Bytes) {
    std::string expected = kSig + bytes({0x21, 0x11, 0x00, 0x0c,    // v2 PROXY, TCP over IPv4, 12 bytes
                                         192, 168, 0, 1,            // source
                                         192, 168, 0, 11,           // destination
                                         0xdc, 0x04,                // 56324
                                         0x01, 0xbb});              // 443
    EXPECT_EQ(encode_v2(addr("192.168.0.1:56324"), addr("192.168.0.11:443")), expected);
}

TEST(ProxyProtocolEncode, V2Ipv6Bytes) {
    std::string expected = kSig + bytes({0x21, 0x21, 0x00, 0x24,  // v2 PROXY, TCP over IPv6, 36 bytes
                                         0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
                                         0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
                                         0x04, 0xd2, 0x01, 0xbb});
    EXPECT_EQ(encode_v2(addr("[2001:db8::1]:1234"), addr("[2001:db8::2]:443")), expected);
}

TEST(ProxyProtocolEncode, V2MixedFamiliesUseMappedIpv6) {
    std::string encoded = encode_v2(addr("10.0.0.1:5"), addr("[2001:db8::2]:443"));
    ASSERT_EQ(encoded.size(), 16u + 36u);
    EXPECT_EQ(encoded.substr(12, 4), bytes({0x21, 0x21, 0x00, 0x24}));
    EXPECT_EQ(encoded.substr(16, 16), bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1}));
}

TEST(ProxyProtocolEncode, V2UnknownIsUnspecWithNoAddresses) {
    EXPECT_EQ(encode_v2(SocketAddress(), SocketAddress()), kSig + bytes({0x21, 0x00, 0x00, 0x00}));
}

// ---------------------------------------------------------------- parsing

TEST(ProxyProtocolParse, V1Ipv4AndTheBytesAfterIt) {
    Parser parser;
    ASSERT_EQ(parser.feed("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n"),
              Parser::Status::done);
    EXPECT_EQ(parser.header().version, 1);
    EXPECT_FALSE(parser.header().local);
    EXPECT_EQ(parser.header().source.to_string(), "192.168.0.1:56324");
    EXPECT_EQ(parser.header().destination.to_string(), "192.168.0.11:443");
    EXPECT_EQ(parser.rest(), "GET / HTTP/1.1\r\n");
}

TEST(ProxyProtocolParse, V1Ipv6) {
    Parser parser;
    ASSERT_EQ(parser.feed("PROXY TCP6 2001:db8::1 2001:db8::2 1234 443\r\n"), Parser::Status::done);
    EXPECT_EQ(parser.header().source.to_string(), "[2001:db8::1]:1234");
    EXPECT_EQ(parser.header().destination.to_string(), "[2001:db8::2]:443");
    EXPECT_EQ(parser.rest(), "");
}

TEST(ProxyProtocolParse, V1OneByteAtATime) {
    std::string input = "PROXY TCP4 10.1.2.3 10.0.0.1 40000 80\r\nxyz";
    Parser parser;
    for (size_t i = 0; i + 3 < input.size(); ++i) {
        ASSERT_EQ(parser.feed(input.substr(i, 1)), i + 4 == input.size() ? Parser::Status::done
                                                                          : Parser::Status::need_more)
            << "at byte " << i;
    }
    EXPECT_EQ(parser.header().source.to_string(), "10.1.2.3:40000");
    EXPECT_EQ(parser.feed("xyz"), Parser::Status::done);  // a finished parser takes no more
    EXPECT_EQ(parser.rest(), "");
}

TEST(ProxyProtocolParse, V1UnknownKeepsTheConnectionAddresses) {
    for (const char* line : {"PROXY UNKNOWN\r\n",
                             "PROXY UNKNOWN ffff:f...:ffff ffff:f...:ffff 65535 65535\r\n"}) {
        Parser parser;
        ASSERT_EQ(parser.feed(line), Parser::Status::done) << line;
        EXPECT_TRUE(parser.header().local);
    }
}

TEST(ProxyProtocolParse, V1LongestLegalLineIsAccepted) {
    std::string line = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                       "65535 65535\r\n";
    ASSERT_EQ(line.size(), kMaxV1Size - 3);  // the spec's 107 counts "UNKNOWN" in place of "TCP6"
    Parser parser;
    EXPECT_EQ(parser.feed(line), Parser::Status::done);
}

TEST(ProxyProtocolParse, V1Malformed) {
    const std::vector<std::string> bad = {
        "PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n",        // missing port
        "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 1\r\n",  // extra field
        "PROXY TCP4 192.168.0.1  192.168.0.11 56324 443\r\n",   // double space
        "PROXY TCP4 192.168.0.256 192.168.0.11 56324 443\r\n",  // bad IPv4
        "PROXY TCP4 ::1 ::1 56324 443\r\n",                     // IPv6 under TCP4
        "PROXY TCP6 10.0.0.1 10.0.0.2 56324 443\r\n",           // IPv4 under TCP6
        "PROXY TCP4 10.0.0.1 10.0.0.2 65536 443\r\n",           // port out of range
        "PROXY TCP4 10.0.0.1 10.0.0.2 -1 443\r\n",
        "PROXY TCP4 10.0.0.1 10.0.0.2 80 4x3\r\n",
        "PROXY UDP4 10.0.0.1 10.0.0.2 80 443\r\n",              // not TCP
        "PROXY TCP4 10.0.0.1 10.0.0.2 80 443\n",                // bare LF
        "PROXY \r\n",
    };
    for (const auto& input : bad) {
        Parser parser;
        EXPECT_EQ(parser.feed(input), Parser::Status::invalid) << input;
        EXPECT_STRNE(parser.error(), "") << input;
    }
}

TEST(ProxyProtocolParse, V1WithoutLineEndWithin107BytesIsInvalid) {
    Parser parser;
    std::string input = "PROXY TCP4 " + std::string(95, '1');
    ASSERT_EQ(input.size(), 106u);
    EXPECT_EQ(parser.feed(input), Parser::Status::need_more);
    EXPECT_EQ(parser.feed("1"), Parser::Status::invalid);
}

TEST(ProxyProtocolParse, NotAProxyHeader) {
    for (const char* input : {"GET / HTTP/1.1\r\n", "\x16\x03\x01", "PROXZ", "\r\n\r\n\x01"}) {
        Parser parser;
        EXPECT_EQ(parser.feed(input), Parser::Status::invalid) << input;
    }
}

TEST(ProxyProtocolParse, V2Ipv4WithTlvsAndTrailingData) {
    std::string header = kSig + bytes({0x21, 0x11, 0x00, 0x0c + 7, 203, 0, 113, 7, 10, 0, 0, 1, 0x9c, 0x40, 0x1f, 0x90,
                                       0x04, 0x00, 0x04, 'a', 'b', 'c', 'd'});  // a NOOP TLV
    Parser parser;
    ASSERT_EQ(parser.feed(header + "hello"), Parser::Status::done);
    EXPECT_EQ(parser.header().version, 2);
    EXPECT_FALSE(parser.header().local);
    EXPECT_EQ(parser.header().source.to_string(), "203.0.113.7:40000");
    EXPECT_EQ(parser.header().destination.to_string(), "10.0.0.1:8080");
    EXPECT_EQ(parser.rest(), "hello");
}

TEST(ProxyProtocolParse, V2RoundTripsWhatWeEncodeSplitAnywhere) {
    for (const char* source : {"198.51.100.9:1", "[2001:db8::9]:65535"}) {
        SocketAddress destination = addr(source[0] == '[' ? "[2001:db8::1]:443" : "192.0.2.1:443");
        std::string encoded = encode_v2(addr(source), destination);
        for (size_t split = 0; split < encoded.size(); ++split) {
            Parser parser;
            ASSERT_EQ(parser.feed(encoded.substr(0, split)), Parser::Status::need_more) << split;
            ASSERT_EQ(parser.feed(encoded.substr(split) + "tail"), Parser::Status::done) << split;
            EXPECT_EQ(parser.header().source, addr(source));
            EXPECT_EQ(parser.header().destination, destination);
            EXPECT_EQ(parser.rest(), "tail");
        }
    }
}

TEST(ProxyProtocolParse, V2LocalAndUnspecKeepTheConnectionAddresses) {
    for (const std::string& header : {kSig + bytes({0x20, 0x00, 0x00, 0x00}),     // LOCAL
                                      kSig + bytes({0x20, 0x11, 0x00, 0x0c, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2}),
                                      kSig + bytes({0x21, 0x00, 0x00, 0x00}),     // PROXY, AF_UNSPEC
                                      kSig + bytes({0x21, 0x12, 0x00, 0x0c, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2})}) {
        Parser parser;
        ASSERT_EQ(parser.feed(header + "x"), Parser::Status::done);
        EXPECT_TRUE(parser.header().local);
        EXPECT_EQ(parser.rest(), "x");
    }
}

TEST(ProxyProtocolParse, V2Malformed) {
    const std::vector<std::string> bad = {
        kSig + bytes({0x11, 0x11, 0x00, 0x0c}),                        // version 1 in a v2 header
        kSig + bytes({0x22, 0x11, 0x00, 0x0c}),                        // command 2
        kSig + bytes({0x21, 0x41, 0x00, 0x0c}),                        // family 4
        kSig + bytes({0x21, 0x13, 0x00, 0x0c}),                        // transport 3
        kSig + bytes({0x21, 0x11, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8}),  // IPv4 block too short
        kSig + bytes({0x21, 0x21, 0x00, 0x0c, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2}),  // IPv6 block too short
    };
    for (const auto& input : bad) {
        Parser parser;
        EXPECT_EQ(parser.feed(input), Parser::Status::invalid) << testing::PrintToString(input);
    }
}

TEST(ProxyProtocolParse, V2WaitsForItsWholeLength) {
    Parser parser;
    EXPECT_EQ(parser.feed(kSig + bytes({0x21, 0x11, 0x01, 0x00})), Parser::Status::need_more);  // 256 bytes follow
    EXPECT_EQ(parser.feed(std::string(255, '\0')), Parser::Status::need_more);
    EXPECT_EQ(parser.feed(std::string(1, '\0')), Parser::Status::done);
}

TEST(ProxyProtocolSignature, YesNoMaybe) {
    EXPECT_EQ(match_signature(""), Signature::maybe);
    EXPECT_EQ(match_signature("PRO"), Signature::maybe);
    EXPECT_EQ(match_signature("PROXY"), Signature::maybe);
    EXPECT_EQ(match_signature("PROXY "), Signature::yes);
    EXPECT_EQ(match_signature("PROXY TCP4 ..."), Signature::yes);
    EXPECT_EQ(match_signature("POST / HTTP/1.1"), Signature::no);
    EXPECT_EQ(match_signature("\r\n"), Signature::maybe);
    EXPECT_EQ(match_signature(kSig.substr(0, 11)), Signature::maybe);
    EXPECT_EQ(match_signature(kSig), Signature::yes);
    EXPECT_EQ(match_signature("\r\nGET"), Signature::no);
    EXPECT_EQ(match_signature("\x16\x03\x01\x02\x00"), Signature::no);
}

}  // namespace
}  // namespace lb::proxy_protocol
