#include "lb/targets/slow_start.h"

#include <gtest/gtest.h>

namespace lb {
namespace {

TEST(SlowStart, ShareGrowsLinearlyOverTheDuration) {
    EXPECT_DOUBLE_EQ(slow_start_share(1000, 1000, 10000), 0.0);
    EXPECT_DOUBLE_EQ(slow_start_share(1000, 3500, 10000), 0.25);
    EXPECT_DOUBLE_EQ(slow_start_share(1000, 10999, 10000), 0.9999);
    EXPECT_DOUBLE_EQ(slow_start_share(1000, 11000, 10000), 1.0);
    EXPECT_DOUBLE_EQ(slow_start_share(1000, 500000, 10000), 1.0);
}

TEST(SlowStart, NoRampWithoutAStartOrADuration) {
    EXPECT_DOUBLE_EQ(slow_start_share(0, 5000, 10000), 1.0);     // in service since lb started
    EXPECT_DOUBLE_EQ(slow_start_share(1000, 1000, 0), 1.0);      // slow start off
    EXPECT_DOUBLE_EQ(slow_start_share(5000, 4000, 10000), 0.0);  // a clock read just before the stamp
}

TEST(SlowStart, AdmissionFollowsTheShare) {
    EXPECT_FALSE(slow_start_admits(0.0, 0.0));
    EXPECT_TRUE(slow_start_admits(0.5, 0.49));
    EXPECT_FALSE(slow_start_admits(0.5, 0.5));
}

TEST(SlowStart, ClientRollsAreUniformAndFixedPerClient) {
    // Consecutive hashes (the worst input) still spread evenly over [0, 1).
    constexpr int kClients = 100000;
    int buckets[10] = {};
    for (uint64_t hash = 0; hash < kClients; ++hash) {
        double roll = client_roll(hash);
        ASSERT_GE(roll, 0.0);
        ASSERT_LT(roll, 1.0);
        ++buckets[static_cast<int>(roll * 10)];
    }
    for (int count : buckets) EXPECT_NEAR(count, kClients / 10, kClients / 100);
    EXPECT_EQ(client_roll(12345), client_roll(12345));
}

}  // namespace
}  // namespace lb
