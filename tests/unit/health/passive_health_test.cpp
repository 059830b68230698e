// Passive health (health/passive_health.h, README "Health checks"):
// max_fails failed tries within fail_timeout, counted from the first, take
// a target out of rotation for fail_timeout without touching its health
// state. Real time, with short windows: every wait is on an observable
// state or the clock, with a deadline.
#include "health/passive_health.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace lb {
namespace {

using namespace std::chrono_literals;

conf::PassiveHealth passive(int max_fails, std::chrono::milliseconds fail_timeout) {
    conf::PassiveHealth out;
    out.max_fails = max_fails;
    out.fail_timeout = fail_timeout;
    return out;
}

// Polls `done` every millisecond for up to 5 s; false on timeout.
template <class Done>
bool wait_for(Done&& done) {
    const int64_t deadline = steady_now_ms() + 5000;
    while (!done()) {
        if (steady_now_ms() > deadline) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

class PassiveHealthTest : public ::testing::Test {
protected:
    TargetState target{"web", *SocketAddress::parse("127.0.0.1:8080")};
};

TEST_F(PassiveHealthTest, MaxFailsWithinTheWindowTakeTheTargetOut) {
    const auto rule = passive(3, 10s);
    note_failed_try(target, rule);
    note_failed_try(target, rule);
    EXPECT_TRUE(target.routable());
    EXPECT_FALSE(target.passive_out());
    const int64_t before = steady_now_ms();
    note_failed_try(target, rule);
    const int64_t after = steady_now_ms();
    EXPECT_TRUE(target.passive_out());
    EXPECT_FALSE(target.routable());
    // Out for fail_timeout from the failure that made it max_fails.
    EXPECT_GE(target.passive_out_until_ms.load(), before + 10000);
    EXPECT_LE(target.passive_out_until_ms.load(), after + 10000);
    // Its health is not passive health's business.
    EXPECT_EQ(target.health.load(), TargetHealth::unused);
    EXPECT_STREQ(target.state_name(), "unused");
    // The count starts over for the next time.
    EXPECT_EQ(target.passive_fails.load(), 0);
}

TEST_F(PassiveHealthTest, AHealthyTargetGoesOutToo) {
    target.health = TargetHealth::healthy;
    note_failed_try(target, passive(1, 10s));
    EXPECT_FALSE(target.routable());
    EXPECT_EQ(target.health.load(), TargetHealth::healthy);
    EXPECT_STREQ(target.state_name(), "healthy");
}

TEST_F(PassiveHealthTest, MaxFailsZeroDoesNothing) {
    const auto rule = passive(0, 10s);
    for (int i = 0; i < 100; ++i) note_failed_try(target, rule);
    EXPECT_TRUE(target.routable());
    EXPECT_FALSE(target.passive_out());
    EXPECT_EQ(target.passive_fails.load(), 0);
    EXPECT_EQ(target.passive_window_start_ms.load(), 0);
    EXPECT_EQ(target.passive_out_until_ms.load(), 0);
}

TEST_F(PassiveHealthTest, OutEndsAfterFailTimeout) {
    const auto rule = passive(1, 100ms);
    const int64_t before = steady_now_ms();
    note_failed_try(target, rule);
    EXPECT_FALSE(target.routable());
    ASSERT_TRUE(wait_for([&] { return target.routable(); })) << "still out after 5 s";
    EXPECT_GE(steady_now_ms() - before, 100);
    EXPECT_FALSE(target.passive_out());
    EXPECT_EQ(target.passive_out_until_ms.load(), 0);  // cleared by the first reader after it passed
}

TEST_F(PassiveHealthTest, OutAgainAtTheNextMaxFails) {
    const auto rule = passive(2, 100ms);
    note_failed_try(target, rule);
    note_failed_try(target, rule);
    ASSERT_FALSE(target.routable());
    ASSERT_TRUE(wait_for([&] { return target.routable(); }));
    note_failed_try(target, rule);
    EXPECT_TRUE(target.routable());  // one failure of the next two
    note_failed_try(target, rule);
    EXPECT_FALSE(target.routable());
}

TEST_F(PassiveHealthTest, FailuresSpreadOverMoreThanFailTimeoutDoNotAddUp) {
    const auto rule = passive(2, 200ms);
    note_failed_try(target, rule);
    const int64_t first = target.passive_window_start_ms.load();
    ASSERT_NE(first, 0);
    ASSERT_TRUE(wait_for([&] { return steady_now_ms() - first >= 200; }));
    note_failed_try(target, rule);  // a new window opens with this one
    EXPECT_TRUE(target.routable());
    EXPECT_EQ(target.passive_fails.load(), 1);
    EXPECT_GT(target.passive_window_start_ms.load(), first);
    note_failed_try(target, rule);  // two within the new window
    EXPECT_FALSE(target.routable());
}

// The window is counted from its first failure: one that comes later than
// fail_timeout after it opens a new window even if the previous failure
// was recent. (The window's start is set directly here so the test does not
// depend on how fast it runs.)
TEST_F(PassiveHealthTest, TheWindowCountsFromItsFirstFailure) {
    const auto rule = passive(3, 10s);
    const int64_t now = steady_now_ms();
    target.passive_window_start_ms = now - 9000;
    target.passive_fails = 2;
    note_failed_try(target, rule);
    EXPECT_FALSE(target.routable()) << "the third failure within 10 s of the first";

    TargetState other{"web", *SocketAddress::parse("127.0.0.1:8081")};
    other.passive_window_start_ms = now - 10001;
    other.passive_fails = 2;
    note_failed_try(other, rule);
    EXPECT_TRUE(other.routable()) << "the first window ended: this failure is the first of a new one";
    EXPECT_EQ(other.passive_fails.load(), 1);
}

TEST_F(PassiveHealthTest, FailuresWhileOutDoNotExtendIt) {
    const auto rule = passive(1, 10s);
    note_failed_try(target, rule);
    const int64_t until = target.passive_out_until_ms.load();
    ASSERT_GT(until, 0);
    // Tries still in flight when it went out fail afterwards.
    std::this_thread::sleep_for(5ms);
    note_failed_try(target, rule);
    note_failed_try(target, rule);
    EXPECT_EQ(target.passive_out_until_ms.load(), until);
}

TEST_F(PassiveHealthTest, AnUnhealthyTargetStaysOutWhenThePassiveOutEnds) {
    const auto rule = passive(1, 50ms);
    target.health = TargetHealth::unhealthy;
    note_failed_try(target, rule);
    EXPECT_TRUE(target.passive_out());
    ASSERT_TRUE(wait_for([&] { return !target.passive_out(); }));
    EXPECT_FALSE(target.routable());
    target.health = TargetHealth::healthy;
    EXPECT_TRUE(target.routable());
}

}  // namespace
}  // namespace lb
