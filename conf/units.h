// Durations and sizes as operators write them in the YAML: "250ms", "1h30m",
// "64k". Pure functions; config_loader.cpp adds positions to the errors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "conf/config.h"

namespace lb::conf {

// Longest duration accepted anywhere. Far beyond any sane timeout, and small
// enough that adding it to a nanosecond clock cannot overflow.
inline constexpr Duration max_duration = std::chrono::days(3650);

// "250ms", "10s", "5m", "1h", "7d" and sums such as "1h30m" or "1m30s500ms".
// A unit is required: a bare number is ambiguous (nginx reads seconds,
// HAProxy milliseconds). Units are lower case so "M" is never read as months.
// nullopt for anything else, including values above max_duration.
std::optional<Duration> parse_duration(std::string_view text);

// Shortest exact spelling in the same syntax: 90s -> "1m30s", 0 -> "0s".
std::string format_duration(Duration duration);

// Bytes: "512", "64k", "1m", "2g" (1024-based, as nginx); also "b", "kb",
// "KiB", "MB" ... in any case. No fractions. nullopt on garbage or overflow.
std::optional<uint64_t> parse_size(std::string_view text);

// "64k" when exact, else plain bytes; parse_size reads it back.
std::string format_size(uint64_t bytes);

}  // namespace lb::conf
