#include "lb/targets/balancer_weighted_random.h"

#include <algorithm>
#include <random>

#include "lb/base/hash.h"

namespace lb {

WeightedRandomBalancer::WeightedRandomBalancer(std::vector<uint32_t> weights, uint64_t seed)
    : weights_(std::move(weights)), random_(seed) {
    cumulative_.reserve(weights_.size());
    uint64_t sum = 0;
    for (uint32_t& weight : weights_) {
        weight = std::max<uint32_t>(weight, 1);
        sum += weight;
        cumulative_.push_back(sum);
    }
}

uint32_t WeightedRandomBalancer::pick(std::span<const uint32_t> eligible, uint64_t /*client_hash*/) {
    // eligible is ascending and duplicate-free, so full size means every target.
    if (eligible.size() == weights_.size()) {
        const uint64_t point = random_.below(cumulative_.back());
        const auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), point);
        return static_cast<uint32_t>(it - cumulative_.begin());
    }
    uint64_t total = 0;
    for (uint32_t index : eligible) total += weights_[index];
    uint64_t point = random_.below(total);
    for (uint32_t index : eligible) {
        if (point < weights_[index]) return index;
        point -= weights_[index];
    }
    return eligible.back();  // unreachable: point < total
}

WeightedRandomBalancerFactory::WeightedRandomBalancerFactory(const std::vector<BalancerTarget>& targets) {
    weights_.reserve(targets.size());
    for (const BalancerTarget& target : targets) weights_.push_back(target.weight);
    std::random_device device;
    seed_base_ = (static_cast<uint64_t>(device()) << 32) ^ device();
}

std::unique_ptr<Balancer> WeightedRandomBalancerFactory::create() const {
    const uint64_t instance = created_.fetch_add(1, std::memory_order_relaxed);
    // mix64 is a bijection: distinct instances get distinct, unrelated seeds.
    return std::make_unique<WeightedRandomBalancer>(weights_, mix64(seed_base_ + instance));
}

}  // namespace lb
