#include "lb/base/timer_wheel.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace lb {
namespace {

TEST(TimerWheel, FiresAtDeadlineNotBefore) {
    TimerWheel wheel(1000);
    int fired = 0;
    Timer timer([&] { ++fired; });
    wheel.schedule(timer, 100);
    wheel.advance(1050);
    EXPECT_EQ(fired, 0);
    wheel.advance(1099);
    EXPECT_EQ(fired, 0);
    wheel.advance(1104);  // 4 ms resolution: due by the end of its tick
    EXPECT_EQ(fired, 1);
    EXPECT_FALSE(timer.armed());
    wheel.advance(5000);
    EXPECT_EQ(fired, 1);
}

TEST(TimerWheel, RescheduleMovesTheDeadline) {
    TimerWheel wheel(0);
    int fired = 0;
    Timer timer([&] { ++fired; });
    wheel.schedule(timer, 100);
    wheel.advance(80);
    wheel.schedule(timer, 100);  // now due at 180
    wheel.advance(120);
    EXPECT_EQ(fired, 0);
    wheel.advance(184);
    EXPECT_EQ(fired, 1);
}

TEST(TimerWheel, CancelAndDestroyUnlink) {
    TimerWheel wheel(0);
    int fired = 0;
    Timer a([&] { ++fired; });
    wheel.schedule(a, 10);
    wheel.cancel(a);
    {
        Timer b([&] { ++fired; });
        wheel.schedule(b, 10);
        EXPECT_EQ(wheel.size(), 1u);
    }
    EXPECT_EQ(wheel.size(), 0u);
    wheel.advance(100);
    EXPECT_EQ(fired, 0);
}

TEST(TimerWheel, DeadlinesBeyondOneTurnWaitTheirTurn) {
    TimerWheel wheel(0);
    int fired = 0;
    Timer timer([&] { ++fired; });
    int64_t turn = TimerWheel::kSlots * TimerWheel::kTickMs;
    wheel.schedule(timer, turn * 2 + 40);
    for (int64_t t = 0; t < turn * 2 + 40; t += 1000) wheel.advance(t);
    EXPECT_EQ(fired, 0);
    wheel.advance(turn * 2 + 48);
    EXPECT_EQ(fired, 1);
}

TEST(TimerWheel, CallbackCancellingAnotherDueTimerStopsIt) {
    TimerWheel wheel(0);
    int fired_a = 0, fired_b = 0;
    Timer* a_ptr = nullptr;
    Timer* b_ptr = nullptr;
    // Whichever of the two runs first cancels the other: exactly one fires.
    Timer a([&] {
        ++fired_a;
        wheel.cancel(*b_ptr);
    });
    Timer b([&] {
        ++fired_b;
        wheel.cancel(*a_ptr);
    });
    a_ptr = &a;
    b_ptr = &b;
    wheel.schedule(a, 8);
    wheel.schedule(b, 8);
    wheel.advance(20);
    EXPECT_EQ(fired_a + fired_b, 1);
    EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheel, CallbackMayRescheduleItself) {
    TimerWheel wheel(0);
    int fired = 0;
    Timer* self_ptr = nullptr;
    Timer self([&] {
        if (++fired < 3) wheel.schedule(*self_ptr, 10);
    });
    self_ptr = &self;
    wheel.schedule(self, 10);
    for (int64_t t = 0; t <= 100; t += 4) wheel.advance(t);
    EXPECT_EQ(fired, 3);
    EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheel, CallbackDestroyingAnotherTimerInTheSameSlot) {
    TimerWheel wheel(0);
    int fired = 0;
    auto victim = std::make_unique<Timer>([&] { ++fired; });
    Timer killer([&] { victim.reset(); });
    wheel.schedule(*victim, 8);
    wheel.schedule(killer, 8);  // linked first, so it runs first
    wheel.advance(20);
    EXPECT_EQ(fired, 0);
    EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheel, NextTimeoutFindsTheEarliestSlot) {
    TimerWheel wheel(0);
    EXPECT_EQ(wheel.next_timeout_ms(0), -1);
    Timer late([] {});
    Timer soon([] {});
    wheel.schedule(late, 5000);
    wheel.schedule(soon, 200);
    int64_t next = wheel.next_timeout_ms(0);
    EXPECT_GE(next, 196);
    EXPECT_LE(next, 204);
}

}  // namespace
}  // namespace lb
