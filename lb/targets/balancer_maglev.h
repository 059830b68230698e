// source_ip_hash: Maglev consistent hashing of the client address (see
// lb/targets/maglev_table.h), so a client keeps its target across requests,
// connections, workers and lb instances with the same targets.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "lb/targets/balancer.h"
#include "lb/targets/maglev_table.h"

namespace lb {

// The table covers ALL targets of the group, eligible or not: health changes
// do not rebuild it, so clients of healthy targets never move. A client whose
// target is not eligible is sent along the table's probe sequence
// (MaglevTable::lookup_allowed) to the first eligible one.
class MaglevBalancer final : public Balancer {
public:
    explicit MaglevBalancer(std::shared_ptr<const MaglevTable> table);
    uint32_t pick(std::span<const uint32_t> eligible, uint64_t client_hash) override;

private:
    std::shared_ptr<const MaglevTable> table_;
};

// Builds the table once, on the main thread; balancers share it read-only.
class MaglevBalancerFactory final : public BalancerFactory {
public:
    explicit MaglevBalancerFactory(const std::vector<BalancerTarget>& targets);
    std::unique_ptr<Balancer> create() const override;
    const MaglevTable& table() const { return *table_; }

private:
    std::shared_ptr<const MaglevTable> table_;
};

}  // namespace lb
