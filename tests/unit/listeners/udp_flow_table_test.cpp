// The UDP flow table: lookup by client address:port (IPv4 and IPv6 apart,
// ports apart) and least-recently-used order for eviction.
#include "listeners/udp_flow_table.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace lb {
namespace {

struct Flow : UdpFlowEntry {
    explicit Flow(const char* text) : UdpFlowEntry(*SocketAddress::parse(text)) {}
};

std::vector<std::string> order(const UdpFlowTable& table) {
    std::vector<std::string> out;
    for (UdpFlowEntry* entry : table.entries()) out.push_back(entry->client.to_string());
    return out;
}

TEST(UdpFlowTable, FindsByAddressAndPort) {
    UdpFlowTable table;
    Flow a("10.0.0.1:5000"), b("10.0.0.1:5001"), c("[2001:db8::1]:5000"), d("10.0.0.2:5000");
    for (Flow* flow : {&a, &b, &c, &d}) table.insert(flow);
    EXPECT_EQ(table.size(), 4u);
    EXPECT_EQ(table.find(*SocketAddress::parse("10.0.0.1:5000")), &a);
    EXPECT_EQ(table.find(*SocketAddress::parse("10.0.0.1:5001")), &b);
    EXPECT_EQ(table.find(*SocketAddress::parse("[2001:db8::1]:5000")), &c);
    EXPECT_EQ(table.find(*SocketAddress::parse("10.0.0.3:5000")), nullptr);
    // An IPv4 client seen on a dual-stack socket is the same client.
    EXPECT_EQ(table.find(*SocketAddress::parse("[::ffff:10.0.0.2]:5000")), &d);
}

TEST(UdpFlowTable, OldestIsTheLeastRecentlyUsed) {
    UdpFlowTable table;
    Flow a("10.0.0.1:1"), b("10.0.0.1:2"), c("10.0.0.1:3");
    for (Flow* flow : {&a, &b, &c}) table.insert(flow);
    EXPECT_EQ(table.oldest(), &a);
    table.touch(&a);
    EXPECT_EQ(table.oldest(), &b);
    EXPECT_EQ(order(table), (std::vector<std::string>{"10.0.0.1:2", "10.0.0.1:3", "10.0.0.1:1"}));
    table.touch(&a);  // already the newest
    table.touch(&b);
    EXPECT_EQ(order(table), (std::vector<std::string>{"10.0.0.1:3", "10.0.0.1:1", "10.0.0.1:2"}));
}

TEST(UdpFlowTable, EraseFromAnyPlace) {
    UdpFlowTable table;
    Flow a("10.0.0.1:1"), b("10.0.0.1:2"), c("10.0.0.1:3");
    for (Flow* flow : {&a, &b, &c}) table.insert(flow);
    table.erase(&b);
    EXPECT_EQ(order(table), (std::vector<std::string>{"10.0.0.1:1", "10.0.0.1:3"}));
    table.erase(&b);  // twice is harmless
    table.erase(&a);
    EXPECT_EQ(table.oldest(), &c);
    table.erase(&c);
    EXPECT_EQ(table.size(), 0u);
    EXPECT_EQ(table.oldest(), nullptr);
    table.touch(&c);  // not in the table: ignored
    EXPECT_EQ(table.size(), 0u);
    // The same client can come back.
    table.insert(&a);
    EXPECT_EQ(table.find(a.client), &a);
}

TEST(UdpFlowTable, ManyClients) {
    UdpFlowTable table;
    std::vector<std::unique_ptr<Flow>> flows;
    for (int i = 0; i < 5000; ++i) {
        std::string text = "10." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ".1:" +
                           std::to_string(1000 + i % 7);
        flows.push_back(std::make_unique<Flow>(text.c_str()));
        table.insert(flows.back().get());
    }
    for (const auto& flow : flows) ASSERT_EQ(table.find(flow->client), flow.get());
    for (size_t i = 0; i < flows.size(); i += 2) table.erase(flows[i].get());
    EXPECT_EQ(table.size(), 2500u);
    EXPECT_EQ(table.oldest(), flows[1].get());
}

}  // namespace
}  // namespace lb
