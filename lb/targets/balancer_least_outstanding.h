// least_outstanding_requests: the target with the fewest requests in flight
// per unit of weight (outstanding / weight), read from TargetState, so all
// workers see each other's load. least_connections counts open tunnels
// (WebSocket, TCP, UDP flows) too, so a fleet of long-lived sockets
// evens out: a target added after a scale-out takes new connections until
// it holds its share. Ties go by smooth weighted round robin: equal
// targets share evenly, and an idle group (everything at 0) still splits by
// weight instead of piling onto the first target.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "lb/targets/balancer.h"
#include "lb/targets/balancer_round_robin.h"

namespace lb {

class LeastOutstandingBalancer final : public Balancer {
public:
    struct Target {
        const TargetState* state;  // null reads as 0 outstanding
        uint32_t weight;
    };

    // `phase` staggers the tie-break sequence between workers.
    // `count_tunnels`: least_connections.
    explicit LeastOutstandingBalancer(std::vector<Target> targets, uint64_t phase = 0, bool count_tunnels = false);
    uint32_t pick(std::span<const uint32_t> eligible, uint64_t client_hash) override;

private:
    std::vector<Target> targets_;
    bool count_tunnels_;
    // One relaxed load per target per pick, kept so both passes judge the
    // same numbers even while other workers change them; sized once, reused.
    std::vector<uint64_t> outstanding_;
    SmoothWeightedRoundRobin tie_break_;
};

class LeastOutstandingBalancerFactory final : public BalancerFactory {
public:
    LeastOutstandingBalancerFactory(const std::vector<BalancerTarget>& targets, bool count_tunnels);
    std::unique_ptr<Balancer> create() const override;

private:
    std::vector<LeastOutstandingBalancer::Target> targets_;
    bool count_tunnels_;
    mutable std::atomic<uint64_t> created_{0};
};

}  // namespace lb
