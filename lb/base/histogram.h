// Histogram: counts of observed values (durations in microseconds, sizes in
// bytes) in fixed buckets, as Prometheus histograms expose them, plus
// quantile estimates for the dashboard.
//
// Threading: observe() is relaxed atomic adds, called by any worker; read()
// anywhere. A read taken while workers observe may see a count without its
// sum (or the reverse) for an instant; nothing that reads it needs more.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace lb {

// Upper bounds (inclusive, as Prometheus's `le`) of the buckets before +Inf.
// Durations: 100 µs to 60 s, for a proxy whose fast answers are sub-ms.
inline constexpr uint64_t kDurationBucketsUs[] = {
    100,     250,     500,     1'000,   2'500,     5'000,     10'000,    25'000,     50'000,
    100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000, 30'000'000, 60'000'000};
// Sizes: 64 B to 1 GiB, by fours.
inline constexpr uint64_t kSizeBucketsBytes[] = {64,       256,       1 << 10,   4 << 10,  16 << 10,
                                                 64 << 10, 256 << 10, 1 << 20,   4 << 20,  16 << 20,
                                                 64 << 20, 256 << 20, 1ull << 30};

// What a histogram held at one moment: per-bucket counts (not cumulative;
// the last is +Inf) and the sum of the values.
struct HistogramCounts {
    std::span<const uint64_t> bounds;
    std::vector<uint64_t> buckets;  // bounds.size() + 1
    uint64_t sum = 0;

    uint64_t count() const;
    // What was observed between `earlier` and this (same bounds).
    HistogramCounts since(const HistogramCounts& earlier) const;
    // The q-quantile (0 < q < 1), interpolated within its bucket as
    // Prometheus's histogram_quantile does; the highest bound when it falls
    // in +Inf; 0 when nothing was observed.
    double quantile(double q) const;
};

class Histogram {
public:
    explicit Histogram(std::span<const uint64_t> bounds)
        : bounds_(bounds), buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds.size() + 1)) {}

    void observe(uint64_t value) {
        size_t i = 0;
        while (i < bounds_.size() && value > bounds_[i]) ++i;
        buckets_[i].fetch_add(1, std::memory_order_relaxed);
        sum_.fetch_add(value, std::memory_order_relaxed);
    }
    HistogramCounts read() const;
    std::span<const uint64_t> bounds() const { return bounds_; }

private:
    std::span<const uint64_t> bounds_;
    std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
    std::atomic<uint64_t> sum_{0};
};

}  // namespace lb
