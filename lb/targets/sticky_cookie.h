// StickyCookieSigner: lb-issued cookies that name a target or a target group,
// with an expiry, signed with HMAC-SHA256 so clients cannot forge or edit
// them. Several lb instances with the same secret accept each other's
// cookies (README, "Sticky sessions").
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

#include "conf/config.h"
#include "lb/base/result.h"

namespace lb {

class StickyCookieSigner {
public:
    explicit StickyCookieSigner(std::string key) : key_(std::move(key)) {}
    // Reads the secret (at least 16 bytes) from a file.
    static Result<std::shared_ptr<const StickyCookieSigner>> from_file(const std::string& path);
    // A random key: cookies survive reloads of this process but not a restart.
    static std::shared_ptr<const StickyCookieSigner> random();
    // The key, for a binary upgrade to carry a random one over.
    const std::string& secret() const { return key_; }

    std::string encode(std::string_view scope, std::string_view value, int64_t expires_unix) const;
    // The value, if the signature is ours, the scope matches and it has not expired.
    std::optional<std::string> decode(std::string_view cookie, std::string_view scope, int64_t now_unix) const;

    // The opaque id a cookie names a target by: the first 64 bits of the
    // HMAC of its "address:port" key, so every lb instance with the same
    // secret agrees on it, and clients cannot recover target addresses from
    // it (a plain hash of a private IPv4 address and port is brute-forced in
    // seconds). Rendered as 16 hex digits.
    uint64_t target_id(std::string_view target_key) const;

private:
    std::string mac(std::string_view payload) const;
    std::string key_;
};

// Group-level stickiness for a forward to several weighted groups (ALB's
// AWSALBTG): the cookie naming the group a client was given.
inline constexpr std::string_view kGroupStickyCookie = "LBTG";

// StickyCookieSigner::target_id as text, and back.
std::string format_sticky_target_id(uint64_t id);
std::optional<uint64_t> parse_sticky_target_id(std::string_view text);

std::string base64url_encode(std::string_view data);
std::optional<std::string> base64url_decode(std::string_view text);
int64_t unix_now();

// lb's cookie name for a group with cookie stickiness, empty otherwise; and
// the scope its values are signed for. Computed once per snapshot.
std::string target_sticky_cookie_name(const conf::TargetGroup& group);
std::string target_sticky_scope(const conf::TargetGroup& group);

}  // namespace lb
