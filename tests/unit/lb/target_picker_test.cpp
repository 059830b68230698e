// pick_target: which targets a new request may go to (routable, weight > 0,
// not excluded), failing open when none is healthy but never to a draining
// target, keeping sticky clients, and narrowing to one zone with cross_zone
// off. Built from a real config through the RuntimeBuilder, as a worker
// sees it.
#include "lb/worker/target_picker.h"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/unit/lb/worker_snapshot_support.h"

namespace lb {
namespace {

class PickTarget : public ::testing::Test {
protected:
    // One listener and group "g" with `targets` (YAML flow items) plus `extra` group keys.
    void build(const std::string& targets, const std::string& extra = "") {
        testing::build_snapshot(builder_, testing::one_group_yaml(targets, extra), snapshot_);
    }

    const TargetGroupRuntime& group() const { return *snapshot_.runtime->groups.front(); }
    const TargetEntry& entry(uint16_t port) const {
        for (const auto& e : group().targets)
            if (e.config.addr.port() == port) return e;
        throw std::runtime_error("no target on port " + std::to_string(port));
    }
    TargetState& state(uint16_t port) const { return *entry(port).state; }

    // The ports `count` picks land on, with `exclude` and `sticky`.
    std::multiset<uint16_t> picks(int count, std::vector<const TargetState*> exclude = {},
                                  const TargetEntry* sticky = nullptr, uint64_t client_hash = 0) {
        std::multiset<uint16_t> out;
        for (int i = 0; i < count; ++i) {
            const TargetEntry* picked = pick_target(snapshot_, group(), client_hash + static_cast<uint64_t>(i), exclude,
                                                    sticky);
            out.insert(picked ? picked->config.addr.port() : 0);
        }
        return out;
    }

    static std::set<uint16_t> distinct(const std::multiset<uint16_t>& ports) { return {ports.begin(), ports.end()}; }

