// The admin API's request arguments, parsed apart from the server: the JSON
// body of a target registration and the address:port that names a target in
// a path; and the JSON text of every reply. Pure functions (no I/O, no
// state), so unit tests and the fuzz harness (tests/fuzz/admin_json.cpp)
// call them on their own.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "conf/config.h"
#include "lb/base/result.h"

namespace lb {

// The body of every error reply: {"error": message}.
inline nlohmann::json error_json(const std::string& message) { return nlohmann::json{{"error", message}}; }

// A registration as the API received it: weight and zone are optional.
struct TargetRegistration {
    conf::Target target;
    bool weight_given = false;
    bool zone_given = false;
};

// POST /api/v1/target-groups/{name}/targets: a JSON object
// {"address", "port", "weight"?, "zone"?}. An error is the message of a 400.
Result<TargetRegistration> parse_target_registration(std::string_view body);

// DELETE /api/v1/target-groups/{name}/targets/{target}: the decoded path
// segment, "address:port" ("[address]:port" for IPv6) with a port other
// than 0. An error is the message of a 400.
Result<SocketAddress> parse_target_id(const std::string& text);

// The text of a JSON reply body: indented, ending in a newline. Messages
// echo what the request named (a decoded path segment may be any bytes);
// bytes that are not UTF-8 are replaced (U+FFFD), never thrown on.
std::string json_reply_text(const nlohmann::json& body);

}  // namespace lb
