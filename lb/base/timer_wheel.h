// TimerWheel: a hashed timing wheel (Varghese & Lauck, "Hashed and
// Hierarchical Timing Wheels", SOSP 1987, scheme 4) for the idle, header,
// connect and drain timeouts of one event loop. Schedule, reschedule and
// cancel are O(1); a bitmap of non-empty slots finds the next expiry fast.
//
// Threading: owned by one EventLoop; only its thread touches it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>

namespace lb {

class TimerWheel;

class Timer {
public:
    explicit Timer(std::function<void()> on_fire) : on_fire_(std::move(on_fire)) {}
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;
    ~Timer();

    bool armed() const { return wheel_ != nullptr; }
    int64_t deadline_ms() const { return deadline_ms_; }

private:
    friend class TimerWheel;
    std::function<void()> on_fire_;
    TimerWheel* wheel_ = nullptr;
    Timer* prev_ = nullptr;
    Timer* next_ = nullptr;
    int64_t deadline_ms_ = 0;
    uint32_t slot_ = 0;
};

class TimerWheel {
public:
    static constexpr int64_t kTickMs = 4;
    static constexpr uint32_t kSlots = 4096;  // one turn = ~16 s; later deadlines wait turns

    explicit TimerWheel(int64_t now_ms);
    ~TimerWheel();

    // Arms (or re-arms) the timer to fire `delay_ms` from now.
    void schedule(Timer& timer, int64_t delay_ms);
    void cancel(Timer& timer);
    // Fires every timer whose deadline is <= now_ms. Callbacks may schedule
    // or cancel any timer, including themselves.
    void advance(int64_t now_ms);
    // Milliseconds until the earliest slot holding a timer, or -1 if none.
    int64_t next_timeout_ms(int64_t now_ms) const;
    size_t size() const { return count_; }

private:
    void link(Timer& timer);
    void unlink(Timer& timer);
    uint32_t slot_of(int64_t deadline_ms) const;

    std::array<Timer*, kSlots> slots_{};
    std::array<uint64_t, kSlots / 64> occupied_{};
    int64_t current_tick_;  // tick number of the slot advance() looks at next
    int64_t now_ms_;
    size_t count_ = 0;
};

}  // namespace lb
