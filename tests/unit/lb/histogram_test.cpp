#include "lb/base/histogram.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace lb {
namespace {

constexpr uint64_t kBounds[] = {10, 100, 1000};

TEST(Histogram, ValuesLandInTheFirstBucketWhoseBoundHoldsThem) {
    Histogram h(kBounds);
    for (uint64_t v : {0, 10, 11, 100, 101, 1000, 1001, 5000}) h.observe(v);
    HistogramCounts c = h.read();
    ASSERT_EQ(c.buckets.size(), 4u);
    EXPECT_EQ(c.buckets[0], 2u);  // 0, 10: le is inclusive
    EXPECT_EQ(c.buckets[1], 2u);  // 11, 100
    EXPECT_EQ(c.buckets[2], 2u);  // 101, 1000
    EXPECT_EQ(c.buckets[3], 2u);  // +Inf
    EXPECT_EQ(c.count(), 8u);
    EXPECT_EQ(c.sum, 0u + 10 + 11 + 100 + 101 + 1000 + 1001 + 5000);
}

TEST(Histogram, QuantilesInterpolateWithinTheBucketAsPrometheusDoes) {
    Histogram h(kBounds);
    for (int i = 0; i < 90; ++i) h.observe(5);     // (0, 10]
    for (int i = 0; i < 10; ++i) h.observe(500);   // (100, 1000]
    HistogramCounts c = h.read();
    EXPECT_DOUBLE_EQ(c.quantile(0.5), 10.0 * 50 / 90);
    EXPECT_DOUBLE_EQ(c.quantile(0.95), 100 + 900.0 * 5 / 10);
    EXPECT_DOUBLE_EQ(c.quantile(0.99), 100 + 900.0 * 9 / 10);
}

TEST(Histogram, QuantileInInfIsTheHighestBoundAndEmptyIsZero) {
    Histogram h(kBounds);
    EXPECT_EQ(h.read().quantile(0.99), 0);
    h.observe(1'000'000);
    EXPECT_EQ(h.read().quantile(0.5), 1000);
}

TEST(Histogram, SinceIsWhatWasObservedInBetween) {
    Histogram h(kBounds);
    for (int i = 0; i < 100; ++i) h.observe(5);
    HistogramCounts before = h.read();
    for (int i = 0; i < 10; ++i) h.observe(500);
    HistogramCounts window = h.read().since(before);
    EXPECT_EQ(window.count(), 10u);
    EXPECT_EQ(window.sum, 5000u);
    // Only the slow window counts: its median is in (100, 1000].
    EXPECT_GT(window.quantile(0.5), 100);
}

TEST(Histogram, ShardsFromManyThreadsSumToEveryObservation) {
    Histogram h(kBounds, 4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t)  // more threads than shards: some share one
        threads.emplace_back([&h, t] {
            for (int i = 0; i < 10'000; ++i) h.observe(t % 2 ? 50 : 5000);
        });
    for (auto& thread : threads) thread.join();
    HistogramCounts c = h.read();
    EXPECT_EQ(c.count(), 60'000u);
    EXPECT_EQ(c.buckets[1], 30'000u);
    EXPECT_EQ(c.buckets[3], 30'000u);
    EXPECT_EQ(c.sum, 30'000u * 50 + 30'000u * 5000);
}

TEST(Histogram, DurationAndSizeBoundsAscend) {
    for (auto bounds : {std::span<const uint64_t>(kDurationBucketsUs), std::span<const uint64_t>(kSizeBucketsBytes)})
        for (size_t i = 1; i < bounds.size(); ++i) EXPECT_LT(bounds[i - 1], bounds[i]);
}

}  // namespace
}  // namespace lb
