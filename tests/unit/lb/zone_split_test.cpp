// Cross-zone off: the split across zones, then by target weight inside the
// chosen zone; zones without eligible targets drop out.
#include "lb/targets/zone_split.h"

#include <gtest/gtest.h>

#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "lb/base/hash.h"
#include "lb/targets/balancer_round_robin.h"

namespace lb {
namespace {

std::vector<uint32_t> all_targets(size_t n) {
    std::vector<uint32_t> out(n);
    std::iota(out.begin(), out.end(), 0u);
    return out;
}

// What the target picker does with cross_zone off: a zone by rotation, then
// round robin among that zone's eligible targets. Returns picks per target.
std::vector<int> distribute(const ZoneSplit& split, std::vector<uint32_t> target_weights,
                            const std::vector<uint32_t>& eligible, int picks) {
    ZoneRotation rotation(split);
    RoundRobinBalancer balancer(target_weights);
    std::vector<int> counts(target_weights.size(), 0);
    std::vector<uint32_t> in_zone;
    for (int i = 0; i < picks; ++i) {
        const uint32_t zone = rotation.pick(split, eligible);
        in_zone.clear();
        for (uint32_t target : eligible)
            if (split.zone_of(target) == zone) in_zone.push_back(target);
        ++counts[balancer.pick(in_zone, 0)];
    }
    return counts;
}

TEST(ZoneSplit, IndexesZonesByNameWithDefaultAndConfiguredWeights) {
    std::vector<std::string> zones = {"zone-b", "zone-a", "", "zone-b"};
    ZoneSplit split(zones, {{"zone-b", 3}, {"zone-c", 7}});
    ASSERT_EQ(split.zone_count(), 3u);   // "", zone-a, zone-b; zone-c has no target
    EXPECT_EQ(split.name(0), "");
    EXPECT_EQ(split.name(1), "zone-a");
    EXPECT_EQ(split.name(2), "zone-b");
    EXPECT_EQ(split.weight(1), 1u);
    EXPECT_EQ(split.weight(2), 3u);
    EXPECT_EQ(split.zone_of(0), 2u);
    EXPECT_EQ(split.zone_of(1), 1u);
    EXPECT_EQ(split.zone_of(2), 0u);
    EXPECT_EQ(split.zone_of(3), 2u);
}

TEST(ZoneSplit, TwoTargetsInOneZoneAndEightInAnotherGet25And6Point25Percent) {
    std::vector<std::string> zones(10, "zone-b");
    zones[0] = zones[1] = "zone-a";
    ZoneSplit split(zones, {});
    auto counts = distribute(split, std::vector<uint32_t>(10, 1), all_targets(10), 16000);
    EXPECT_EQ(counts[0], 4000);   // 25%
    EXPECT_EQ(counts[1], 4000);
    for (int i = 2; i < 10; ++i) EXPECT_EQ(counts[i], 1000) << i;   // 6.25%
}

TEST(ZoneSplit, TargetWeightsApplyInsideTheZone) {
    ZoneSplit split(std::vector<std::string>{"a", "a", "b"}, {});
    auto counts = distribute(split, {3, 1, 5}, all_targets(3), 800);
    EXPECT_EQ(counts[0], 300);   // 3/4 of zone a's half
    EXPECT_EQ(counts[1], 100);
    EXPECT_EQ(counts[2], 400);   // zone b's half, whatever its weight
}

TEST(ZoneSplit, ZoneWeightsOverrideTheEqualSplit) {
    ZoneSplit split(std::vector<std::string>{"a", "b", "b"}, {{"a", 1}, {"b", 3}});
    auto counts = distribute(split, {1, 1, 1}, all_targets(3), 4000);
    EXPECT_EQ(counts[0], 1000);
    EXPECT_EQ(counts[1], 1500);
    EXPECT_EQ(counts[2], 1500);
}

TEST(ZoneSplit, AZoneWithoutEligibleTargetsDropsOutAndTheOthersShareItsPart) {
    ZoneSplit split(std::vector<std::string>{"a", "b", "c", "c"}, {});
    auto counts = distribute(split, {1, 1, 1, 1}, {1, 2, 3}, 3000);   // zone a's only target is out
    EXPECT_EQ(counts[0], 0);
    EXPECT_EQ(counts[1], 1500);
    EXPECT_EQ(counts[2], 750);
    EXPECT_EQ(counts[3], 750);
}

TEST(ZoneRotation, InterleavesZonesAndStaysExactWhileZonesComeAndGo) {
    ZoneSplit split(std::vector<std::string>{"a", "b"}, {{"a", 2}});
    ZoneRotation rotation(split);
    std::vector<uint32_t> both = {0, 1};
    std::vector<uint32_t> only_b = {1};
    std::string order;
    for (int i = 0; i < 6; ++i) order += split.name(rotation.pick(split, both));
    EXPECT_EQ(order, "abaaba");   // smooth: never three a's in a row
    for (int i = 0; i < 5; ++i) EXPECT_EQ(rotation.pick(split, only_b), 1u);
    std::map<uint32_t, int> counts;
    for (int i = 0; i < 300; ++i) ++counts[rotation.pick(split, both)];
    EXPECT_NEAR(counts[0], 200, 2);
    EXPECT_NEAR(counts[1], 100, 2);
}

TEST(ZoneSplit, HashedClientsKeepTheirZoneAndSpreadByZoneWeight) {
    ZoneSplit split(std::vector<std::string>{"a", "b", "c"}, {{"c", 2}});
    const auto eligible = all_targets(3);
    std::vector<int> counts(3, 0);
    const int clients = 40000;
    for (int client = 0; client < clients; ++client) {
        const uint64_t hash = mix64(static_cast<uint64_t>(client));
        const uint32_t zone = split.zone_for_hash(eligible, hash);
        EXPECT_EQ(split.zone_for_hash(eligible, hash), zone);
        ++counts[zone];
    }
    EXPECT_NEAR(counts[0], clients / 4, clients / 100);
    EXPECT_NEAR(counts[1], clients / 4, clients / 100);
    EXPECT_NEAR(counts[2], clients / 2, clients / 100);
}

TEST(ZoneSplit, AZoneDroppingOutMovesOnlyItsOwnHashedClients) {
    ZoneSplit split(std::vector<std::string>{"a", "b", "c"}, {});
    const std::vector<uint32_t> all = {0, 1, 2};
    const std::vector<uint32_t> without_b = {0, 2};
    int moved_from_b = 0;
    for (uint64_t client = 0; client < 3000; ++client) {
        const uint64_t hash = mix64(client);
        const uint32_t before = split.zone_for_hash(all, hash);
        const uint32_t after = split.zone_for_hash(without_b, hash);
        if (before != 1) EXPECT_EQ(after, before) << client;
        else ++moved_from_b;
        EXPECT_NE(after, 1u);
    }
    EXPECT_GT(moved_from_b, 800);
}

}  // namespace
}  // namespace lb