    RuntimeBuilder builder_;
    WorkerSnapshot snapshot_;
};

constexpr const char* kThree =
    "{ address: 10.0.0.1, port: 1 }, { address: 10.0.0.1, port: 2 }, { address: 10.0.0.1, port: 3 }";

TEST_F(PickTarget, OnlyRoutableTargetsWithWeight) {
    build("{ address: 10.0.0.1, port: 1 }, { address: 10.0.0.1, port: 2 }, "
          "{ address: 10.0.0.1, port: 3, weight: 0 }, { address: 10.0.0.1, port: 4 }");
    state(2).health.store(TargetHealth::unhealthy);
    state(4).draining.store(true);
    EXPECT_EQ(distinct(picks(100)), (std::set<uint16_t>{1}));
}

TEST_F(PickTarget, FailsOpenToEveryNonDrainingTargetWhenNoneIsHealthy) {
    build(kThree);
    state(1).health.store(TargetHealth::unhealthy);
    state(2).health.store(TargetHealth::initial);
    state(3).draining.store(true);
    EXPECT_EQ(distinct(picks(100)), (std::set<uint16_t>{1, 2}));
    state(1).draining.store(true);
    state(2).draining.store(true);
    EXPECT_EQ(distinct(picks(10)), (std::set<uint16_t>{0}));  // nothing left: 503
}

TEST_F(PickTarget, ExcludedTargetsAreSkippedEvenWhenFailingOpen) {
    build(kThree);
    EXPECT_EQ(distinct(picks(100, {&state(1)})), (std::set<uint16_t>{2, 3}));
    EXPECT_EQ(distinct(picks(10, {&state(1), &state(2), &state(3)})), (std::set<uint16_t>{0}));
    for (uint16_t port : {1, 2, 3}) state(port).health.store(TargetHealth::unhealthy);
    EXPECT_EQ(distinct(picks(100, {&state(3)})), (std::set<uint16_t>{1, 2}));
}

TEST_F(PickTarget, StickyTargetKeptWhileItMayTakeTraffic) {
    build("{ address: 10.0.0.1, port: 1 }, { address: 10.0.0.1, port: 2, weight: 0 }, "
          "{ address: 10.0.0.1, port: 3 }");
    EXPECT_EQ(distinct(picks(50, {}, &entry(1))), (std::set<uint16_t>{1}));
    // Weight 0 takes no new clients but keeps its sticky ones.
    EXPECT_EQ(distinct(picks(50, {}, &entry(2))), (std::set<uint16_t>{2}));
    state(1).health.store(TargetHealth::unhealthy);
    EXPECT_EQ(distinct(picks(50, {}, &entry(1))), (std::set<uint16_t>{3}));
    state(3).draining.store(true);
    state(2).draining.store(true);
    // Failing open, the sticky target is as good as any: kept unless draining.
    EXPECT_EQ(distinct(picks(50, {}, &entry(1))), (std::set<uint16_t>{1}));
    EXPECT_EQ(distinct(picks(50, {&state(1)}, &entry(1))), (std::set<uint16_t>{0}));
}

TEST_F(PickTarget, CrossZoneOffNarrowsToZonesWithHealthyTargets) {
    build("{ address: 10.0.0.1, port: 1, zone: a }, { address: 10.0.0.1, port: 2, zone: b }, "
          "{ address: 10.0.0.1, port: 3, zone: b }, { address: 10.0.0.1, port: 4, zone: b }",
          "    cross_zone: false\n");
    auto counts = picks(3000);
    // Zone a's single target gets half, like zone b's three together.
    EXPECT_NEAR(static_cast<double>(counts.count(1)), 1500.0, 150.0);
    for (uint16_t port : {2, 3, 4}) EXPECT_NEAR(static_cast<double>(counts.count(port)), 500.0, 100.0);
    // A zone without a routable target drops out of the split.
    state(1).health.store(TargetHealth::unhealthy);
    EXPECT_EQ(distinct(picks(300)), (std::set<uint16_t>{2, 3, 4}));
}

TEST_F(PickTarget, SourceIpHashIsStablePerClient) {
    build(kThree, "    algorithm: source_ip_hash\n");
    for (uint64_t client = 1; client < 200; client += 7) {
        const TargetEntry* first = pick_target(snapshot_, group(), client * 0x9E3779B97F4A7C15ull);
        for (int i = 0; i < 5; ++i) EXPECT_EQ(pick_target(snapshot_, group(), client * 0x9E3779B97F4A7C15ull), first);
    }
}

// SRV priorities: the lowest tier with a target that may take traffic
// serves alone; the next one only when none of it can; a sticky client of
// the backup tier moves back once the preferred tier recovers.
TEST_F(PickTarget, LowestTierServesWhileAnyOfItCan) {
    auto config = conf::load_config_string(testing::one_group_yaml(kThree), "lb.yaml");
    ASSERT_TRUE(config) << config.error();
    config->target_groups[0].targets[2].tier = 10;  // port 3: the backup
    testing::build_snapshot(builder_, *config, snapshot_);
    EXPECT_EQ(distinct(picks(60)), (std::set<uint16_t>{1, 2}));
    state(1).health.store(TargetHealth::unhealthy);
    EXPECT_EQ(distinct(picks(30)), (std::set<uint16_t>{2}));
    state(2).health.store(TargetHealth::unhealthy);
    EXPECT_EQ(distinct(picks(30)), (std::set<uint16_t>{3}));
    EXPECT_EQ(distinct(picks(5, {}, &entry(3))), (std::set<uint16_t>{3}));
    state(2).health.store(TargetHealth::healthy);
    EXPECT_EQ(distinct(picks(30, {}, &entry(3))), (std::set<uint16_t>{2}));
    // A retry may still go down a tier when the preferred one is used up.
    EXPECT_EQ(distinct(picks(10, {&state(2)})), (std::set<uint16_t>{3}));
}

// ---------------------------------------------------------------- backup targets, passive health

constexpr const char* kTwoAndBackup =
    "{ address: 10.0.0.1, port: 1 }, { address: 10.0.0.1, port: 2 }, { address: 10.0.0.1, port: 3, backup: true }";

// A backup target gets traffic only while no other target may take it, and
// loses it as soon as one may again.
TEST_F(PickTarget, BackupServesOnlyWhileNoPrimaryMay) {
    build(kTwoAndBackup);
    EXPECT_EQ(distinct(picks(60)), (std::set<uint16_t>{1, 2}));
    state(1).health.store(TargetHealth::unhealthy);
    EXPECT_EQ(distinct(picks(30)), (std::set<uint16_t>{2}));
    state(2).draining.store(true);
    EXPECT_EQ(distinct(picks(30)), (std::set<uint16_t>{3}));
    state(1).health.store(TargetHealth::healthy);
    EXPECT_EQ(distinct(picks(30)), (std::set<uint16_t>{1}));
}

TEST_F(PickTarget, BackupServesWhilePrimariesHaveWeightZero) {
    build("{ address: 10.0.0.1, port: 1, weight: 0 }, { address: 10.0.0.1, port: 2, backup: true }");
    EXPECT_EQ(distinct(picks(30)), (std::set<uint16_t>{2}));
}

// A sticky client of the backup moves back once a primary may serve.
TEST_F(PickTarget, StickyClientOfTheBackupMovesBack) {
    build(kTwoAndBackup);
    state(1).health.store(TargetHealth::unhealthy);
    state(2).health.store(TargetHealth::unhealthy);
    EXPECT_EQ(distinct(picks(10, {}, &entry(3))), (std::set<uint16_t>{3}));
    state(2).health.store(TargetHealth::healthy);
    EXPECT_EQ(distinct(picks(10, {}, &entry(3))), (std::set<uint16_t>{2}));
    // A sticky client of a primary is not sent to the backup.
    EXPECT_EQ(distinct(picks(10, {}, &entry(2))), (std::set<uint16_t>{2}));
}

// A retry whose primaries are all tried goes to the backup.
TEST_F(PickTarget, RetryReachesTheBackupOncePrimariesAreTried) {
    build(kTwoAndBackup);
    EXPECT_EQ(distinct(picks(10, {&state(1)})), (std::set<uint16_t>{2}));
    EXPECT_EQ(distinct(picks(10, {&state(1), &state(2)})), (std::set<uint16_t>{3}));
    EXPECT_EQ(distinct(picks(10, {&state(1), &state(2), &state(3)})), (std::set<uint16_t>{0}));
}

// Nothing routable at all: the group fails open to its primaries, not its
// backup.
TEST_F(PickTarget, FailOpenGoesToThePrimaries) {
    build(kTwoAndBackup);
    for (uint16_t port : {1, 2, 3}) state(port).health.store(TargetHealth::unhealthy);
    EXPECT_EQ(distinct(picks(60)), (std::set<uint16_t>{1, 2}));
    // Primaries that cannot serve even failing open (draining): the backup.
    state(1).draining.store(true);
    state(2).draining.store(true);
    EXPECT_EQ(distinct(picks(30)), (std::set<uint16_t>{3}));
}

TEST_F(PickTarget, PassiveOutTargetsAreSkippedUntilTheirTimeEnds) {
    build(kThree);
    state(1).passive_out_until_ms.store(steady_now_ms() + 60000);
    EXPECT_EQ(distinct(picks(60)), (std::set<uint16_t>{2, 3}));
    // A sticky client of it moves too.
    EXPECT_EQ(distinct(picks(20, {}, &entry(1))), (std::set<uint16_t>{2, 3}));
    state(1).passive_out_until_ms.store(steady_now_ms() - 1);
    EXPECT_EQ(distinct(picks(60)), (std::set<uint16_t>{1, 2, 3}));
}

TEST_F(PickTarget, PassiveOutPrimariesSendTrafficToTheBackup) {
    build(kTwoAndBackup);
    state(1).passive_out_until_ms.store(steady_now_ms() + 60000);
    EXPECT_EQ(distinct(picks(30)), (std::set<uint16_t>{2}));
    state(2).passive_out_until_ms.store(steady_now_ms() + 60000);
    EXPECT_EQ(distinct(picks(30)), (std::set<uint16_t>{3}));
    // Every target out: fail open, to the primaries.
    state(3).passive_out_until_ms.store(steady_now_ms() + 60000);
    EXPECT_EQ(distinct(picks(60)), (std::set<uint16_t>{1, 2}));
}

// A hash group (keyless requests round robin) keeps the same rules.
TEST_F(PickTarget, HashGroupWithBackup) {
    build(kTwoAndBackup, "    algorithm: hash\n    hash_key: \"header:X-User\"\n");
    EXPECT_EQ(distinct(picks(60, {}, nullptr, kNoClientHash)), (std::set<uint16_t>{1, 2}));
    state(1).health.store(TargetHealth::unhealthy);
    state(2).health.store(TargetHealth::unhealthy);
    EXPECT_EQ(distinct(picks(30, {}, nullptr, 12345)), (std::set<uint16_t>{3}));
}

}  // namespace
}  // namespace lb
