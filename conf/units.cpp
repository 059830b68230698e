#include "conf/units.h"

#include <array>
#include <cctype>

namespace lb::conf {

namespace {

// Reads a run of decimal digits; false on none or on overflow.
bool read_number(std::string_view text, size_t& at, uint64_t& value) {
    size_t start = at;
    value = 0;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
        if (__builtin_mul_overflow(value, 10u, &value) ||
            __builtin_add_overflow(value, static_cast<uint64_t>(text[at] - '0'), &value))
            return false;
        ++at;
    }
    return at > start;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
    if (text.empty()) return std::nullopt;
    uint64_t total_ms = 0;
    size_t at = 0;
    while (at < text.size()) {
        uint64_t number = 0;
        if (!read_number(text, at, number) || at == text.size()) return std::nullopt;
        uint64_t unit_ms = 0;
        if (text.substr(at, 2) == "ms") {
            unit_ms = 1;
            at += 2;
        } else {
            switch (text[at]) {
                case 's': unit_ms = 1000; break;
                case 'm': unit_ms = 60 * 1000; break;
                case 'h': unit_ms = 3600 * 1000; break;
                case 'd': unit_ms = 24 * 3600 * 1000; break;
                default: return std::nullopt;
            }
            ++at;
        }
        uint64_t part = 0;
        if (__builtin_mul_overflow(number, unit_ms, &part) || __builtin_add_overflow(total_ms, part, &total_ms))
            return std::nullopt;
    }
    if (total_ms > static_cast<uint64_t>(max_duration.count())) return std::nullopt;
    return Duration(static_cast<Duration::rep>(total_ms));
}

std::string format_duration(Duration duration) {
    auto ms = duration.count();
    if (ms == 0) return "0s";
    std::string out;
    if (ms < 0) {
        out = "-";
        ms = -ms;
    }
    static constexpr std::array<std::pair<long long, const char*>, 5> units{{
        {24LL * 3600 * 1000, "d"}, {3600LL * 1000, "h"}, {60LL * 1000, "m"}, {1000, "s"}, {1, "ms"}}};
    for (auto [unit_ms, name] : units) {
        if (ms >= unit_ms) {
            out += std::to_string(ms / unit_ms) + name;
            ms %= unit_ms;
        }
    }
    return out;
}

std::optional<uint64_t> parse_size(std::string_view text) {
    size_t at = 0;
    uint64_t number = 0;
    if (!read_number(text, at, number)) return std::nullopt;
    std::string suffix;
    for (char c : text.substr(at)) suffix += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    uint64_t multiplier = 0;
    if (suffix.empty() || suffix == "b") {
        multiplier = 1;
    } else {
        // "k", "kb", "kib" (and the same for m, g) all mean powers of 1024.
        std::string_view unit = suffix;
        if (unit.size() == 3 && unit.substr(1) == "ib") unit = unit.substr(0, 1);
        else if (unit.size() == 2 && unit[1] == 'b') unit = unit.substr(0, 1);
        if (unit == "k") multiplier = 1ULL << 10;
        else if (unit == "m") multiplier = 1ULL << 20;
        else if (unit == "g") multiplier = 1ULL << 30;
        else return std::nullopt;
    }
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(number, multiplier, &bytes)) return std::nullopt;
    return bytes;
}

std::string format_size(uint64_t bytes) {
    static constexpr std::array<std::pair<uint64_t, const char*>, 3> units{{
        {1ULL << 30, "g"}, {1ULL << 20, "m"}, {1ULL << 10, "k"}}};
    for (auto [unit, name] : units)
        if (bytes != 0 && bytes % unit == 0) return std::to_string(bytes / unit) + name;
    return std::to_string(bytes);
}

}  // namespace lb::conf
