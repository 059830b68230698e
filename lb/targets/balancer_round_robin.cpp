#include "lb/targets/balancer_round_robin.h"

#include <algorithm>
#include <numeric>

namespace lb {

SmoothWeightedRoundRobin::SmoothWeightedRoundRobin(std::vector<uint32_t> weights)
    : weights_(std::move(weights)), current_(weights_.size(), 0), all_(weights_.size()) {
    for (uint32_t& weight : weights_) weight = std::max<uint32_t>(weight, 1);
    std::iota(all_.begin(), all_.end(), 0u);
}

void SmoothWeightedRoundRobin::advance(uint64_t picks) {
    // The sequence over a fixed set repeats every total-weight picks.
    const uint64_t cycle = std::accumulate(weights_.begin(), weights_.end(), uint64_t{0});
    if (cycle == 0) return;
    for (uint64_t i = picks % cycle; i > 0; --i) pick(all_);
}

RoundRobinBalancer::RoundRobinBalancer(std::vector<uint32_t> weights, uint64_t phase)
    : rr_(std::move(weights)) {
    rr_.advance(phase);
}

uint32_t RoundRobinBalancer::pick(std::span<const uint32_t> eligible, uint64_t /*client_hash*/) {
    return rr_.pick(eligible);
}

RoundRobinBalancerFactory::RoundRobinBalancerFactory(const std::vector<BalancerTarget>& targets) {
    weights_.reserve(targets.size());
    for (const BalancerTarget& target : targets) weights_.push_back(target.weight);
}

std::unique_ptr<Balancer> RoundRobinBalancerFactory::create() const {
    const uint64_t phase = created_.fetch_add(1, std::memory_order_relaxed);
    return std::make_unique<RoundRobinBalancer>(weights_, phase);
}

}  // namespace lb
