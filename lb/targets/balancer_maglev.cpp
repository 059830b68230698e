#include "lb/targets/balancer_maglev.h"

#include <algorithm>
#include <string>

namespace lb {

MaglevBalancer::MaglevBalancer(std::shared_ptr<const MaglevTable> table, std::vector<uint32_t> weights,
                               uint64_t phase)
    : table_(std::move(table)), keyless_(std::move(weights)) {
    keyless_.advance(phase);
}

uint32_t MaglevBalancer::pick(std::span<const uint32_t> eligible, uint64_t client_hash) {
    if (client_hash == kNoClientHash) return keyless_.pick(eligible);
    // eligible is ascending and duplicate-free, so full size means every target.
    if (eligible.size() == table_->backend_count()) return table_->lookup(client_hash);
    const uint32_t index = table_->lookup_allowed(client_hash, [eligible](uint32_t backend) {
        return std::binary_search(eligible.begin(), eligible.end(), backend);
    });
    if (index != MaglevTable::kNoBackend) return index;
    // Only when every eligible target owns no slot at all (impossible for a
    // table built by MaglevTable::build, which gives each backend one).
    return eligible[client_hash % eligible.size()];
}

MaglevBalancerFactory::MaglevBalancerFactory(const std::vector<BalancerTarget>& targets) {
    std::vector<std::string> keys;
    std::vector<uint32_t> weights;
    keys.reserve(targets.size());
    weights.reserve(targets.size());
    for (const BalancerTarget& target : targets) {
        keys.push_back(target.key);
        weights.push_back(target.weight);
    }
    table_ = std::make_shared<const MaglevTable>(
        MaglevTable::build(keys, weights, MaglevTable::size_for(keys.size())));
    weights_ = std::move(weights);
}

std::unique_ptr<Balancer> MaglevBalancerFactory::create() const {
    return std::make_unique<MaglevBalancer>(table_, weights_, created_.fetch_add(1, std::memory_order_relaxed));
}

}  // namespace lb
