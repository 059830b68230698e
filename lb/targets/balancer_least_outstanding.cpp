#include "lb/targets/balancer_least_outstanding.h"

#include <algorithm>

#include "lb/targets/target_state.h"

namespace lb {

namespace {

std::vector<uint32_t> weights_of(const std::vector<LeastOutstandingBalancer::Target>& targets) {
    std::vector<uint32_t> weights;
    weights.reserve(targets.size());
    for (const auto& target : targets) weights.push_back(target.weight);
    return weights;
}

// Clamped so outstanding x weight fits in 64 bits (2^31 x 2^32) and a counter
// briefly below zero (decrement seen before increment) counts as idle.
uint64_t load_outstanding(const TargetState* state, bool count_tunnels) {
    if (state == nullptr) return 0;
    int64_t value = state->outstanding_requests.load(std::memory_order_relaxed);
    if (count_tunnels) value += state->active_connections.load(std::memory_order_relaxed);
    return static_cast<uint64_t>(std::clamp<int64_t>(value, 0, INT32_MAX));
}

}  // namespace

LeastOutstandingBalancer::LeastOutstandingBalancer(std::vector<Target> targets, uint64_t phase, bool count_tunnels)
    : targets_(std::move(targets)), count_tunnels_(count_tunnels), outstanding_(targets_.size(), 0), tie_break_(weights_of(targets_)) {
    for (Target& target : targets_) target.weight = std::max<uint32_t>(target.weight, 1);
    tie_break_.advance(phase);
}

uint32_t LeastOutstandingBalancer::pick(std::span<const uint32_t> eligible, uint64_t /*client_hash*/) {
    // a/wa < b/wb compared as a*wb < b*wa: exact, so ties are real ties.
    uint64_t best_outstanding = 0;
    uint64_t best_weight = 0;
    for (uint32_t index : eligible) {
        const uint64_t outstanding = load_outstanding(targets_[index].state, count_tunnels_);
        const uint64_t weight = targets_[index].weight;
        outstanding_[index] = outstanding;
        if (best_weight == 0 || outstanding * best_weight < best_outstanding * weight) {
            best_outstanding = outstanding;
            best_weight = weight;
        }
    }
    return tie_break_.pick(eligible, [&](uint32_t index) {
        return outstanding_[index] * best_weight == best_outstanding * targets_[index].weight;
    });
}

LeastOutstandingBalancerFactory::LeastOutstandingBalancerFactory(const std::vector<BalancerTarget>& targets,
                                                                 bool count_tunnels)
    : count_tunnels_(count_tunnels) {
    targets_.reserve(targets.size());
    for (const BalancerTarget& target : targets) targets_.push_back({target.state, target.weight});
}

std::unique_ptr<Balancer> LeastOutstandingBalancerFactory::create() const {
    const uint64_t phase = created_.fetch_add(1, std::memory_order_relaxed);
    return std::make_unique<LeastOutstandingBalancer>(targets_, phase, count_tunnels_);
}

}  // namespace lb
