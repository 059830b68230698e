// The TTL lb reads from a raw SRV response (c-ares 1.18 parses SRV records
// without their TTLs): the smallest over the answers of the type asked,
// RFC 2181's rule for TTLs with the top bit set, and nothing from a
// message that runs short.
#include <arpa/nameser.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "lb/discovery/dns_resolver.h"

namespace lb {
namespace {

using Bytes = std::vector<unsigned char>;

void put16(Bytes& out, uint16_t v) {
    out.push_back(static_cast<unsigned char>(v >> 8));
    out.push_back(static_cast<unsigned char>(v));
}
void put32(Bytes& out, uint32_t v) {
    put16(out, static_cast<uint16_t>(v >> 16));
    put16(out, static_cast<uint16_t>(v));
}

// A response to "_srv.test SRV" with `answers` of (type, ttl); each answer's
// name is a compression pointer to the question.
Bytes response(const std::vector<std::pair<uint16_t, uint32_t>>& answers) {
    Bytes out;
    put16(out, 0x1234);
    put16(out, 0x8180);
    put16(out, 1);
    put16(out, static_cast<uint16_t>(answers.size()));
    put16(out, 0);
    put16(out, 0);
    for (std::string label : {"_srv", "test"}) {
        out.push_back(static_cast<unsigned char>(label.size()));
        out.insert(out.end(), label.begin(), label.end());
    }
    out.push_back(0);
    put16(out, ns_t_srv);
    put16(out, ns_c_in);
    for (auto [type, ttl] : answers) {
        put16(out, 0xC00C);
        put16(out, type);
        put16(out, ns_c_in);
        put32(out, ttl);
        if (type == ns_t_srv) {
            put16(out, 9);
            put16(out, 10);  // priority
            put16(out, 5);   // weight
            put16(out, 80);  // port
            for (int c : {1, int{'a'}, 0}) out.push_back(static_cast<unsigned char>(c));
        } else {
            put16(out, 4);
            for (int c : {127, 0, 0, 1}) out.push_back(static_cast<unsigned char>(c));
        }
    }
    return out;
}

TEST(DnsAnswerTtl, SmallestOfTheAnswersOfTheTypeAsked) {
    Bytes message = response({{ns_t_srv, 300}, {ns_t_a, 5}, {ns_t_srv, 60}});
    EXPECT_EQ(min_answer_ttl(message.data(), message.size(), ns_t_srv), 60u);
    EXPECT_EQ(min_answer_ttl(message.data(), message.size(), ns_t_a), 5u);
    EXPECT_EQ(min_answer_ttl(message.data(), message.size(), ns_t_aaaa), std::nullopt);
}

TEST(DnsAnswerTtl, TopBitSetCountsAsZero) {
    Bytes message = response({{ns_t_srv, 0x80000010u}, {ns_t_srv, 60}});
    EXPECT_EQ(min_answer_ttl(message.data(), message.size(), ns_t_srv), 0u);
}

TEST(DnsAnswerTtl, ShortOrBrokenMessagesGiveNothing) {
    Bytes message = response({{ns_t_srv, 300}});
    for (size_t length = 0; length < message.size(); ++length)
        EXPECT_EQ(min_answer_ttl(message.data(), length, ns_t_srv), std::nullopt) << length;
    // A label length with the reserved bits 01 or 10.
    Bytes reserved = message;
    reserved[12] = 0x40;
    EXPECT_EQ(min_answer_ttl(reserved.data(), reserved.size(), ns_t_srv), std::nullopt);
}

}  // namespace
}  // namespace lb
