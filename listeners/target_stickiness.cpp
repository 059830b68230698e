#include "listeners/target_stickiness.h"

#include "lb/base/hash.h"
#include "lb/http/cookies.h"

namespace lb {

namespace {

using StickinessType = conf::Stickiness::Type;

// Keeps application cookie value hashes apart from other uses of hash_bytes.
constexpr uint64_t kAppValueSeed = 0x6c622d6170707663ULL;  // "lb-appvc"

uint64_t app_value_hash(std::string_view value) { return hash_bytes(value.data(), value.size(), kAppValueSeed); }

// Signed values: lb_cookie "<target id>"; app_cookie "<target id>.<value hash>".
std::string sticky_value(const TargetGroupRuntime& group, const TargetEntry& target, uint64_t value_hash) {
    std::string value = format_sticky_target_id(target.sticky_id);
    if (group.config.stickiness.type == StickinessType::app_cookie) {
        value.push_back('.');
        value.append(format_sticky_target_id(value_hash));
    }
    return value;
}

}  // namespace

StickyRequest read_sticky_cookie(const TargetGroupRuntime& group, const StickyCookieSigner& signer,
                                 const HttpHead& request, int64_t now_unix) {
    StickyRequest sticky;
    const bool app = group.config.stickiness.type == StickinessType::app_cookie;
    if (app) {
        auto app_cookie = find_cookie(request, group.config.stickiness.cookie_name);
        if (!app_cookie) return sticky;  // no application session: nothing to follow
        sticky.has_app_cookie = true;
        sticky.app_value_hash = app_value_hash(*app_cookie);
    }
    auto cookie = find_cookie(request, group.sticky_cookie);
    if (!cookie) return sticky;
    auto value = signer.decode(*cookie, group.sticky_scope, now_unix);
    if (!value) return sticky;
    std::string_view text = *value;
    if (app) {
        // "<target id>.<value hash>": only for the application value it was issued with.
        constexpr size_t kIdLength = 16;
        if (text.size() != 2 * kIdLength + 1 || text[kIdLength] != '.') return sticky;
        auto issued_for = parse_sticky_target_id(text.substr(kIdLength + 1));
        if (!issued_for || *issued_for != sticky.app_value_hash) return sticky;
        text = text.substr(0, kIdLength);
    }
    if (auto id = parse_sticky_target_id(text)) sticky.target = group.target_by_sticky_id(*id);
    return sticky;
}

std::string sticky_response_cookies(const TargetGroupRuntime& group, const StickyCookieSigner& signer,
                                    const StickyRequest& sticky, const HttpHead& response,
                                    const TargetEntry& target, bool secure, int64_t now_unix) {
    const int64_t seconds = group.config.stickiness.duration.count() / 1000;
    auto issue = [&](uint64_t value_hash) {
        return set_cookie_header(group.sticky_cookie,
                                 signer.encode(group.sticky_scope, sticky_value(group, target, value_hash),
                                               now_unix + seconds),
                                 seconds, secure);
    };
    switch (group.config.stickiness.type) {
        case StickinessType::lb_cookie:
            // Every response renews it: `duration` is how long a client may
            // stay away and still come back to its target.
            return issue(0);
        case StickinessType::app_cookie:
            if (auto set_cookie = find_set_cookie(response, group.config.stickiness.cookie_name)) {
                // The application ended its session: so does the stickiness.
                if (set_cookie->deletes) return set_cookie_header(group.sticky_cookie, "", 0, secure);
                return issue(app_value_hash(set_cookie->value));
            }
            // The target that served this session value is where it lives now
            // (also after a failover): renew, or re-point, the companion.
            if (sticky.has_app_cookie) return issue(sticky.app_value_hash);
            return {};
        case StickinessType::none:
        case StickinessType::source_ip:
            return {};
    }
    return {};
}

}  // namespace lb
