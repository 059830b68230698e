// The one step between parsing a message head and acting on it: whether lb
// will carry the message, and how its body is framed on the way on. For a
// request it runs before anything is dispatched, so nothing reaches a target
// until the head is known good; for a response it runs before anything is
// written to the client.
//
// llhttp (strict) checks the syntax of a message; these checks are what
// llhttp 8.1 leaves to its user or lets through: field-name grammar, Host
// rules (RFC 9112 section 3.2), transfer codings (section 6.1), the
// request-target's form, the HTTP version, and bodies on responses that
// cannot have one (section 6.3). lb then writes the framing headers itself
// (Host, Content-Length, Transfer-Encoding): no header the client or target
// sent, nor one its Connection header names, can change how lb frames what
// it forwards.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "conf/config.h"
#include "lb/http/http_head.h"

namespace lb {

struct CheckedRequest {
    int status = 0;                 // 0: carry it; else answer this status and close
    const char* error = "";         // why not, for the access log
    std::string host;               // for rules and logs: the authority's host, without port
    std::string authority;          // the Host the target gets; empty: the request named none (HTTP/1.0)
    std::string path;               // normalized (README "Path normalization"), for rules
    std::string query;              // without '?'
    std::string target;             // the origin-form request-target the target gets
};

CheckedRequest check_request(const HttpHead& request, const conf::PathNormalization& normalization);

struct ResponsePlan {
    int status = 0;                 // 0: carry it; else 502
    const char* error = "";
    BodyFraming framing = BodyFraming::none;     // towards the client
    std::optional<uint64_t> content_length;      // the Content-Length lb writes, if any
    // False when the target announced a body a response cannot have: bytes
    // may follow that must not be read as the next response.
    bool reusable = true;
};

// Any response head from a target (1xx and 101 have no body). `head_request`:
// it answers a HEAD.
ResponsePlan plan_response(const HttpHead& response, bool head_request, bool client_http10);

}  // namespace lb
