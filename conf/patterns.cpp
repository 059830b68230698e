#include "conf/patterns.h"

#include <algorithm>

namespace lb::conf {

namespace {

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool is_control(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

std::string quoted(char c) { return std::string("'") + c + "'"; }

// What every pattern shares: not empty, bounded, no control bytes, and no
// glob or regex syntax the matcher would take literally ("bad wildcard").
std::optional<std::string> check_common(std::string_view pattern) {
    if (pattern.empty()) return "must not be empty";
    if (pattern.size() > max_pattern_length)
        return "must be at most " + std::to_string(max_pattern_length) + " characters";
    for (char c : pattern) {
        if (is_control(c)) return "must not contain control characters";
        if (c == '[' || c == ']' || c == '{' || c == '}' || c == '\\')
            return "only '*' and '?' are wildcards; " + quoted(c) + " is not allowed";
    }
    return std::nullopt;
}

}  // namespace

bool is_token(std::string_view text) {
    if (text.empty()) return false;
    for (char c : text) {
        if (is_alnum(c)) continue;
        switch (c) {
            case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
            case '-': case '.': case '^': case '_': case '`': case '|': case '~':
                continue;
            default:
                return false;
        }
    }
    return true;
}

std::optional<std::string> check_host_pattern(std::string_view pattern) {
    if (auto error = check_common(pattern)) return error;
    for (char c : pattern)
        if (!is_alnum(c) && c != '-' && c != '.' && c != '*' && c != '?')
            return "host may only contain letters, digits, '-', '.', '*' and '?'; " + quoted(c) + " is not allowed";
    return std::nullopt;
}

std::optional<std::string> check_path_pattern(std::string_view pattern) {
    if (auto error = check_common(pattern)) return error;
    if (pattern != "*" && pattern.front() != '/') return "must start with '/'";
    for (char c : pattern)
        if (is_space(c)) return "must not contain whitespace";
    return std::nullopt;
}

std::optional<std::string> check_method(std::string_view method) {
    if (method.empty()) return "must not be empty";
    if (method.size() > 40) return "must be at most 40 characters";
    if (!is_token(method)) return "'" + std::string(method) + "' is not an HTTP method";
    return std::nullopt;
}

std::optional<std::string> check_header_name(std::string_view name) {
    if (name.empty()) return "header name must not be empty";
    if (name.size() > max_pattern_length)
        return "header name must be at most " + std::to_string(max_pattern_length) + " characters";
    if (!is_token(name)) return "'" + std::string(name) + "' is not a valid header name";
    return std::nullopt;
}

std::optional<std::string> check_header_value_pattern(std::string_view pattern) {
    return check_common(pattern);
}

std::optional<std::string> check_query_pattern(std::string_view pattern) {
    if (auto error = check_common(pattern)) return error;
    for (char c : pattern)
        if (is_space(c) || c == '&' || c == '=' || c == '#') return "must not contain whitespace, '&', '=' or '#'";
    return std::nullopt;
}

std::optional<std::string> check_cookie_name(std::string_view name) {
    if (name.empty()) return "must not be empty";
    if (!is_token(name)) return "'" + std::string(name) + "' is not a valid cookie name";
    return std::nullopt;
}

std::optional<std::string> check_host_name(std::string_view name) {
    if (name.empty()) return "must not be empty";
    if (name.size() > 253) return "must be at most 253 characters";
    for (char c : name)
        if (!is_alnum(c) && c != '-' && c != '.')
            return "host name may only contain letters, digits, '-' and '.'; " + quoted(c) + " is not allowed";
    return std::nullopt;
}

std::optional<std::string> check_dns_name(std::string_view name) {
    if (name.ends_with('.')) name.remove_suffix(1);  // fully qualified
    if (name.empty()) return "must not be empty";
    if (name.size() > 253) return "must be at most 253 characters";
    size_t start = 0;
    while (true) {
        size_t dot = name.find('.', start);
        std::string_view label = name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (label.empty()) return "has an empty label";
        if (label.size() > 63) return "has a label longer than 63 characters";
        for (char c : label)
            if (!is_alnum(c) && c != '-' && c != '_')
                return "may only contain letters, digits, '-', '_' and '.'; " + quoted(c) + " is not allowed";
        if (dot == std::string_view::npos) {
            // "10.0.0.256" is a mistyped address, not a name.
            if (std::all_of(label.begin(), label.end(), [](char c) { return c >= '0' && c <= '9'; }))
                return "is neither an IP address nor a DNS name (its last label is all digits)";
            return std::nullopt;
        }
        start = dot + 1;
    }
}

std::optional<std::string> check_object_name(std::string_view name) {
    if (name.empty()) return "must not be empty";
    if (name.size() > 64) return "must be at most 64 characters";
    for (char c : name)
        if (!is_alnum(c) && c != '-' && c != '_' && c != '.')
            return "may only contain letters, digits, '-', '_' and '.'";
    return std::nullopt;
}

}  // namespace lb::conf
