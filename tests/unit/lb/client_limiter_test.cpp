// Per-client limits: exact counts per client address, GCRA rates with a
// burst, IPv6 grouped by /64, slots reused once their client is idle, and
// no client past its limit under concurrent workers.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "lb/runtime/client_limiter.h"

namespace lb {
namespace {

SocketAddress ip(const std::string& text) { return *SocketAddress::from_ip(text, 1234); }

SocketAddress nth_v4(uint32_t n) {
    return ip(std::to_string(10 + (n >> 24)) + "." + std::to_string((n >> 16) & 255) + "." +
              std::to_string((n >> 8) & 255) + "." + std::to_string(n & 255));
}

using Verdict = ClientLimiter::Verdict;

TEST(ClientLimiter, OpenConnectionsPerClient) {
    ClientLimiter limiter;
    std::vector<ClientLimiter::Slot*> held;
    for (int i = 0; i < 3; ++i) {
        ClientLimiter::Slot* slot = nullptr;
        EXPECT_EQ(limiter.acquire_connection(ip("192.0.2.1"), 3, 0, &slot), Verdict::admitted);
        held.push_back(slot);
    }
    ClientLimiter::Slot* slot = nullptr;
    EXPECT_EQ(limiter.acquire_connection(ip("192.0.2.1"), 3, 0, &slot), Verdict::refused);
    EXPECT_EQ(slot, nullptr);
    EXPECT_EQ(limiter.open_connections(ip("192.0.2.1")), 3);
    // Other clients have their own count; the port plays no part.
    EXPECT_EQ(limiter.acquire_connection(ip("192.0.2.2"), 3, 0, &slot), Verdict::admitted);
    ClientLimiter::release_connection(slot);
    ClientLimiter::release_connection(held.back());
    held.pop_back();
    EXPECT_EQ(limiter.acquire_connection(*SocketAddress::from_ip("192.0.2.1", 9), 3, 0, &slot), Verdict::admitted);
    held.push_back(slot);
    for (auto* h : held) ClientLimiter::release_connection(h);
    EXPECT_EQ(limiter.open_connections(ip("192.0.2.1")), 0);
}

TEST(ClientLimiter, RateWithBurst) {
    ClientLimiter limiter;
    const uint32_t rate = 10, burst = 5;
    const int64_t t0 = 1'000'000'000;
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(limiter.admit(ClientLimiter::Rate::request, ip("192.0.2.1"), rate, burst, t0), Verdict::admitted) << i;
    int64_t retry = 0;
    EXPECT_EQ(limiter.admit(ClientLimiter::Rate::request, ip("192.0.2.1"), rate, burst, t0, &retry), Verdict::refused);
    EXPECT_EQ(retry, 100'000);  // one interval: 1/10 s
    EXPECT_EQ(limiter.admit(ClientLimiter::Rate::request, ip("192.0.2.1"), rate, burst, t0 + 99'000), Verdict::refused);
    EXPECT_EQ(limiter.admit(ClientLimiter::Rate::request, ip("192.0.2.1"), rate, burst, t0 + 100'000), Verdict::admitted);
    // The connection rate is a separate bucket.
    EXPECT_EQ(limiter.admit(ClientLimiter::Rate::connection, ip("192.0.2.1"), rate, burst, t0), Verdict::admitted);

    // Sustained: 100 attempts a second for 10 s get the rate plus the burst.
    ClientLimiter steady;
    int admitted = 0;
    for (int64_t t = 0; t < 10'000'000; t += 10'000)
        admitted += steady.admit(ClientLimiter::Rate::request, ip("198.51.100.7"), rate, burst, t0 + t) == Verdict::admitted;
    EXPECT_EQ(admitted, 100 + 5 - 1);
}

TEST(ClientLimiter, Ipv6ClientsCountByTheirSlash64) {
    ClientLimiter limiter;
    ClientLimiter::Slot* a = nullptr;
    ClientLimiter::Slot* b = nullptr;
    EXPECT_EQ(limiter.acquire_connection(ip("2001:db8:1:2::1"), 1, 0, &a), Verdict::admitted);
    EXPECT_EQ(limiter.acquire_connection(ip("2001:db8:1:2:ffff::9"), 1, 0, &b), Verdict::refused);
    EXPECT_EQ(limiter.acquire_connection(ip("2001:db8:1:3::1"), 1, 0, &b), Verdict::admitted);
    // IPv4 and IPv4-mapped IPv6 are one client.
    ClientLimiter::Slot* c = nullptr;
    EXPECT_EQ(limiter.acquire_connection(ip("192.0.2.5"), 1, 0, &c), Verdict::admitted);
    EXPECT_EQ(limiter.acquire_connection(ip("::ffff:192.0.2.5"), 1, 0, &b), Verdict::refused);
    ClientLimiter::release_connection(a);
    ClientLimiter::release_connection(c);
}

TEST(ClientLimiter, SlotsOfIdleClientsAreReused) {
    ClientLimiter limiter;
    const uint32_t rate = 1, burst = 1;
    // Far more clients than slots, one after another: each is idle again
    // (its bucket full) by the time the next ones come.
    int64_t t = 1'000'000'000;
    for (uint32_t n = 0; n < 4 * ClientLimiter::kSlots; ++n) {
        ASSERT_EQ(limiter.admit(ClientLimiter::Rate::request, nth_v4(n), rate, burst, t), Verdict::admitted) << n;
        t += 1'000'000 / 64;
    }
    // A client that holds a connection keeps its slot and its count.
    ClientLimiter::Slot* held = nullptr;
    ASSERT_EQ(limiter.acquire_connection(ip("203.0.113.9"), 1, t, &held), Verdict::admitted);
    for (uint32_t n = 0; n < 2 * ClientLimiter::kSlots; ++n) {
        limiter.admit(ClientLimiter::Rate::request, nth_v4(n + 5'000'000), rate, burst, t);
        t += 1'000'000;
    }
    ClientLimiter::Slot* again = nullptr;
    EXPECT_EQ(limiter.acquire_connection(ip("203.0.113.9"), 1, t, &again), Verdict::refused);
    ClientLimiter::release_connection(held);
}

TEST(ClientLimiter, ConcurrentWorkersNeverPassTheLimit) {
    ClientLimiter limiter;
    constexpr int kMax = 8;
    std::atomic<int> open{0};
    std::atomic<int> peak{0};
    std::atomic<bool> over{false};
    auto worker = [&] {
        for (int i = 0; i < 20000; ++i) {
            ClientLimiter::Slot* slot = nullptr;
            if (limiter.acquire_connection(ip("192.0.2.77"), kMax, 0, &slot) != Verdict::admitted) continue;
            int now = open.fetch_add(1) + 1;
            if (now > kMax) over = true;
            int seen = peak.load();
            while (now > seen && !peak.compare_exchange_weak(seen, now)) {
            }
            open.fetch_sub(1);
            ClientLimiter::release_connection(slot);
        }
    };
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) threads.emplace_back(worker);
    for (auto& thread : threads) thread.join();
    EXPECT_FALSE(over);
    EXPECT_EQ(limiter.open_connections(ip("192.0.2.77")), 0);
}

}  // namespace
}  // namespace lb
