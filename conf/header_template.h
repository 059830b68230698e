// Header values with #{...} variables (README "Header rewriting"): parsed
// and checked here when the config loads, expanded per request by
// lb/routing/header_edits.h. Also the list of headers lb owns, which a
// config may not touch.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lb::conf {

enum class HeaderVariable {
    client_ip,
    client_port,
    host,
    scheme,
    server_port,
    method,
    request_uri,
    request_id,
    listener,
    rule,
    target_group,
    target,
};

// A value is literal text and variables, in order.
struct TemplatePiece {
    std::string literal;                     // when variable is empty
    std::optional<HeaderVariable> variable;
};

struct ParsedTemplate {
    std::vector<TemplatePiece> pieces;
    std::string error;                       // empty when the value is good
};

ParsedTemplate parse_header_template(std::string_view text);

// "#{client_ip}, #{client_port}, ..." for error messages.
std::string header_variable_names();

// Why a config may not edit this header of a request or a response (empty:
// it may). `set` of Host on a request is allowed; removing or adding it is not.
enum class HeaderSide { request, response };
enum class HeaderEdit { remove, set, add };
std::optional<std::string> check_editable_header(std::string_view name, HeaderSide side, HeaderEdit edit);

}  // namespace lb::conf
