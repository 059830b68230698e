// The small translations `lb import-nginx` makes between nginx's values and
// lb's: location regexes to lb path wildcards, the paths that both a prefix
// and a wildcard match, nginx durations and sizes, and names lb accepts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lb::conf::nginx {

// A location regex as lb path patterns ('*' any run, '?' one character),
// any of which may match. Supported: '^' and '$' anchors, literal and
// backslash-escaped characters, '.' (one character), '.*' and '.+', a
// '?' after a character or group, and groups of literal alternatives
// "(a|b)" / "(?:a|b)". Anything else (classes, counted repeats, \d, ...)
// gives an error. Patterns always start with '/' as lb's path patterns
// must (every path does).
struct RegexTranslation {
    std::vector<std::string> patterns;
    bool case_approximated = false;  // a ~* regex with letters: lb matches paths case-sensitively
    std::string error;               // why it cannot be written as wildcards
};
RegexTranslation regex_to_wildcards(std::string_view regex, bool caseless);

// Patterns matching exactly the paths that start with `prefix` (a literal,
// no wildcards) and match `pattern`. Empty when no path does.
std::vector<std::string> intersect_prefix(std::string_view prefix, std::string_view pattern);

// lb's wildcard match: '*' any run (also none), '?' one character.
bool wildcard_match(std::string_view pattern, std::string_view text);

// nginx time values ("10", "10s", "1m30s", "500ms", "1d", "1w"; a bare
// number is seconds) in milliseconds.
std::optional<int64_t> parse_nginx_duration(std::string_view text);
// nginx sizes ("1024", "8k", "1m", "1g", either case) in bytes.
std::optional<uint64_t> parse_nginx_size(std::string_view text);

// A listen directive's address ("80", "*:80", "127.0.0.1", "[::]:443",
// "localhost:8080") in lb's form ("0.0.0.0:80", "[::]:443"); nullopt and
// `why` when lb cannot listen there.
std::optional<std::string> nginx_listen_address(const std::string& text, std::string& why);

// A listener or target group name lb accepts (letters, digits, - _ ., at
// most 64): other characters become '-'.
std::string safe_name(std::string_view text);

}  // namespace lb::conf::nginx
