#include "lb/base/timer_wheel.h"

namespace lb {

Timer::~Timer() {
    if (wheel_) wheel_->cancel(*this);
}

TimerWheel::TimerWheel(int64_t now_ms) : current_tick_(now_ms / kTickMs), now_ms_(now_ms) {}

TimerWheel::~TimerWheel() {
    // Timers outliving the wheel must not point at it.
    for (auto* head : slots_) {
        for (Timer* t = head; t;) {
            Timer* next = t->next_;
            t->wheel_ = nullptr;
            t->prev_ = t->next_ = nullptr;
            t = next;
        }
    }
}

uint32_t TimerWheel::slot_of(int64_t deadline_ms) const {
    int64_t tick = (deadline_ms + kTickMs - 1) / kTickMs;
    if (tick < current_tick_) tick = current_tick_;
    return static_cast<uint32_t>(tick % kSlots);
}

void TimerWheel::link(Timer& timer) {
    uint32_t slot = slot_of(timer.deadline_ms_);
    timer.slot_ = slot;
    timer.wheel_ = this;
    timer.prev_ = nullptr;
    timer.next_ = slots_[slot];
    if (timer.next_) timer.next_->prev_ = &timer;
    slots_[slot] = &timer;
    occupied_[slot / 64] |= uint64_t{1} << (slot % 64);
    ++count_;
}

void TimerWheel::unlink(Timer& timer) {
    if (timer.prev_) timer.prev_->next_ = timer.next_;
    else slots_[timer.slot_] = timer.next_;
    if (timer.next_) timer.next_->prev_ = timer.prev_;
    // slot_ == kSlots: the timer sits in advance()'s detached list, not a slot.
    if (timer.slot_ < kSlots && !slots_[timer.slot_])
        occupied_[timer.slot_ / 64] &= ~(uint64_t{1} << (timer.slot_ % 64));
    timer.prev_ = timer.next_ = nullptr;
    timer.wheel_ = nullptr;
    --count_;
}

void TimerWheel::schedule(Timer& timer, int64_t delay_ms) {
    if (timer.wheel_) unlink(timer);
    if (delay_ms < 0) delay_ms = 0;
    timer.deadline_ms_ = now_ms_ + delay_ms;
    link(timer);
}

void TimerWheel::cancel(Timer& timer) {
    if (timer.wheel_ == this) unlink(timer);
}

void TimerWheel::advance(int64_t now_ms) {
    if (now_ms < now_ms_) return;
    now_ms_ = now_ms;
    int64_t last_tick = now_ms / kTickMs;
    // Skip empty turns quickly when nothing is armed.
    if (count_ == 0) {
        current_tick_ = last_tick + 1;
        return;
    }
    for (; current_tick_ <= last_tick; ++current_tick_) {
        uint32_t slot = static_cast<uint32_t>(current_tick_ % kSlots);
        // Detach the slot so callbacks re-arming timers cannot loop forever here.
        Timer* pending = slots_[slot];
        if (!pending) continue;
        slots_[slot] = nullptr;
        occupied_[slot / 64] &= ~(uint64_t{1} << (slot % 64));
        // Re-home the detached list in a local list whose nodes still look linked.
        Timer local_head{nullptr};
        local_head.next_ = pending;
        pending->prev_ = &local_head;
        for (Timer* t = pending; t; t = t->next_) t->slot_ = kSlots;  // marks "in local list"
        while (local_head.next_) {
            Timer* t = local_head.next_;
            local_head.next_ = t->next_;
            if (t->next_) t->next_->prev_ = &local_head;
            t->prev_ = t->next_ = nullptr;
            t->wheel_ = nullptr;
            --count_;
            if (t->deadline_ms_ <= now_ms) {
                t->on_fire_();
            } else {
                link(*t);  // a later turn
            }
        }
        if (count_ == 0) {
            current_tick_ = last_tick + 1;
            return;
        }
    }
}

int64_t TimerWheel::next_timeout_ms(int64_t now_ms) const {
    if (count_ == 0) return -1;
    uint32_t start = static_cast<uint32_t>(current_tick_ % kSlots);
    for (uint32_t step = 0; step <= kSlots / 64; ++step) {
        uint32_t word = ((start / 64) + step) % (kSlots / 64);
        uint64_t bits = occupied_[word];
        if (step == 0) bits &= ~uint64_t{0} << (start % 64);
        if (bits == 0) continue;
        uint32_t slot = word * 64 + static_cast<uint32_t>(__builtin_ctzll(bits));
        int64_t ticks_ahead = (static_cast<int64_t>(slot) - static_cast<int64_t>(start) + kSlots) % kSlots;
        int64_t when = (current_tick_ + ticks_ahead) * kTickMs;
        return when > now_ms ? when - now_ms : 0;
    }
    // Only the part of the start word before `start` is occupied: a full turn away.
    return kSlots * kTickMs;
}

}  // namespace lb
