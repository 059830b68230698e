// Per-thread random numbers for spreading load and jittering timers (which
// group of a weighted forward, a slow-start admission roll, when a health
// check first runs). Each thread owns its generator, seeded once from
// std::random_device: no lock, nothing shared. Not for secrets: keys and
// tokens come from OpenSSL.
#pragma once

#include <cstdint>
#include <random>

namespace lb {

inline std::minstd_rand& thread_random() {
    thread_local std::minstd_rand engine{std::random_device{}()};
    return engine;
}

// Uniform in [0, bound); 0 when bound <= 0.
inline int64_t random_below(int64_t bound) {
    if (bound <= 0) return 0;
    return static_cast<int64_t>(thread_random()() % static_cast<uint64_t>(bound));
}

// Uniform in [0, 1).
inline double random_unit() { return std::uniform_real_distribution<double>(0.0, 1.0)(thread_random()); }

}  // namespace lb
