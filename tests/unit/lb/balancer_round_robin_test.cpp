#include "lb/targets/balancer_round_robin.h"

#include <vector>

#include <gtest/gtest.h>

#include "balancer_test_util.h"

namespace lb {
namespace {

using testing::all_indices;

std::vector<uint32_t> sequence(Balancer& balancer, std::span<const uint32_t> eligible, int picks) {
    std::vector<uint32_t> out;
    for (int i = 0; i < picks; ++i) out.push_back(balancer.pick(eligible, 0));
    return out;
}

TEST(RoundRobin, NginxSequenceFor511) {
    RoundRobinBalancer balancer({5, 1, 1});
    const auto all = all_indices(3);
    // a a b a c a a, twice: the cycle repeats exactly.
    EXPECT_EQ(sequence(balancer, all, 14), (std::vector<uint32_t>{0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0}));
}

TEST(RoundRobin, EqualWeightsRotate) {
    RoundRobinBalancer balancer({1, 1, 1, 1});
    const auto all = all_indices(4);
    EXPECT_EQ(sequence(balancer, all, 8), (std::vector<uint32_t>{0, 1, 2, 3, 0, 1, 2, 3}));
    RoundRobinBalancer heavy({7, 7, 7});
    EXPECT_EQ(sequence(heavy, all_indices(3), 6), (std::vector<uint32_t>{0, 1, 2, 0, 1, 2}));
}

// Smooth: every cycle of total-weight picks holds exact counts, and a heavy
// target is spread out, not sent a burst.
TEST(RoundRobin, InterleavesEvenly) {
    const std::vector<uint32_t> weights{1, 2, 3, 4};
    RoundRobinBalancer balancer(weights);
    const auto all = all_indices(4);
    for (int cycle = 0; cycle < 50; ++cycle) {
        std::vector<int> counts(4, 0);
        int longest_run = 0, run = 0;
        uint32_t last = 99;
        for (uint32_t pick : sequence(balancer, all, 10)) {
            counts[pick]++;
            run = pick == last ? run + 1 : 1;
            longest_run = std::max(longest_run, run);
            last = pick;
        }
        EXPECT_EQ(counts, (std::vector<int>{1, 2, 3, 4})) << "cycle " << cycle;
        EXPECT_LE(longest_run, 2) << "cycle " << cycle;
    }
}

TEST(RoundRobin, WeightsHonoured) {
    const std::vector<uint32_t> weights{1, 2, 3, 4};
    RoundRobinBalancer balancer(weights);
    const auto all = all_indices(4);
    std::vector<uint64_t> counts(4, 0);
    for (int i = 0; i < 100000; ++i) counts[balancer.pick(all, 0)]++;
    testing::expect_shares("round_robin 1,2,3,4", counts, weights, all, 0.02);
}

TEST(RoundRobin, OnlyEligibleTargets) {
    const std::vector<uint32_t> weights{1, 2, 3, 4, 5};
    RoundRobinBalancer balancer(weights);
    const std::vector<uint32_t> eligible{1, 3};
    std::vector<uint64_t> counts(5, 0);
    for (int i = 0; i < 100000; ++i) {
        const uint32_t pick = balancer.pick(eligible, 0);
        ASSERT_TRUE(pick == 1 || pick == 3) << pick;
        counts[pick]++;
    }
    testing::expect_shares("round_robin eligible {1,3}", counts, weights, eligible, 0.02);
}

// After an eligibility change the split settles back to the weights.
TEST(RoundRobin, RecoversWhenTargetReturns) {
    const std::vector<uint32_t> weights{1, 1, 2};
    RoundRobinBalancer balancer(weights);
    const auto all = all_indices(3);
    const std::vector<uint32_t> without_last{0, 1};
    sequence(balancer, all, 5);
    sequence(balancer, without_last, 1001);
    std::vector<uint64_t> counts(3, 0);
    for (int i = 0; i < 100000; ++i) counts[balancer.pick(all, 0)]++;
    testing::expect_shares("round_robin after outage", counts, weights, all, 0.02);
}

// Workers from one factory do not all send their first request to target 0.
TEST(RoundRobin, FactoryStaggersWorkers) {
    const std::vector<uint32_t> weights{1, 1, 1, 1};
    RoundRobinBalancerFactory factory(testing::make_targets(weights));
    const auto all = all_indices(4);
    std::vector<uint32_t> firsts;
    for (int worker = 0; worker < 4; ++worker) firsts.push_back(factory.create()->pick(all, 0));
    EXPECT_EQ(firsts, (std::vector<uint32_t>{0, 1, 2, 3}));
}

}  // namespace
}  // namespace lb
