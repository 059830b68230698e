// Cookie stickiness to one target of a group (README, "Sticky sessions"):
//   lb_cookie   lb issues a signed cookie (default LBSTICKY) naming the target
//               that answered, renewed on every response (sliding expiry).
//   app_cookie  lb follows a cookie the application sets (`cookie_name`, e.g.
//               JSESSIONID): its own signed companion cookie LBAPP-<cookie_name>
//               (like ALB's AWSALBAPP) names the target that served that
//               cookie value, and holds only while the client sends the same
//               value; when the application deletes its cookie, lb deletes the
//               companion.
// Both are signed with the Runtime's StickyCookieSigner and scoped to the
// target group, so another group's (or a tampered, expired or unsigned) cookie
// is ignored and replaced. lb's cookies never reach a target (the caller strips
// Runtime::lb_cookie_names); the application's own cookie passes both ways.
// source_ip stickiness needs no cookie: see lb/worker/target_picker.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lb/http/http_head.h"
#include "lb/runtime/runtime.h"

namespace lb {

// What a request's stickiness cookies said.
struct StickyRequest {
    const TargetEntry* target = nullptr;  // named by a valid cookie, still in the group
    bool has_app_cookie = false;          // app_cookie: the request carries the application's cookie
    uint64_t app_value_hash = 0;          // ... and this is its value's hash
};

// For a group with cookie stickiness: reads lb's cookie (and for app_cookie
// the application's) from `request`; leaves the request untouched.
StickyRequest read_sticky_cookie(const TargetGroupRuntime& group, const StickyCookieSigner& signer,
                                 const HttpHead& request, int64_t now_unix);

// Set-Cookie lines lb adds to `response`, which `target` sent (empty when
// there is nothing to set). `secure` on HTTPS listeners.
std::string sticky_response_cookies(const TargetGroupRuntime& group, const StickyCookieSigner& signer,
                                    const StickyRequest& sticky, const HttpHead& response,
                                    const TargetEntry& target, bool secure, int64_t now_unix);

}  // namespace lb
