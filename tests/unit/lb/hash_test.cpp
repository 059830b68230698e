#include "lb/base/hash.h"

#include <bit>
#include <cstring>
#include <string_view>

#include <gtest/gtest.h>

namespace lb {
namespace {

uint64_t hash_string(std::string_view text, uint64_t seed = 0) {
    return hash_bytes(text.data(), text.size(), seed);
}

SocketAddress address(std::string_view text) {
    auto parsed = SocketAddress::parse(text);
    EXPECT_TRUE(parsed.has_value()) << text;
    return parsed.value_or(SocketAddress{});
}

// Every lb instance must compute these exact values, or instances stop
// agreeing on source_ip_hash placement. Changing them is a breaking change.
TEST(Hash, PinnedValues) {
    EXPECT_EQ(hash_string(""), 0xefd01f60ba992926ULL);
    EXPECT_EQ(hash_string("a"), 0x82a2a958a9bece5bULL);
    EXPECT_EQ(hash_string("foobar"), 0x2c22194922d1672bULL);
    EXPECT_EQ(hash_string("10.0.0.1:8080"), 0xe8c721156ed52b14ULL);
    EXPECT_EQ(hash_string("", 1), 0x85bad54dda0e0188ULL);
    EXPECT_EQ(hash_string("10.0.0.1:8080", 1), 0x39e9048bc5ec1747ULL);
    EXPECT_EQ(hash_client_address(address("192.0.2.1:80")), 0x201c78fe7f15f106ULL);
    EXPECT_EQ(hash_client_address(address("[2001:db8::1]:80")), 0x83fee1ca06895498ULL);
}

// Ties the implementation to the published algorithms it cites: FNV-1a 64
// test vectors (draft-eastlake-fnv) and MurmurHash3's fmix64(1).
TEST(Hash, MatchesPublishedFnv1aAndFmix64) {
    EXPECT_EQ(mix64(0), 0u);
    EXPECT_EQ(mix64(1), 0xb456bcfc34c2cb2cULL);
    EXPECT_EQ(hash_string(""), mix64(0xcbf29ce484222325ULL));
    EXPECT_EQ(hash_string("a"), mix64(0xaf63dc4c8601ec8cULL));
    EXPECT_EQ(hash_string("foobar"), mix64(0x85944171f73967e8ULL));
}

TEST(Hash, SeedsGiveDifferentHashes) {
    EXPECT_NE(hash_string("10.0.0.1:8080", 0), hash_string("10.0.0.1:8080", 1));
    EXPECT_NE(hash_string("10.0.0.1:8080", 1), hash_string("10.0.0.1:8080", 2));
    EXPECT_NE(hash_string("ab"), hash_string("ba"));
}

// Flipping any one input bit flips about half the output bits.
TEST(Hash, Avalanches) {
    uint8_t input[16] = {10, 0, 0, 1};
    const uint64_t base = hash_bytes(input, sizeof input);
    double total_flips = 0;
    int trials = 0;
    for (size_t bit = 0; bit < sizeof input * 8; ++bit) {
        input[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        const int flips = std::popcount(base ^ hash_bytes(input, sizeof input));
        input[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        EXPECT_GE(flips, 12) << "bit " << bit;
        EXPECT_LE(flips, 52) << "bit " << bit;
        total_flips += flips;
        ++trials;
    }
    EXPECT_NEAR(total_flips / trials, 32.0, 2.0);
}

TEST(Hash, ClientAddressIgnoresPort) {
    EXPECT_EQ(hash_client_address(address("192.0.2.1:80")), hash_client_address(address("192.0.2.1:65000")));
    EXPECT_EQ(hash_client_address(address("[2001:db8::1]:1")), hash_client_address(address("[2001:db8::1]:2")));
}

TEST(Hash, ClientAddressIpv4EqualsMappedIpv6) {
    EXPECT_EQ(hash_client_address(address("192.0.2.1:80")),
              hash_client_address(address("[::ffff:192.0.2.1]:443")));
}

TEST(Hash, ClientAddressDistinguishesAddresses) {
    EXPECT_NE(hash_client_address(address("192.0.2.1:80")), hash_client_address(address("192.0.2.2:80")));
    EXPECT_NE(hash_client_address(address("192.0.2.1:80")), hash_client_address(address("[::192.0.2.1]:80")));
    EXPECT_NE(hash_client_address(address("[2001:db8::1]:80")), hash_client_address(address("[2001:db8::2]:80")));
}

TEST(Hash, ToUnitSpansZeroToJustBelowOne) {
    EXPECT_EQ(hash_to_unit(0), 0.0);
    EXPECT_EQ(hash_to_unit(1ULL << 63), 0.5);
    EXPECT_EQ(hash_to_unit(~0ULL), 1.0 - 0x1.0p-53);
    EXPECT_EQ(hash_to_unit(0x7ffULL), 0.0);  // the low 11 bits do not count
}

}  // namespace
}  // namespace lb
