#include "lb/targets/balancer_weighted_random.h"

#include <vector>

#include <gtest/gtest.h>

#include "balancer_test_util.h"

namespace lb {
namespace {

using testing::all_indices;

TEST(WeightedRandom, WeightsHonoured) {
    const std::vector<uint32_t> weights{1, 2, 3, 4};
    WeightedRandomBalancer balancer(weights, 1);
    const auto all = all_indices(4);
    std::vector<uint64_t> counts(4, 0);
    for (int i = 0; i < 100000; ++i) counts[balancer.pick(all, 0)]++;
    testing::expect_shares("weighted_random 1,2,3,4", counts, weights, all, 0.02);
}

TEST(WeightedRandom, OnlyEligibleTargets) {
    const std::vector<uint32_t> weights{1, 2, 3, 4, 5};
    WeightedRandomBalancer balancer(weights, 2);
    const std::vector<uint32_t> eligible{1, 2, 4};
    std::vector<uint64_t> counts(5, 0);
    for (int i = 0; i < 100000; ++i) {
        const uint32_t pick = balancer.pick(eligible, 0);
        ASSERT_TRUE(pick == 1 || pick == 2 || pick == 4) << pick;
        counts[pick]++;
    }
    testing::expect_shares("weighted_random eligible {1,2,4}", counts, weights, eligible, 0.02);
}

TEST(WeightedRandom, SingleEligibleAlwaysChosen) {
    WeightedRandomBalancer balancer({5, 1, 9}, 3);
    const std::vector<uint32_t> eligible{1};
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(balancer.pick(eligible, 0), 1u);
}

TEST(WeightedRandom, SameSeedSameSequence) {
    WeightedRandomBalancer a({1, 1, 1, 1}, 42), b({1, 1, 1, 1}, 42);
    const auto all = all_indices(4);
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(a.pick(all, 0), b.pick(all, 0));
}

// Workers get their own seeds, so they do not pick in lockstep.
TEST(WeightedRandom, FactorySeedsEachWorker) {
    const std::vector<uint32_t> weights(8, 1);
    WeightedRandomBalancerFactory factory(testing::make_targets(weights));
    auto a = factory.create();
    auto b = factory.create();
    const auto all = all_indices(8);
    int same = 0;
    for (int i = 0; i < 1000; ++i) same += a->pick(all, 0) == b->pick(all, 0);
    EXPECT_LT(same, 250);  // about 1/8 expected
}

TEST(SplitMix64, BelowStaysInRange) {
    SplitMix64 random(9);
    for (uint64_t bound : {1ULL, 2ULL, 3ULL, 1000ULL, 1ULL << 40}) {
        for (int i = 0; i < 1000; ++i) ASSERT_LT(random.below(bound), bound);
    }
}

}  // namespace
}  // namespace lb
