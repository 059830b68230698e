// The health state machine: thresholds, initial/unused, passive failures.
#include "lb/targets/health_state.h"

#include <gtest/gtest.h>

namespace lb::health {
namespace {

conf::HealthCheck checked(int healthy = 3, int unhealthy = 2) {
    conf::HealthCheck check;
    check.enabled = true;
    check.healthy_threshold = healthy;
    check.unhealthy_threshold = unhealthy;
    return check;
}

class HealthStateTest : public ::testing::Test {
protected:
    TargetState target{"web", *SocketAddress::parse("127.0.0.1:8080")};

    void start(const conf::HealthCheck& check) { target.health = initial_health(check); }
    TargetHealth health() const { return target.health.load(); }
    Transition pass(const conf::HealthCheck& check) { return record_check(target, check, true, ""); }
    Transition fail(const conf::HealthCheck& check, const std::string& why = "HTTP 503") {
        return record_check(target, check, false, why);
    }
};

TEST_F(HealthStateTest, CheckedGroupStartsInitialUncheckedStartsUnused) {
    EXPECT_EQ(initial_health(checked()), TargetHealth::initial);
    conf::HealthCheck none;
    EXPECT_EQ(initial_health(none), TargetHealth::unused);
}

TEST_F(HealthStateTest, InitialBecomesHealthyAfterHealthyThresholdPasses) {
    auto check = checked(3, 2);
    start(check);
    EXPECT_FALSE(target.routable());
    EXPECT_EQ(pass(check), Transition::none);
    EXPECT_EQ(pass(check), Transition::none);
    EXPECT_EQ(health(), TargetHealth::initial);
    EXPECT_EQ(target.reason(), "registration in progress: 2 of 3 checks passed");
    EXPECT_EQ(pass(check), Transition::to_healthy);
    EXPECT_EQ(health(), TargetHealth::healthy);
    EXPECT_TRUE(target.routable());
    EXPECT_EQ(target.reason(), "");
    EXPECT_EQ(pass(check), Transition::none);
}

TEST_F(HealthStateTest, InitialBecomesUnhealthyAfterUnhealthyThresholdFailures) {
    auto check = checked(3, 2);
    start(check);
    EXPECT_EQ(fail(check), Transition::none);
    EXPECT_EQ(health(), TargetHealth::initial);
    EXPECT_EQ(fail(check, "timed out"), Transition::to_unhealthy);
    EXPECT_EQ(health(), TargetHealth::unhealthy);
    EXPECT_EQ(target.reason(), "timed out");
}

TEST_F(HealthStateTest, ThresholdsCountConsecutiveResultsOnly) {
    auto check = checked(2, 3);
    start(check);
    pass(check);
    pass(check);
    ASSERT_EQ(health(), TargetHealth::healthy);
    fail(check);
    fail(check);
    pass(check);  // breaks the run of failures
    fail(check);
    fail(check);
    EXPECT_EQ(health(), TargetHealth::healthy);
    EXPECT_EQ(fail(check), Transition::to_unhealthy);
    pass(check);
    fail(check);  // breaks the run of passes
    EXPECT_EQ(pass(check), Transition::none);
    EXPECT_EQ(target.reason(), "recovering: 1 of 2 checks passed");
    EXPECT_EQ(pass(check), Transition::to_healthy);
}

TEST_F(HealthStateTest, UnhealthyKeepsTheLatestFailureReason) {
    auto check = checked(2, 2);
    start(check);
    fail(check, "first");
    fail(check, "second");
    EXPECT_EQ(fail(check, "third"), Transition::none);
    EXPECT_EQ(target.reason(), "third");
}

TEST_F(HealthStateTest, UnusedIgnoresResults) {
    conf::HealthCheck none;
    start(none);
    EXPECT_TRUE(target.routable());
    EXPECT_EQ(record_check(target, checked(), false, "x"), Transition::none);
    EXPECT_EQ(record_check(target, checked(), false, "x"), Transition::none);
    EXPECT_EQ(health(), TargetHealth::unused);
}

TEST_F(HealthStateTest, PassiveFailuresCountTowardsUnhealthyThreshold) {
    auto check = checked(2, 3);
    start(check);
    pass(check);
    pass(check);
    EXPECT_EQ(record_passive_failure(target, check, "Connection refused"), Transition::none);
    EXPECT_EQ(fail(check), Transition::none);  // active and passive add up
    EXPECT_EQ(record_passive_failure(target, check, "Connection refused"), Transition::to_unhealthy);
    EXPECT_EQ(health(), TargetHealth::unhealthy);
    EXPECT_EQ(target.reason(), "connect failed on live traffic: Connection refused");
    EXPECT_FALSE(target.routable());
}

TEST_F(HealthStateTest, PassingCheckRestartsThePassiveCount) {
    auto check = checked(2, 2);
    start(check);
    pass(check);
    pass(check);
    record_passive_failure(target, check, "e");
    pass(check);
    EXPECT_EQ(record_passive_failure(target, check, "e"), Transition::none);
    EXPECT_EQ(health(), TargetHealth::healthy);
}

TEST_F(HealthStateTest, PassiveFailuresOnlyMoveHealthyTargetsOfCheckedGroups) {
    auto check = checked(2, 2);
    start(check);  // initial: only the checker decides
    for (int i = 0; i < 5; ++i) EXPECT_EQ(record_passive_failure(target, check, "e"), Transition::none);
    EXPECT_EQ(health(), TargetHealth::initial);

    conf::HealthCheck none;
    start(none);  // no checks: nothing would ever bring it back
    for (int i = 0; i < 5; ++i) EXPECT_EQ(record_passive_failure(target, none, "e"), Transition::none);
    EXPECT_EQ(health(), TargetHealth::unused);
}

TEST_F(HealthStateTest, ChecksTurnedOnKeepAServingTargetInRotation) {
    start(conf::HealthCheck{});
    begin_checks(target);
    EXPECT_EQ(health(), TargetHealth::healthy);
    auto check = checked(2, 2);
    fail(check);
    EXPECT_EQ(fail(check), Transition::to_unhealthy);
    begin_checks(target);  // already checked: no change
    EXPECT_EQ(health(), TargetHealth::unhealthy);
}

TEST_F(HealthStateTest, ChecksTurnedOffMakeTargetUnused) {
    auto check = checked(2, 2);
    start(check);
    fail(check);
    fail(check);
    end_checks(target);
    EXPECT_EQ(health(), TargetHealth::unused);
    EXPECT_TRUE(target.routable());
    EXPECT_EQ(target.reason(), "");
    EXPECT_EQ(target.consecutive_failures.load(), 0);
}

TEST_F(HealthStateTest, DrainingIsNeverRoutable) {
    auto check = checked(2, 2);
    start(check);
    pass(check);
    pass(check);
    target.draining = true;
    EXPECT_FALSE(target.routable());
}

}  // namespace
}  // namespace lb::health
