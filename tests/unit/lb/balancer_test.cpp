// Properties every algorithm shares, through make_balancer_factory.
#include "lb/targets/balancer.h"

#include <algorithm>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "balancer_test_util.h"
#include "lb/targets/balancer_weighted_random.h"
#include "lb/targets/target_state.h"

namespace lb {
namespace {

// conf::to_string lives in conf/, which this test does not link.
const char* algorithm_name(conf::Algorithm algorithm) {
    switch (algorithm) {
        case conf::Algorithm::round_robin: return "round_robin";
        case conf::Algorithm::least_outstanding_requests: return "least_outstanding_requests";
        case conf::Algorithm::weighted_random: return "weighted_random";
        case conf::Algorithm::source_ip_hash: return "source_ip_hash";
        case conf::Algorithm::least_connections: return "least_connections";
        case conf::Algorithm::hash: return "hash";
    }
    return "unknown";
}

class EveryAlgorithm : public ::testing::TestWithParam<conf::Algorithm> {};

TEST_P(EveryAlgorithm, WeightsHonoured) {
    const std::vector<uint32_t> weights{1, 2, 3, 4};
    auto factory = make_balancer_factory(GetParam(), testing::make_targets(weights));
    auto balancer = factory->create();
    const auto all = testing::all_indices(4);
    SplitMix64 clients(5);
    std::vector<uint64_t> counts(4, 0);
    // weighted_random is seeded from random_device here, so its 2% must hold
    // for any seed: 10^6 picks put 2% of the smallest share at ~6.7 sigma
    // (at 10^5 it would be ~2 sigma and fail a few runs in a hundred).
    const int picks = GetParam() == conf::Algorithm::weighted_random ? 1000000 : 100000;
    for (int i = 0; i < picks; ++i) counts[balancer->pick(all, clients.next())]++;
    testing::expect_shares(algorithm_name(GetParam()), counts, weights, all, 0.02);
}

// Random eligible subsets and random load: the pick is always one of them.
TEST_P(EveryAlgorithm, NeverPicksIneligible) {
    const size_t count = 12;
    std::vector<std::unique_ptr<TargetState>> states;
    std::vector<BalancerTarget> targets;
    for (size_t i = 0; i < count; ++i) {
        states.push_back(std::make_unique<TargetState>("g", *SocketAddress::parse(testing::target_key(i))));
        targets.push_back({states.back().get(), static_cast<uint32_t>(1 + i % 4), testing::target_key(i)});
    }
    auto factory = make_balancer_factory(GetParam(), targets);
    auto balancer = factory->create();
    SplitMix64 random(11);
    std::vector<uint32_t> eligible;
    for (int round = 0; round < 2000; ++round) {
        eligible.clear();
        for (uint32_t i = 0; i < count; ++i) {
            if (random.below(3) == 0) eligible.push_back(i);
        }
        if (eligible.empty()) eligible.push_back(static_cast<uint32_t>(random.below(count)));
        for (auto& state : states) state->outstanding_requests = static_cast<int64_t>(random.below(4));
        for (int i = 0; i < 20; ++i) {
            const uint32_t pick = balancer->pick(eligible, random.next());
            ASSERT_TRUE(std::binary_search(eligible.begin(), eligible.end(), pick))
                << "picked " << pick << " in round " << round;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Balancers, EveryAlgorithm,
                         ::testing::Values(conf::Algorithm::round_robin,
                                           conf::Algorithm::least_outstanding_requests,
                                           conf::Algorithm::weighted_random, conf::Algorithm::source_ip_hash,
                                           conf::Algorithm::least_connections, conf::Algorithm::hash),
                         [](const auto& info) { return std::string(algorithm_name(info.param)); });

}  // namespace
}  // namespace lb
