// Helpers shared by the balancer tests.
#pragma once

#include <cstdint>
#include <cstdio>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lb/targets/balancer.h"

namespace lb::testing {

inline std::vector<uint32_t> all_indices(size_t count) {
    std::vector<uint32_t> out(count);
    std::iota(out.begin(), out.end(), 0u);
    return out;
}

inline std::string target_key(size_t i) {
    return "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) + ":8080";
}

inline std::vector<BalancerTarget> make_targets(std::span<const uint32_t> weights) {
    std::vector<BalancerTarget> targets;
    for (size_t i = 0; i < weights.size(); ++i) targets.push_back({nullptr, weights[i], target_key(i)});
    return targets;
}

// Asserts each index's share of `counts` is within `relative` of its weight's
// share of `weights` (only indices in `eligible` count); prints the shares.
inline void expect_shares(const char* label, std::span<const uint64_t> counts,
                          std::span<const uint32_t> weights, std::span<const uint32_t> eligible,
                          double relative) {
    uint64_t total_count = 0;
    uint64_t total_weight = 0;
    for (uint32_t i : eligible) total_weight += weights[i];
    for (uint64_t c : counts) total_count += c;
    std::printf("[ shares   ] %s:", label);
    for (uint32_t i : eligible) {
        const double expected = static_cast<double>(weights[i]) / static_cast<double>(total_weight);
        const double actual = static_cast<double>(counts[i]) / static_cast<double>(total_count);
        std::printf(" [%u] %.4f/%.4f", i, actual, expected);
        EXPECT_NEAR(actual, expected, expected * relative) << label << " target " << i;
    }
    std::printf("\n");
}

}  // namespace lb::testing
