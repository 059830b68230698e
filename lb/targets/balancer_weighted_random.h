// weighted_random: each pick independently chooses target i with probability
// weight_i / (total eligible weight). Stateless apart from a per-worker PRNG,
// so workers never coordinate and never fall into lockstep.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "lb/targets/balancer.h"

namespace lb {

// SplitMix64 (Steele, Lea, Flood, "Fast Splittable Pseudorandom Number
// Generators", OOPSLA 2014): one add and a mix per number, 2^64 period, passes
// BigCrush. Not for secrets; plenty for spreading load.
class SplitMix64 {
public:
    explicit SplitMix64(uint64_t seed) : state_(seed) {}
    uint64_t next() {
        uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    // Uniform in [0, bound), bound >= 1. Lemire's multiply-shift for 32-bit
    // bounds (no division); modulo above that, where its bias is < 2^-32.
    uint64_t below(uint64_t bound) {
        const uint64_t r = next();
        if (bound <= UINT32_MAX) return ((r >> 32) * bound) >> 32;
        return r % bound;
    }

private:
    uint64_t state_;
};

class WeightedRandomBalancer final : public Balancer {
public:
    WeightedRandomBalancer(std::vector<uint32_t> weights, uint64_t seed);
    uint32_t pick(std::span<const uint32_t> eligible, uint64_t client_hash) override;

private:
    std::vector<uint32_t> weights_;
    // cumulative_[i] = weights_[0] + ... + weights_[i]: the usual case (every
    // target eligible) is then a binary search instead of a scan.
    std::vector<uint64_t> cumulative_;
    SplitMix64 random_;
};

// Each create() gets its own seed: a per-factory random base plus a counter.
class WeightedRandomBalancerFactory final : public BalancerFactory {
public:
    explicit WeightedRandomBalancerFactory(const std::vector<BalancerTarget>& targets);
    std::unique_ptr<Balancer> create() const override;

private:
    std::vector<uint32_t> weights_;
    uint64_t seed_base_;
    mutable std::atomic<uint64_t> created_{0};
};

}  // namespace lb
