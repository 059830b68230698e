// StickyCookieSigner: lb-issued cookies that name a target or a target group,
// with an expiry, signed with HMAC-SHA256 so clients cannot forge or edit
// them. Several lb instances with the same secret accept each other's
// cookies (DESIGN.md section 5).
//
// Value format (cookie-safe, no padding):
//   base64url("1" "|" scope "|" expires_unix "|" value) "." base64url(hmac)
// `scope` binds a cookie to where it was issued (e.g. the target group), so a
// cookie from one group is "foreign" in another.
//
// Threading: immutable after construction; shared by workers via the Runtime.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "lb/result.h"

namespace lb {

class StickyCookieSigner {
public:
    explicit StickyCookieSigner(std::string key) : key_(std::move(key)) {}
    // Reads the secret (at least 16 bytes) from a file.
    static Result<std::shared_ptr<const StickyCookieSigner>> from_file(const std::string& path);
    // A random key: cookies survive reloads of this process but not a restart.
    static std::shared_ptr<const StickyCookieSigner> random();

    std::string encode(std::string_view scope, std::string_view value, int64_t expires_unix) const;
    // The value, if the signature is ours, the scope matches and it has not expired.
    std::optional<std::string> decode(std::string_view cookie, std::string_view scope, int64_t now_unix) const;

private:
    std::string mac(std::string_view payload) const;
    std::string key_;
};

std::string base64url_encode(std::string_view data);
std::optional<std::string> base64url_decode(std::string_view text);
int64_t unix_now();

}  // namespace lb
