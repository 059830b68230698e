// What a listener or a forward action rewrites in what it forwards:
// header edits (README "Header rewriting"), a conf::HeaderEdits applied to
// a request before it goes to a target or to a response before it goes to
// the client, with the #{...} variables of the request they belong to (the
// config loader has already refused edits of the headers lb owns); and the
// path rewrite (README "Path rewriting").
//
// Threading: pure functions; the caller's thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "conf/config.h"
#include "lb/http/http_head.h"

namespace lb {

// What the variables stand for in one request. Views into the request and
// its exchange, valid while the edits are applied.
struct HeaderVariables {
    std::string_view client_ip;
    uint16_t client_port = 0;
    std::string_view host;
    std::string_view scheme;
    uint16_t server_port = 0;
    std::string_view method;
    std::string_view request_uri;
    std::string_view request_id;
    std::string_view listener;
    int rule = 0;                     // 0: the default action
    std::string_view target_group;
    std::string_view target;
};

// remove, then set, then add. Names are compared case-insensitively.
void apply_header_edits(HttpHead& head, const conf::HeaderEdits& edits, const HeaderVariables& variables);

// The set and add edits as "Name: value\r\n" lines, for answers lb makes
// itself (fixed responses, redirects).
void append_header_lines(std::string& out, const conf::HeaderEdits& edits, const HeaderVariables& variables);

// Does any value of `edits` use `variable`?
bool uses_variable(const conf::HeaderEdits& edits, conf::HeaderVariable variable);

// `target` (origin-form path and query) with `rewrite.prefix` replaced by
// its replacement; nullopt when the path does not start with the prefix.
std::optional<std::string> rewrite_path(std::string_view target, const conf::PathRewrite& rewrite);

}  // namespace lb
