// Reading and stripping request cookies by name (RFC 6265 Cookie header:
// "a=1; b=2"), for stickiness cookies lb issues and keeps to itself; spotting
// the cookies an application sets (Set-Cookie) for app_cookie stickiness.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lb/http/http_head.h"

namespace lb {

// The value of the first cookie named `name` in any Cookie header.
std::optional<std::string_view> find_cookie(const HttpHead& request, std::string_view name);
// Removes cookies named `name` from every Cookie header (dropping headers
// left empty), so lb's own cookies are never forwarded to targets.
void remove_cookie(HttpHead& request, std::string_view name);

// The first Set-Cookie header of a response that sets cookie `name`.
struct SetCookie {
    std::string_view value;  // quotes removed, as find_cookie()
    bool deletes = false;    // empty value, Max-Age <= 0, or (without Max-Age) Expires in the past
};
std::optional<SetCookie> find_set_cookie(const HttpHead& response, std::string_view name);

// "Name=value; Path=/; Max-Age=N; HttpOnly; SameSite=Lax[; Secure]\r\n" as a header line.
std::string set_cookie_header(std::string_view name, std::string_view value, int64_t max_age_seconds, bool secure);

}  // namespace lb
