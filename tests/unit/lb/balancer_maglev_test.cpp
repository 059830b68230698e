#include "lb/targets/balancer_maglev.h"

#include <vector>

#include <gtest/gtest.h>

#include "balancer_test_util.h"
#include "lb/targets/balancer_weighted_random.h"

namespace lb {
namespace {

using testing::all_indices;

std::vector<uint64_t> client_hashes(int count) {
    SplitMix64 random(77);
    std::vector<uint64_t> out;
    for (int i = 0; i < count; ++i) out.push_back(random.next());
    return out;
}

TEST(MaglevBalancer, WeightsHonoured) {
    const std::vector<uint32_t> weights{1, 2, 3, 4};
    MaglevBalancerFactory factory(testing::make_targets(weights));
    auto balancer = factory.create();
    const auto all = all_indices(4);
    std::vector<uint64_t> counts(4, 0);
    for (uint64_t hash : client_hashes(100000)) counts[balancer->pick(all, hash)]++;
    testing::expect_shares("source_ip_hash 1,2,3,4", counts, weights, all, 0.02);
}

TEST(MaglevBalancer, SameClientSameTargetAcrossWorkersAndFactories) {
    const std::vector<uint32_t> weights{1, 1, 1, 1, 1, 1};
    MaglevBalancerFactory factory(testing::make_targets(weights));
    MaglevBalancerFactory other_instance(testing::make_targets(weights));
    auto a = factory.create();
    auto b = factory.create();
    auto c = other_instance.create();
    const auto all = all_indices(6);
    for (uint64_t hash : client_hashes(10000)) {
        const uint32_t pick = a->pick(all, hash);
        ASSERT_EQ(pick, a->pick(all, hash));
        ASSERT_EQ(pick, b->pick(all, hash));
        ASSERT_EQ(pick, c->pick(all, hash));
    }
}

// A target going unhealthy moves only its own clients.
TEST(MaglevBalancer, IneligibleTargetMovesOnlyItsClients) {
    const std::vector<uint32_t> weights{1, 2, 3, 4, 5};
    MaglevBalancerFactory factory(testing::make_targets(weights));
    auto balancer = factory.create();
    const auto all = all_indices(5);
    const std::vector<uint32_t> without_2{0, 1, 3, 4};
    int moved = 0;
    for (uint64_t hash : client_hashes(100000)) {
        const uint32_t before = balancer->pick(all, hash);
        const uint32_t after = balancer->pick(without_2, hash);
        ASSERT_NE(after, 2u);
        if (before != 2) {
            ASSERT_EQ(after, before);
        } else {
            ++moved;
        }
    }
    std::printf("[ maglev   ] target 2 (weight 3/15) down: %.4f of clients moved\n", moved / 100000.0);
    EXPECT_NEAR(moved / 100000.0, 3.0 / 15.0, 0.01);
}

TEST(MaglevBalancer, OnlyEligibleTargets) {
    const std::vector<uint32_t> weights{1, 2, 3, 4, 5};
    MaglevBalancerFactory factory(testing::make_targets(weights));
    auto balancer = factory.create();
    const std::vector<uint32_t> eligible{0, 4};
    std::vector<uint64_t> counts(5, 0);
    for (uint64_t hash : client_hashes(100000)) {
        const uint32_t pick = balancer->pick(eligible, hash);
        ASSERT_TRUE(pick == 0 || pick == 4) << pick;
        counts[pick]++;
    }
    // Clients of the three ineligible targets probe onward; the split keeps
    // roughly to weight (looser: probing follows slot owners, not exact shares).
    testing::expect_shares("source_ip_hash eligible {0,4}", counts, weights, eligible, 0.05);
}

// `hash` requests without their key (kNoClientHash) are not all sent to
// the target that owns hash 0: they go round robin, by weight.
TEST(MaglevBalancer, KeylessRequestsGoRoundRobinByWeight) {
    const std::vector<uint32_t> weights{3, 1};
    MaglevBalancerFactory factory(testing::make_targets(weights));
    auto balancer = factory.create();
    const auto all = all_indices(2);
    std::vector<uint32_t> sequence;
    for (int i = 0; i < 8; ++i) sequence.push_back(balancer->pick(all, kNoClientHash));
    // Smooth weighted round robin (the first balancer a factory makes starts
    // at the beginning of the cycle): a a b a, again.
    EXPECT_EQ(sequence, (std::vector<uint32_t>{0, 0, 1, 0, 0, 0, 1, 0}));
    std::vector<uint64_t> counts(2, 0);
    for (int i = 0; i < 400; ++i) counts[balancer->pick(all, kNoClientHash)]++;
    EXPECT_EQ(counts, (std::vector<uint64_t>{300, 100}));
}

TEST(MaglevBalancer, KeylessRequestsStayOnEligibleTargets) {
    const std::vector<uint32_t> weights{1, 2, 3, 4};
    MaglevBalancerFactory factory(testing::make_targets(weights));
    auto balancer = factory.create();
    const std::vector<uint32_t> eligible{1, 2};
    std::vector<uint64_t> counts(4, 0);
    for (int i = 0; i < 500; ++i) counts[balancer->pick(eligible, kNoClientHash)]++;
    EXPECT_EQ(counts, (std::vector<uint64_t>{0, 200, 300, 0}));
}

// Keyed requests keep their target whatever keyless ones do in between.
TEST(MaglevBalancer, KeylessPicksDoNotMoveKeyedClients) {
    const std::vector<uint32_t> weights{1, 1, 1, 1};
    MaglevBalancerFactory factory(testing::make_targets(weights));
    auto balancer = factory.create();
    const auto all = all_indices(4);
    for (uint64_t hash : client_hashes(1000)) {
        const uint32_t first = balancer->pick(all, hash);
        balancer->pick(all, kNoClientHash);
        ASSERT_EQ(balancer->pick(all, hash), first);
    }
}

}  // namespace
}  // namespace lb
