#include "lb/targets/maglev_table.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "balancer_test_util.h"
#include "lb/base/hash.h"
#include "lb/targets/balancer_weighted_random.h"

namespace lb {
namespace {

using testing::target_key;

// Headroom over the ideal moved fraction (1/N) allowed by the disruption tests.
constexpr double kDisruptionEpsilon = 0.02;
constexpr int kKeys = 100000;

std::vector<std::string> keys_for(size_t count) {
    std::vector<std::string> keys;
    for (size_t i = 0; i < count; ++i) keys.push_back(target_key(i));
    return keys;
}

std::vector<uint64_t> random_hashes(int count, uint64_t seed) {
    SplitMix64 random(seed);
    std::vector<uint64_t> out;
    for (int i = 0; i < count; ++i) out.push_back(random.next());
    return out;
}

std::vector<uint64_t> slot_counts(const MaglevTable& table) {
    std::vector<uint64_t> counts(table.backend_count(), 0);
    for (uint32_t backend : table.entries()) counts.at(backend)++;
    return counts;
}

TEST(MaglevTable, RejectsBadSizes) {
    const auto keys = keys_for(3);
    const std::vector<uint32_t> weights{1, 1, 1};
    EXPECT_THROW(MaglevTable::build(keys, weights, 65536), std::invalid_argument);
    EXPECT_THROW(MaglevTable::build(keys, weights, 2), std::invalid_argument);  // fewer slots than keys
    EXPECT_THROW(MaglevTable::build(keys, std::vector<uint32_t>{1, 1}, 13), std::invalid_argument);
    EXPECT_NO_THROW(MaglevTable::build(keys, weights, 13));
}

TEST(MaglevTable, PrimesAndSizes) {
    EXPECT_TRUE(MaglevTable::is_prime(65537));
    EXPECT_TRUE(MaglevTable::is_prime(2));
    EXPECT_FALSE(MaglevTable::is_prime(1));
    EXPECT_FALSE(MaglevTable::is_prime(65535));
    EXPECT_EQ(MaglevTable::size_for(0), 65537u);
    EXPECT_EQ(MaglevTable::size_for(655), 65537u);
    EXPECT_EQ(MaglevTable::size_for(1000), 100003u);  // smallest prime >= 100000
}

TEST(MaglevTable, EmptyTableHasNoBackend) {
    const MaglevTable table = MaglevTable::build({}, {}, 13);
    EXPECT_TRUE(table.empty());
    EXPECT_EQ(table.lookup(42), MaglevTable::kNoBackend);
    EXPECT_EQ(table.lookup_allowed(42, [](uint32_t) { return true; }), MaglevTable::kNoBackend);
}

TEST(MaglevTable, FillsEverySlot) {
    const auto keys = keys_for(7);
    const std::vector<uint32_t> weights(7, 1);
    for (uint32_t size : {7u, 13u, 101u, 65537u}) {
        const MaglevTable table = MaglevTable::build(keys, weights, size);
        ASSERT_EQ(table.size(), size);
        for (uint32_t backend : table.entries()) ASSERT_LT(backend, 7u) << "size " << size;
        for (uint64_t count : slot_counts(table)) EXPECT_GE(count, 1u) << "size " << size;
    }
}

TEST(MaglevTable, EqualWeightsShareSlotsEvenly) {
    const auto keys = keys_for(10);
    const std::vector<uint32_t> weights(10, 1);
    const MaglevTable table = MaglevTable::build(keys, weights);
    testing::expect_shares("maglev slots, 10 equal", slot_counts(table), weights, testing::all_indices(10), 0.02);
}

TEST(MaglevTable, SlotsSplitByWeight) {
    const auto keys = keys_for(4);
    const std::vector<uint32_t> weights{1, 2, 3, 4};
    const MaglevTable table = MaglevTable::build(keys, weights);
    testing::expect_shares("maglev slots, weights 1,2,3,4", slot_counts(table), weights, testing::all_indices(4),
                           0.02);
}

TEST(MaglevTable, TinyWeightStillOwnsASlot) {
    const auto keys = keys_for(3);
    const MaglevTable table = MaglevTable::build(keys, std::vector<uint32_t>{1000, 1, 1000}, 101);
    const auto counts = slot_counts(table);
    EXPECT_GE(counts[1], 1u);
    EXPECT_LE(counts[1], 2u);
}

TEST(MaglevTable, DeterministicAcrossBuilds) {
    const auto keys = keys_for(20);
    const std::vector<uint32_t> weights(20, 3);
    const MaglevTable a = MaglevTable::build(keys, weights);
    const MaglevTable b = MaglevTable::build(keys, weights);
    ASSERT_TRUE(std::equal(a.entries().begin(), a.entries().end(), b.entries().begin(), b.entries().end()));
    for (uint64_t hash : random_hashes(kKeys, 7)) ASSERT_EQ(a.lookup(hash), b.lookup(hash));
}

// Instances listing the same targets in another order must still agree.
TEST(MaglevTable, IndependentOfKeyOrder) {
    auto keys = keys_for(10);
    const std::vector<uint32_t> weights{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    const MaglevTable forward = MaglevTable::build(keys, weights);
    std::vector<std::string> reversed_keys(keys.rbegin(), keys.rend());
    std::vector<uint32_t> reversed_weights(weights.rbegin(), weights.rend());
    const MaglevTable reversed = MaglevTable::build(reversed_keys, reversed_weights);
    for (uint64_t hash : random_hashes(kKeys, 8)) {
        ASSERT_EQ(keys[forward.lookup(hash)], reversed_keys[reversed.lookup(hash)]);
    }
}

// The placement itself is part of the cross-instance contract.
TEST(MaglevTable, PinnedPlacement) {
    const auto keys = keys_for(5);
    const MaglevTable table = MaglevTable::build(keys, std::vector<uint32_t>{1, 1, 1, 1, 1});
    std::vector<uint32_t> first_slots(table.entries().begin(), table.entries().begin() + 16);
    EXPECT_EQ(first_slots, (std::vector<uint32_t>{3, 1, 0, 3, 3, 1, 1, 0, 4, 3, 1, 2, 3, 3, 0, 1}));
    std::vector<uint32_t> clients;
    for (int i = 1; i <= 12; ++i) {
        auto address = SocketAddress::parse("192.0.2." + std::to_string(i) + ":80");
        clients.push_back(table.lookup(hash_client_address(*address)));
    }
    EXPECT_EQ(clients, (std::vector<uint32_t>{0, 1, 4, 2, 1, 1, 3, 3, 2, 0, 1, 3}));
}

// Section 3.4's claim: when a backend leaves, little beyond its own share moves.
struct Movement {
    double moved = 0;         // fraction of all keys whose backend changed
    double stayers_moved = 0; // of keys not on the removed backend, fraction that moved
};

Movement measure_removal(size_t count, size_t removed) {
    const auto keys = keys_for(count);
    const std::vector<uint32_t> weights(count, 1);
    std::vector<std::string> fewer_keys = keys;
    fewer_keys.erase(fewer_keys.begin() + static_cast<long>(removed));
    const std::vector<uint32_t> fewer_weights(count - 1, 1);
    const MaglevTable before = MaglevTable::build(keys, weights);
    const MaglevTable after = MaglevTable::build(fewer_keys, fewer_weights);
    int moved = 0, stayers = 0, stayers_moved = 0;
    for (uint64_t hash : random_hashes(kKeys, 1000 + count)) {
        const std::string& old_key = keys[before.lookup(hash)];
        const std::string& new_key = fewer_keys[after.lookup(hash)];
        if (old_key != new_key) ++moved;
        if (old_key != keys[removed]) {
            ++stayers;
            if (old_key != new_key) ++stayers_moved;
        }
    }
    return {static_cast<double>(moved) / kKeys, static_cast<double>(stayers_moved) / stayers};
}

TEST(MaglevTable, RemovingABackendMovesLittleMoreThanItsShare) {
    for (size_t count : {5u, 10u, 50u}) {
        const Movement m = measure_removal(count, count / 2);
        const double ideal = 1.0 / static_cast<double>(count);
        std::printf("[ maglev   ] remove 1 of %zu: moved %.4f (ideal %.4f, limit %.4f); other keys moved %.4f\n",
                    count, m.moved, ideal, ideal + kDisruptionEpsilon, m.stayers_moved);
        EXPECT_LE(m.moved, ideal + kDisruptionEpsilon) << count;
        EXPECT_GE(m.moved, ideal * 0.9) << count;  // the removed backend's keys did move
        EXPECT_LE(m.stayers_moved, kDisruptionEpsilon) << count;
    }
}

TEST(MaglevTable, AddingABackendMovesLittleMoreThanItsShare) {
    for (size_t count : {5u, 10u, 50u}) {
        const auto keys = keys_for(count + 1);
        const std::vector<std::string> fewer_keys(keys.begin(), keys.end() - 1);
        const MaglevTable before = MaglevTable::build(fewer_keys, std::vector<uint32_t>(count, 1));
        const MaglevTable after = MaglevTable::build(keys, std::vector<uint32_t>(count + 1, 1));
        int moved = 0;
        for (uint64_t hash : random_hashes(kKeys, 2000 + count)) {
            if (fewer_keys[before.lookup(hash)] != keys[after.lookup(hash)]) ++moved;
        }
        const double fraction = static_cast<double>(moved) / kKeys;
        const double ideal = 1.0 / static_cast<double>(count + 1);
        std::printf("[ maglev   ] add 1 to %zu: moved %.4f (ideal %.4f, limit %.4f)\n", count, fraction, ideal,
                    ideal + kDisruptionEpsilon);
        EXPECT_LE(fraction, ideal + kDisruptionEpsilon) << count;
    }
}

TEST(MaglevTable, ProbingPastDisallowedBackendKeepsOthersInPlace) {
    const size_t count = 10;
    const auto keys = keys_for(count);
    const std::vector<uint32_t> weights{1, 2, 3, 4, 5, 1, 2, 3, 4, 5};
    const MaglevTable table = MaglevTable::build(keys, weights);
    const uint32_t down = 4;
    std::vector<uint64_t> displaced(count, 0);
    int displaced_total = 0;
    for (uint64_t hash : random_hashes(kKeys, 9)) {
        const uint32_t home = table.lookup(hash);
        const uint32_t got = table.lookup_allowed(hash, [&](uint32_t b) { return b != down; });
        ASSERT_NE(got, down);
        if (home != down) {
            ASSERT_EQ(got, home);
        } else {
            displaced[got]++;
            displaced_total++;
        }
    }
    // The displaced clients spread over the others roughly by weight.
    std::printf("[ maglev   ] displaced by backend %u going down:", down);
    for (size_t b = 0; b < count; ++b) std::printf(" %zu", static_cast<size_t>(displaced[b]));
    std::printf("\n");
    ASSERT_GT(displaced_total, 0);
    for (size_t b = 0; b < count; ++b) {
        if (b == down) continue;
        const double share = static_cast<double>(displaced[b]) / displaced_total;
        EXPECT_NEAR(share, weights[b] / 25.0, 0.05) << b;
    }
}

TEST(MaglevTable, ProbingFindsTheOnlyAllowedBackend) {
    const auto keys = keys_for(50);
    const MaglevTable table = MaglevTable::build(keys, std::vector<uint32_t>(50, 1));
    for (uint64_t hash : random_hashes(1000, 10)) {
        ASSERT_EQ(table.lookup_allowed(hash, [](uint32_t b) { return b == 17; }), 17u);
    }
    EXPECT_EQ(table.lookup_allowed(5, [](uint32_t) { return false; }), MaglevTable::kNoBackend);
}

}  // namespace
}  // namespace lb
