#include "lb/base/histogram.h"

namespace lb {

uint64_t HistogramCounts::count() const {
    uint64_t total = 0;
    for (uint64_t n : buckets) total += n;
    return total;
}

HistogramCounts HistogramCounts::since(const HistogramCounts& earlier) const {
    HistogramCounts out{bounds, buckets, sum - earlier.sum};
    for (size_t i = 0; i < out.buckets.size() && i < earlier.buckets.size(); ++i)
        out.buckets[i] = buckets[i] >= earlier.buckets[i] ? buckets[i] - earlier.buckets[i] : 0;
    return out;
}

double HistogramCounts::quantile(double q) const {
    uint64_t total = count();
    if (total == 0) return 0;
    double rank = q * static_cast<double>(total);
    uint64_t below = 0;
    for (size_t i = 0; i < buckets.size(); ++i) {
        if (buckets[i] == 0 || static_cast<double>(below + buckets[i]) < rank) {
            below += buckets[i];
            continue;
        }
        if (i == bounds.size()) return bounds.empty() ? 0 : static_cast<double>(bounds.back());
        double lower = i == 0 ? 0 : static_cast<double>(bounds[i - 1]);
        double upper = static_cast<double>(bounds[i]);
        return lower + (upper - lower) * (rank - static_cast<double>(below)) / static_cast<double>(buckets[i]);
    }
    return bounds.empty() ? 0 : static_cast<double>(bounds.back());
}

Histogram::Histogram(std::span<const uint64_t> bounds, size_t shards)
    : bounds_(bounds),
      shards_(shards ? shards : 1),
      cells_per_shard_((bounds.size() + 2 + 7) / 8 * 8),
      lines_(std::make_unique<Line[]>(shards_ * cells_per_shard_ / 8)) {}

size_t Histogram::shard_of_this_thread() {
    static std::atomic<size_t> next{0};
    thread_local size_t mine = next.fetch_add(1, std::memory_order_relaxed);
    return mine;
}

HistogramCounts Histogram::read() const {
    HistogramCounts out;
    out.bounds = bounds_;
    out.buckets.assign(bounds_.size() + 1, 0);
    for (size_t shard = 0; shard < shards_; ++shard) {
        size_t base = shard * cells_per_shard_;
        for (size_t i = 0; i <= bounds_.size(); ++i) out.buckets[i] += cell(base + i).load(std::memory_order_relaxed);
        out.sum += cell(base + bounds_.size() + 1).load(std::memory_order_relaxed);
    }
    return out;
}

}  // namespace lb
