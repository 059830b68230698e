#include "tls/ticket_keys.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace lb::tls {
namespace {

using namespace std::chrono_literals;

TEST(TicketKeys, OneKeyPerRotationPeriod) {
    TicketKeys keys(60s, 2);
    auto first = keys.ring_at(6000);
    auto again = keys.ring_at(6059);
    ASSERT_TRUE(first);
    EXPECT_EQ(first, again);
    EXPECT_EQ(first->keys.size(), 1u);
    auto next = keys.ring_at(6060);
    EXPECT_NE(next->keys.front().name, first->keys.front().name);
    EXPECT_NE(next->keys.front().aes, first->keys.front().aes);
    EXPECT_NE(next->keys.front().hmac, first->keys.front().hmac);
}

TEST(TicketKeys, PreviousKeysStillOpenTicketsAndAskForRenewal) {
    TicketKeys keys(60s, 2);
    auto old_name = keys.ring_at(0)->keys.front().name;
    auto found = keys.find(old_name.data(), 30);
    ASSERT_TRUE(found.key);
    EXPECT_FALSE(found.renew);
    found = keys.find(old_name.data(), 60);
    ASSERT_TRUE(found.key);
    EXPECT_TRUE(found.renew);
    found = keys.find(old_name.data(), 120);
    ASSERT_TRUE(found.key);
    EXPECT_TRUE(found.renew);
    // Older than `retained` periods: gone, the client does a full handshake.
    found = keys.find(old_name.data(), 180);
    EXPECT_FALSE(found.key);
}

TEST(TicketKeys, LongIdleDropsEveryOldKey) {
    TicketKeys keys(60s, 2);
    auto old_name = keys.ring_at(0)->keys.front().name;
    auto ring = keys.ring_at(100000);
    EXPECT_EQ(ring->keys.size(), 1u);
    EXPECT_FALSE(keys.find(old_name.data(), 100000).key);
}

TEST(TicketKeys, UnknownNameIsNotFound) {
    TicketKeys keys;
    unsigned char name[16] = {1, 2, 3};
    EXPECT_FALSE(keys.find(name, TicketKeys::steady_seconds()).key);
}

TEST(TicketKeys, ConcurrentRotationAgreesOnOneKey) {
    TicketKeys keys(1s, 2);
    constexpr int kThreads = 8;
    std::vector<std::array<unsigned char, 16>> seen(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i)
        threads.emplace_back([&, i] { seen[i] = keys.ring_at(500)->keys.front().name; });
    for (auto& thread : threads) thread.join();
    std::set<std::array<unsigned char, 16>> distinct(seen.begin(), seen.end());
    EXPECT_EQ(distinct.size(), 1u);
}

}  // namespace
}  // namespace lb::tls
