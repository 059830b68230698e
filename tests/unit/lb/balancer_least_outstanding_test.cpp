#include "lb/targets/balancer_least_outstanding.h"

#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "balancer_test_util.h"
#include "lb/targets/balancer_weighted_random.h"
#include "lb/targets/target_state.h"

namespace lb {
namespace {

using testing::all_indices;

struct Group {
    std::vector<std::unique_ptr<TargetState>> states;
    std::vector<uint32_t> weights;

    explicit Group(std::vector<uint32_t> w) : weights(std::move(w)) {
        for (size_t i = 0; i < weights.size(); ++i) {
            auto address = SocketAddress::parse(testing::target_key(i));
            states.push_back(std::make_unique<TargetState>("g", *address));
        }
    }
    std::vector<LeastOutstandingBalancer::Target> targets() const {
        std::vector<LeastOutstandingBalancer::Target> out;
        for (size_t i = 0; i < weights.size(); ++i) out.push_back({states[i].get(), weights[i]});
        return out;
    }
    void set(std::vector<int64_t> outstanding) {
        for (size_t i = 0; i < outstanding.size(); ++i) states[i]->outstanding_requests = outstanding[i];
    }
    std::atomic<int64_t>& outstanding(uint32_t i) { return states[i]->outstanding_requests; }
};

TEST(LeastOutstanding, PrefersFewestOutstanding) {
    Group group({1, 1, 1});
    LeastOutstandingBalancer balancer(group.targets());
    const auto all = all_indices(3);
    group.set({5, 2, 7});
    for (int i = 0; i < 10; ++i) EXPECT_EQ(balancer.pick(all, 0), 1u);
    group.set({0, 2, 7});
    EXPECT_EQ(balancer.pick(all, 0), 0u);
    group.set({3, 3, 1});
    EXPECT_EQ(balancer.pick(all, 0), 2u);
}

TEST(LeastOutstanding, DividesByWeight) {
    Group group({1, 3});
    LeastOutstandingBalancer balancer(group.targets());
    const auto all = all_indices(2);
    group.set({4, 6});  // 4/1 > 6/3
    EXPECT_EQ(balancer.pick(all, 0), 1u);
    group.set({1, 6});  // 1/1 < 6/3
    EXPECT_EQ(balancer.pick(all, 0), 0u);
}

TEST(LeastOutstanding, NegativeCountReadsAsIdle) {
    Group group({1, 1});
    LeastOutstandingBalancer balancer(group.targets());
    group.set({1, -3});
    EXPECT_EQ(balancer.pick(all_indices(2), 0), 1u);
}

// Equal targets share evenly rather than the first one taking everything.
TEST(LeastOutstanding, TiesSpread) {
    Group group({1, 1, 1, 5});
    LeastOutstandingBalancer balancer(group.targets());
    const auto all = all_indices(4);
    group.set({3, 3, 3, 100});
    std::vector<int> counts(4, 0);
    std::vector<uint32_t> firsts;
    for (int i = 0; i < 300; ++i) {
        const uint32_t pick = balancer.pick(all, 0);
        counts[pick]++;
        if (i < 3) firsts.push_back(pick);
    }
    EXPECT_EQ(counts, (std::vector<int>{100, 100, 100, 0}));
    EXPECT_EQ(firsts, (std::vector<uint32_t>{0, 1, 2}));
}

// Requests that finish instantly leave everything at 0: weights still rule.
TEST(LeastOutstanding, IdleGroupSplitsByWeight) {
    Group group({1, 2, 3, 4});
    LeastOutstandingBalancer balancer(group.targets());
    const auto all = all_indices(4);
    std::vector<uint64_t> counts(4, 0);
    for (int i = 0; i < 100000; ++i) counts[balancer.pick(all, 0)]++;
    testing::expect_shares("least_outstanding idle 1,2,3,4", counts, group.weights, all, 0.02);
}

// Requests pile up (none finish): in-flight counts end proportional to weight.
TEST(LeastOutstanding, LoadedGroupSplitsByWeight) {
    Group group({1, 2, 3, 4});
    LeastOutstandingBalancer balancer(group.targets());
    const auto all = all_indices(4);
    std::vector<uint64_t> counts(4, 0);
    for (int i = 0; i < 100000; ++i) {
        const uint32_t pick = balancer.pick(all, 0);
        counts[pick]++;
        group.outstanding(pick)++;
    }
    testing::expect_shares("least_outstanding loaded 1,2,3,4", counts, group.weights, all, 0.02);
}

// A steady state: 200 requests in flight, the oldest random one finishing as
// each new one starts.
TEST(LeastOutstanding, SteadyStateSplitsByWeight) {
    Group group({1, 2, 3, 4});
    LeastOutstandingBalancer balancer(group.targets());
    const auto all = all_indices(4);
    std::vector<uint64_t> counts(4, 0);
    std::vector<uint32_t> in_flight;
    SplitMix64 random(3);
    for (int i = 0; i < 100000; ++i) {
        if (in_flight.size() == 200) {
            const size_t done = random.below(in_flight.size());
            group.outstanding(in_flight[done])--;
            in_flight[done] = in_flight.back();
            in_flight.pop_back();
        }
        const uint32_t pick = balancer.pick(all, 0);
        counts[pick]++;
        group.outstanding(pick)++;
        in_flight.push_back(pick);
    }
    testing::expect_shares("least_outstanding steady 1,2,3,4", counts, group.weights, all, 0.02);
}

TEST(LeastOutstanding, OnlyEligibleTargets) {
    Group group({1, 2, 3, 4, 5});
    LeastOutstandingBalancer balancer(group.targets());
    const std::vector<uint32_t> eligible{0, 2, 4};
    group.set({2, 0, 6, 0, 10});  // eligible ones tie at 2 per weight; the idle ones are not eligible
    std::vector<uint64_t> counts(5, 0);
    for (int i = 0; i < 100000; ++i) {
        const uint32_t pick = balancer.pick(eligible, 0);
        ASSERT_TRUE(pick == 0 || pick == 2 || pick == 4) << pick;
        counts[pick]++;
    }
    testing::expect_shares("least_outstanding eligible {0,2,4}", counts, group.weights, eligible, 0.02);
}

TEST(LeastOutstanding, FactoryStaggersWorkers) {
    Group group({1, 1, 1});
    std::vector<BalancerTarget> targets;
    for (size_t i = 0; i < 3; ++i) targets.push_back({group.states[i].get(), 1, testing::target_key(i)});
    LeastOutstandingBalancerFactory factory(targets, false);
    const auto all = all_indices(3);
    std::vector<uint32_t> firsts;
    for (int worker = 0; worker < 3; ++worker) firsts.push_back(factory.create()->pick(all, 0));
    EXPECT_EQ(firsts, (std::vector<uint32_t>{0, 1, 2}));
}

// least_connections: open tunnels (active_connections) count like requests
// in flight; least_outstanding_requests does not see them.
TEST(LeastConnections, CountsOpenTunnels) {
    Group group({1, 1, 1});
    LeastOutstandingBalancer connections(group.targets(), 0, /*count_tunnels=*/true);
    const auto all = all_indices(3);
    group.states[0]->active_connections = 5;
    group.states[2]->active_connections = 2;
    for (int i = 0; i < 10; ++i) EXPECT_EQ(connections.pick(all, 0), 1u);
    // Requests and tunnels add up: 1+4, 3+0, 0+5.
    group.set({1, 3, 0});
    group.states[0]->active_connections = 4;
    group.states[1]->active_connections = 0;
    group.states[2]->active_connections = 5;
    EXPECT_EQ(connections.pick(all, 0), 1u);
    group.states[1]->active_connections = 3;  // 1+4, 3+3, 0+5: target 0 and 2 tie at 5
    std::vector<int> counts(3, 0);
    for (int i = 0; i < 10; ++i) counts[connections.pick(all, 0)]++;
    EXPECT_EQ(counts, (std::vector<int>{5, 0, 5}));
}

TEST(LeastConnections, OutstandingRequestsAloneIgnoreTunnels) {
    Group group({1, 1, 1});
    LeastOutstandingBalancer requests(group.targets(), 0, /*count_tunnels=*/false);
    const auto all = all_indices(3);
    group.states[0]->active_connections = 5;
    group.states[2]->active_connections = 2;
    std::vector<int> counts(3, 0);
    for (int i = 0; i < 30; ++i) counts[requests.pick(all, 0)]++;
    EXPECT_EQ(counts, (std::vector<int>{10, 10, 10}));
}

TEST(LeastConnections, PerUnitOfWeight) {
    Group group({1, 2});
    LeastOutstandingBalancer balancer(group.targets(), 0, true);
    const auto all = all_indices(2);
    group.states[0]->active_connections = 2;  // 2 per weight
    group.states[1]->active_connections = 3;  // 1.5 per weight
    EXPECT_EQ(balancer.pick(all, 0), 1u);
    group.states[1]->active_connections = 5;  // 2.5 per weight
    EXPECT_EQ(balancer.pick(all, 0), 0u);
}

// The algorithm names pick the counting: make_balancer_factory wires
// least_connections to count tunnels and least_outstanding_requests not.
TEST(LeastConnections, FactoryByAlgorithm) {
    Group group({1, 1});
    std::vector<BalancerTarget> targets;
    for (size_t i = 0; i < 2; ++i) targets.push_back({group.states[i].get(), 1, testing::target_key(i)});
    group.states[0]->active_connections = 10;
    const auto all = all_indices(2);
    auto connections = make_balancer_factory(conf::Algorithm::least_connections, targets)->create();
    auto requests = make_balancer_factory(conf::Algorithm::least_outstanding_requests, targets)->create();
    std::vector<int> by_connections(2, 0);
    std::vector<int> by_requests(2, 0);
    for (int i = 0; i < 20; ++i) {
        by_connections[connections->pick(all, 0)]++;
        by_requests[requests->pick(all, 0)]++;
    }
    EXPECT_EQ(by_connections, (std::vector<int>{0, 20}));
    EXPECT_EQ(by_requests, (std::vector<int>{10, 10}));
}

}  // namespace
}  // namespace lb
