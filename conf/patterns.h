// Checks for the values operators write in rule conditions (README,
// "Rules"): hosts, paths, methods, header and query matches, cookie names.
// Each check returns the reason a value is rejected, or nullopt when it is
// fine; config_loader.cpp adds file:line:col and the key path.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace lb::conf {

// Patterns are short on purpose, as on an ALB: they are compiled per snapshot.
inline constexpr size_t max_pattern_length = 128;

// RFC 9110 token (method, header name, cookie name).
bool is_token(std::string_view text);

// Letters, digits, '-', '.', plus '*' and '?' wildcards. "*.example.com".
std::optional<std::string> check_host_pattern(std::string_view pattern);
// Starts with '/' (or is exactly "*"), no whitespace. "/api/*".
std::optional<std::string> check_path_pattern(std::string_view pattern);
// A token; exact match, so no wildcards beyond what a token allows.
std::optional<std::string> check_method(std::string_view method);
std::optional<std::string> check_header_name(std::string_view name);
// Any visible text and spaces; '*' and '?' are wildcards.
std::optional<std::string> check_header_value_pattern(std::string_view pattern);
// Query keys and values: no whitespace, '&', '=' or '#' (they would split it).
std::optional<std::string> check_query_pattern(std::string_view pattern);
std::optional<std::string> check_cookie_name(std::string_view name);
// A DNS name without wildcards (upstream SNI).
std::optional<std::string> check_host_name(std::string_view name);
// A DNS name to resolve: a target's address or an SRV record (labels of
// letters, digits, '-' and '_', a trailing '.' allowed).
std::optional<std::string> check_dns_name(std::string_view name);
// Listener and target group names appear in logs, metrics and admin URLs.
std::optional<std::string> check_object_name(std::string_view name);

}  // namespace lb::conf
