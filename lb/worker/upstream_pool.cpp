#include "lb/worker/upstream_pool.h"

namespace lb {

UpstreamPool::UpstreamPool(EventLoop& loop) : loop_(loop), sweep_timer_([this] { sweep(); }) {}

UpstreamPool::~UpstreamPool() { close_all(); }

std::unique_ptr<Stream> UpstreamPool::take(const TargetState* target) {
    auto it = idle_.find(target);
    if (it == idle_.end()) return nullptr;
    auto& entries = it->second;
    while (!entries.empty()) {
        Entry entry = std::move(entries.back());
        entries.pop_back();
        --total_;
        if (loop_.now_ms() - entry.idle_since_ms < kIdleMs) {
            if (entries.empty()) idle_.erase(it);
            entry.stream->set_handler(nullptr);
            return std::move(entry.stream);
        }
        Stream::close(std::move(entry.stream), CloseMode::abort);
    }
    idle_.erase(it);
    return nullptr;
}

void UpstreamPool::put(std::shared_ptr<TargetState> target, std::unique_ptr<Stream> stream) {
    auto& entries = idle_[target.get()];
    if (entries.size() >= kMaxIdlePerTarget) {
        Stream::close(std::move(stream), CloseMode::graceful);
        return;
    }
    stream->set_handler(this);
    stream->start_reading();  // notices the target closing it while idle
    entries.push_back({std::move(stream), std::move(target), loop_.now_ms()});
    ++total_;
    if (!sweep_timer_.armed()) loop_.timers().schedule(sweep_timer_, 1000);
}

void UpstreamPool::drop(Stream& stream) {
    for (auto it = idle_.begin(); it != idle_.end(); ++it) {
        auto& entries = it->second;
        for (size_t i = 0; i < entries.size(); ++i) {
            if (entries[i].stream.get() != &stream) continue;
            Stream::close(std::move(entries[i].stream), CloseMode::abort);
            entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(i));
            --total_;
            if (entries.empty()) idle_.erase(it);
            return;
        }
    }
}

void UpstreamPool::sweep() {
    int64_t now = loop_.now_ms();
    for (auto it = idle_.begin(); it != idle_.end();) {
        auto& entries = it->second;
        bool unusable = !entries.empty() && !entries.front().target->routable();
        for (size_t i = 0; i < entries.size();) {
            if (unusable || now - entries[i].idle_since_ms >= kIdleMs) {
                Stream::close(std::move(entries[i].stream), CloseMode::graceful);
                entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(i));
                --total_;
            } else {
                ++i;
            }
        }
        if (entries.empty()) it = idle_.erase(it);
        else ++it;
    }
    if (total_ > 0) loop_.timers().schedule(sweep_timer_, 1000);
}

void UpstreamPool::close_target(const TargetState* target) {
    auto it = idle_.find(target);
    if (it == idle_.end()) return;
    for (auto& entry : it->second) Stream::close(std::move(entry.stream), CloseMode::graceful);
    total_ -= it->second.size();
    idle_.erase(it);
}

void UpstreamPool::close_all() {
    for (auto& [target, entries] : idle_)
        for (auto& entry : entries) Stream::close(std::move(entry.stream), CloseMode::abort);
    idle_.clear();
    total_ = 0;
    loop_.timers().cancel(sweep_timer_);
}

}  // namespace lb
