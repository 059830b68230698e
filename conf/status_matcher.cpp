#include "conf/status_matcher.h"

#include <charconv>

namespace lb::conf {

namespace {

std::string_view trim(std::string_view text) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    return text;
}

std::optional<int> parse_code(std::string_view text) {
    text = trim(text);
    if (text.size() != 3) return std::nullopt;
    int code = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
    if (ec != std::errc() || end != text.data() + text.size() || code < 100 || code > 599) return std::nullopt;
    return code;
}

}  // namespace

std::optional<std::vector<std::pair<int, int>>> parse_status_matcher(std::string_view text) {
    std::vector<std::pair<int, int>> ranges;
    while (true) {
        auto comma = text.find(',');
        std::string_view part = text.substr(0, comma);
        auto dash = part.find('-');
        auto lo = parse_code(part.substr(0, dash));
        auto hi = dash == std::string_view::npos ? lo : parse_code(part.substr(dash + 1));
        if (!lo || !hi || *lo > *hi) return std::nullopt;
        ranges.emplace_back(*lo, *hi);
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return ranges;
}

}  // namespace lb::conf
