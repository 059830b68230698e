// round_robin: smooth weighted round robin (nginx's algorithm, Maxim Dounin
// 2012): every pick adds each candidate's weight to its `current`, picks the
// largest and subtracts the candidates' total weight from it. Weights 5,1,1
// give a a b a c a a: heavy targets are interleaved, never sent in bursts.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "lb/targets/balancer.h"

namespace lb {

// The smooth WRR state for one worker. Also breaks ties in
// least_outstanding_requests, hence the candidate filter.
class SmoothWeightedRoundRobin {
public:
    static constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

    explicit SmoothWeightedRoundRobin(std::vector<uint32_t> weights);

    // Picks among the `eligible` indices for which candidate(index) holds;
    // kNone if there is none. Equal `current` goes to the lowest index, as nginx.
    template <class Candidate>
    uint32_t pick(std::span<const uint32_t> eligible, Candidate&& candidate) {
        int64_t total = 0;
        uint32_t best = kNone;
        int64_t best_current = 0;
        for (uint32_t index : eligible) {
            if (!candidate(index)) continue;
            const int64_t weight = weights_[index];
            const int64_t current = current_[index] += weight;
            total += weight;
            if (best == kNone || current > best_current) {
                best = index;
                best_current = current;
            }
        }
        if (best != kNone) current_[best] -= total;
        return best;
    }

    uint32_t pick(std::span<const uint32_t> eligible) {
        return pick(eligible, [](uint32_t) { return true; });
    }

    // Runs `picks` picks over all targets (mod one full cycle), so workers
    // created from one factory start at different points of the sequence
    // instead of all sending their first request to the same target.
    void advance(uint64_t picks);

private:
    std::vector<uint32_t> weights_;  // indexed by target; >= 1
    std::vector<int64_t> current_;   // nginx's current_weight, per target
    std::vector<uint32_t> all_;      // 0..n-1, for advance()
};

class RoundRobinBalancer final : public Balancer {
public:
    // `phase`: picks to skip ahead (see SmoothWeightedRoundRobin::advance).
    explicit RoundRobinBalancer(std::vector<uint32_t> weights, uint64_t phase = 0);
    uint32_t pick(std::span<const uint32_t> eligible, uint64_t client_hash) override;

private:
    SmoothWeightedRoundRobin rr_;
};

// Holds the weights (immutable); each create() gets the next phase, so the
// only shared mutable state is an atomic counter touched once per worker.
class RoundRobinBalancerFactory final : public BalancerFactory {
public:
    explicit RoundRobinBalancerFactory(const std::vector<BalancerTarget>& targets);
    std::unique_ptr<Balancer> create() const override;

private:
    std::vector<uint32_t> weights_;
    mutable std::atomic<uint64_t> created_{0};
};

}  // namespace lb
