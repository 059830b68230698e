// source_ip_hash and hash: Maglev consistent hashing of the client address
// or the request's hash key (see lb/targets/maglev_table.h), so a client
// keeps its target across requests, connections, workers and lb instances
// with the same targets. A request without a key (kNoClientHash) goes
// round robin.
#pragma once

#include <atomic>
#include <memory>
#include <span>
#include <vector>

#include "lb/targets/balancer.h"
#include "lb/targets/balancer_round_robin.h"
#include "lb/targets/maglev_table.h"

namespace lb {

// The table covers ALL targets of the group, eligible or not: health changes
// do not rebuild it, so clients of healthy targets never move. A client whose
// target is not eligible is sent along the table's probe sequence
// (MaglevTable::lookup_allowed) to the first eligible one.
class MaglevBalancer final : public Balancer {
public:
    MaglevBalancer(std::shared_ptr<const MaglevTable> table, std::vector<uint32_t> weights, uint64_t phase);
    uint32_t pick(std::span<const uint32_t> eligible, uint64_t client_hash) override;

private:
    std::shared_ptr<const MaglevTable> table_;
    SmoothWeightedRoundRobin keyless_;
};

// Builds the table once, on the main thread; balancers share it read-only.
class MaglevBalancerFactory final : public BalancerFactory {
public:
    explicit MaglevBalancerFactory(const std::vector<BalancerTarget>& targets);
    std::unique_ptr<Balancer> create() const override;
    const MaglevTable& table() const { return *table_; }

private:
    std::shared_ptr<const MaglevTable> table_;
    std::vector<uint32_t> weights_;
    mutable std::atomic<uint64_t> created_{0};
};

}  // namespace lb
