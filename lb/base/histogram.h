// Histogram: counts of observed values (durations in microseconds, sizes in
// bytes) in fixed buckets, as Prometheus histograms expose them, plus
// quantile estimates for the dashboard.
//
// Threading: observe() is relaxed atomic adds, called by any worker (into
// its own shard where there are several); read() anywhere. A read taken while workers observe may see a count without its
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
    // `shards` > 1: each observing thread counts into its own copy (on its
    // own cache lines) and read() sums them, so workers on many cores do
    // not fight over the same lines; for the per-listener and per-group
    // histograms every request touches. One shard is enough where traffic
    // already spreads (one histogram per target).
    explicit Histogram(std::span<const uint64_t> bounds, size_t shards = 1);

    void observe(uint64_t value) {
        size_t i = 0;
        while (i < bounds_.size() && value > bounds_[i]) ++i;
        size_t base = shards_ == 1 ? 0 : (shard_of_this_thread() % shards_) * cells_per_shard_;
        cell(base + i).fetch_add(1, std::memory_order_relaxed);
        cell(base + bounds_.size() + 1).fetch_add(value, std::memory_order_relaxed);  // the sum
    }
    HistogramCounts read() const;
    std::span<const uint64_t> bounds() const { return bounds_; }

private:
    struct alignas(64) Line {
        std::atomic<uint64_t> cells[8];
    };
    static size_t shard_of_this_thread();
    std::atomic<uint64_t>& cell(size_t index) const { return lines_[index / 8].cells[index % 8]; }

    std::span<const uint64_t> bounds_;
    size_t shards_;
    size_t cells_per_shard_;  // buckets, +Inf and the sum, rounded up to whole lines
    std::unique_ptr<Line[]> lines_;
};

// The shard count of the histograms every request of a listener or group
// observes.
inline constexpr size_t kHistogramShards = 8;

}  // namespace lb
