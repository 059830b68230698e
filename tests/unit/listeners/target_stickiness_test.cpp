// Cookie stickiness to a target: what lb issues, what it honours, and what it
// ignores (expired, altered, foreign, unknown target, other application value).
#include "listeners/target_stickiness.h"

#include <gtest/gtest.h>

#include <string>

#include "conf/config_loader.h"
#include "lb/http/cookies.h"
#include "lb/targets/sticky_cookie.h"

namespace lb {
namespace {

constexpr int64_t kNow = 1'800'000'000;

constexpr const char* kSecret = "0123456789abcdef-secret";

// `yaml` without a listeners section gets one forwarding to group "web".
std::shared_ptr<const Runtime> build(const std::string& yaml) {
    const std::string listener =
        "listeners:\n  - { name: l, listen: 127.0.0.1:8080, default_action: { forward: { target_group: web } } }\n";
    auto config = conf::load_config_string(yaml.rfind("listeners:", 0) == 0 ? yaml : listener + yaml, "lb.yaml");
    EXPECT_TRUE(config) << (config ? "" : config.error());
    RuntimeBuilder builder;
    // The secret the tests sign with (target ids are keyed by it), as a
    // sticky_secret_file would give every build.
    builder.random_signer = std::make_shared<const StickyCookieSigner>(kSecret);
    auto runtime = builder.build(*config, 1, false);
    EXPECT_TRUE(runtime) << (runtime ? "" : runtime.error());
    return *runtime;
}

std::string group_yaml(const std::string& name, const std::string& stickiness, const std::string& targets) {
    return "  - name: " + name + "\n    stickiness: " + stickiness + "\n    targets: " + targets + "\n";
}

const std::string kThreeTargets =
    "[{ address: 10.0.0.1, port: 80 }, { address: 10.0.0.2, port: 80 }, { address: 10.0.0.3, port: 80 }]";

// The value of the one cookie a "Set-Cookie: N=V; ...\r\n" line sets.
std::string cookie_value(const std::string& set_cookie_line) {
    size_t eq = set_cookie_line.find('=');
    return set_cookie_line.substr(eq + 1, set_cookie_line.find(';') - eq - 1);
}

HttpHead with_cookies(const std::string& cookie_header) {
    HttpHead head;
    if (!cookie_header.empty()) head.headers.emplace_back("Cookie", cookie_header);
    return head;
}

HttpHead response_setting(const std::string& set_cookie) {
    HttpHead head;
    head.status = 200;
    if (!set_cookie.empty()) head.headers.emplace_back("Set-Cookie", set_cookie);
    return head;
}

class LbCookie : public ::testing::Test {
protected:
    std::shared_ptr<const Runtime> runtime =
        build("target_groups:\n" + group_yaml("web", "{ type: lb_cookie, duration: 1h }", kThreeTargets) +
              group_yaml("api", "{ type: lb_cookie }", kThreeTargets));
    const TargetGroupRuntime& web = *runtime->group("web");
    StickyCookieSigner signer{kSecret};

    std::string issue(const TargetGroupRuntime& group, size_t target, bool secure = false, int64_t now = kNow) {
        return sticky_response_cookies(group, signer, {}, response_setting(""), group.targets[target], secure, now);
    }
    const TargetEntry* read(const TargetGroupRuntime& group, const std::string& value, int64_t now = kNow) {
        return read_sticky_cookie(group, signer, with_cookies("a=1; " + group.sticky_cookie + "=" + value), now)
            .target;
    }
};

TEST_F(LbCookie, NamesTheTargetThatAnsweredWithTheAttributesBrowsersNeed) {
    std::string line = issue(web, 1);
    EXPECT_EQ(line.rfind("Set-Cookie: LBSTICKY=", 0), 0u) << line;
    EXPECT_NE(line.find("; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax\r\n"), std::string::npos) << line;
    EXPECT_EQ(read(web, cookie_value(line)), &web.targets[1]);
    EXPECT_NE(issue(web, 1, true).find("; Secure\r\n"), std::string::npos);
    // No cookie, or somebody else's: no sticky target.
    EXPECT_EQ(read_sticky_cookie(web, signer, with_cookies(""), kNow).target, nullptr);
    EXPECT_EQ(read_sticky_cookie(web, signer, with_cookies("other=x"), kNow).target, nullptr);
}

TEST_F(LbCookie, HoldsForItsDurationThenIsIgnored) {
    std::string value = cookie_value(issue(web, 2));
    EXPECT_EQ(read(web, value, kNow + 3600), &web.targets[2]);
    EXPECT_EQ(read(web, value, kNow + 3601), nullptr);
}

TEST_F(LbCookie, EveryAlteredCharacterIsIgnored) {
    const std::string value = cookie_value(issue(web, 0));
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
    ASSERT_EQ(read(web, value), &web.targets[0]);
    for (size_t i = 0; i < value.size(); ++i) {
        for (char c : alphabet) {
            if (c == value[i]) continue;
            std::string altered = value;
            altered[i] = c;
            ASSERT_EQ(read(web, altered), nullptr) << "position " << i << " as '" << c << "'";
        }
    }
    EXPECT_EQ(read(web, value.substr(1)), nullptr);
    EXPECT_EQ(read(web, value + "A"), nullptr);
}

TEST_F(LbCookie, AnotherGroupsCookieIsForeign) {
    // Same targets, same signer: only the group scope tells them apart.
    const TargetGroupRuntime& api = *runtime->group("api");
    EXPECT_EQ(read(api, cookie_value(issue(web, 1))), nullptr);
    EXPECT_EQ(read(api, cookie_value(issue(api, 1))), &api.targets[1]);
}

TEST_F(LbCookie, AnotherSecretsCookieIsIgnored) {
    StickyCookieSigner other{"another secret, 16+ bytes"};
    std::string line = sticky_response_cookies(web, other, {}, response_setting(""), web.targets[1], false, kNow);
    EXPECT_EQ(read(web, cookie_value(line)), nullptr);
}

TEST_F(LbCookie, NamesTargetsByAddressAcrossConfigs) {
    std::string value = cookie_value(issue(web, 2));   // 10.0.0.3:80
    // Another snapshot (or lb instance) listing the targets in another order.
    auto reordered = build("target_groups:\n" + group_yaml("web", "{ type: lb_cookie, duration: 1h }",
                                                          "[{ address: 10.0.0.3, port: 80 }, "
                                                          "{ address: 10.0.0.1, port: 80 }]"));
    const TargetGroupRuntime& group = *reordered->group("web");
    EXPECT_EQ(read(group, value), &group.targets[0]);
    // The target is gone from the group: the cookie names nothing.
    auto removed = build("target_groups:\n" + group_yaml("web", "{ type: lb_cookie, duration: 1h }",
                                                        "[{ address: 10.0.0.1, port: 80 }]"));
    EXPECT_EQ(read(*removed->group("web"), value), nullptr);
}

TEST(StickyTargetId, FormatsAsSixteenHexDigitsAndParsesBack) {
    StickyCookieSigner signer("0123456789abcdef0123456789abcdef");
    uint64_t id = signer.target_id("10.0.0.1:80");
    EXPECT_NE(id, signer.target_id("10.0.0.1:81"));
    std::string text = format_sticky_target_id(id);
    EXPECT_EQ(text.size(), 16u);
    EXPECT_EQ(parse_sticky_target_id(text), id);
    EXPECT_EQ(parse_sticky_target_id("00000000000000ff"), 255u);
    EXPECT_FALSE(parse_sticky_target_id("ff"));
    EXPECT_FALSE(parse_sticky_target_id("000000000000000g"));
    EXPECT_FALSE(parse_sticky_target_id("-000000000000001"));
}

TEST(StickyTargetId, DependsOnTheSecretSoAddressesCannotBeGuessed) {
    StickyCookieSigner one("0123456789abcdef0123456789abcdef");
    StickyCookieSigner same("0123456789abcdef0123456789abcdef");
    StickyCookieSigner other("fedcba9876543210fedcba9876543210");
    EXPECT_EQ(one.target_id("10.0.0.1:80"), same.target_id("10.0.0.1:80"));  // instances agree
    EXPECT_NE(one.target_id("10.0.0.1:80"), other.target_id("10.0.0.1:80"));
}

class AppCookie : public ::testing::Test {
protected:
    std::shared_ptr<const Runtime> runtime = build(
        "target_groups:\n" +
        group_yaml("web", "{ type: app_cookie, cookie_name: JSESSIONID, duration: 10m }", kThreeTargets));
    const TargetGroupRuntime& web = *runtime->group("web");
    StickyCookieSigner signer{kSecret};

    std::string respond(const std::string& request_cookies, const std::string& set_cookie, size_t target) {
        StickyRequest sticky = read_sticky_cookie(web, signer, with_cookies(request_cookies), kNow);
        return sticky_response_cookies(web, signer, sticky, response_setting(set_cookie), web.targets[target], false,
                                       kNow);
    }
    StickyRequest read(const std::string& request_cookies) {
        return read_sticky_cookie(web, signer, with_cookies(request_cookies), kNow);
    }
};

TEST_F(AppCookie, CompanionIsIssuedWhenTheApplicationSetsItsCookie) {
    EXPECT_EQ(web.sticky_cookie, "LBAPP-JSESSIONID");
    EXPECT_EQ(respond("", "", 0), "");   // no application session, nothing to follow
    std::string line = respond("", "JSESSIONID=abc; Path=/app", 1);
    EXPECT_EQ(line.rfind("Set-Cookie: LBAPP-JSESSIONID=", 0), 0u) << line;
    EXPECT_NE(line.find("Max-Age=600; HttpOnly"), std::string::npos) << line;
    std::string companion = "LBAPP-JSESSIONID=" + cookie_value(line);

    StickyRequest sticky = read("JSESSIONID=abc; " + companion);
    EXPECT_EQ(sticky.target, &web.targets[1]);
    EXPECT_TRUE(sticky.has_app_cookie);
    // Bound to the value it was issued for.
    EXPECT_EQ(read("JSESSIONID=xyz; " + companion).target, nullptr);
    EXPECT_EQ(read(companion).target, nullptr);
    EXPECT_FALSE(read(companion).has_app_cookie);
}

TEST_F(AppCookie, CompanionFollowsTheSessionToTheTargetThatServedIt) {
    std::string first = respond("", "JSESSIONID=abc", 0);
    std::string companion = "LBAPP-JSESSIONID=" + cookie_value(first);
    // Target 0 failed; target 2 served the same session without setting the cookie.
    std::string moved = respond("JSESSIONID=abc; " + companion, "", 2);
    ASSERT_FALSE(moved.empty());
    EXPECT_EQ(read("JSESSIONID=abc; LBAPP-JSESSIONID=" + cookie_value(moved)).target, &web.targets[2]);
    // A client with the application's cookie but no companion gets one.
    std::string fresh = respond("JSESSIONID=def", "", 1);
    EXPECT_EQ(read("JSESSIONID=def; LBAPP-JSESSIONID=" + cookie_value(fresh)).target, &web.targets[1]);
}

TEST_F(AppCookie, DeletingTheApplicationCookieDeletesTheCompanion) {
    std::string companion = "LBAPP-JSESSIONID=" + cookie_value(respond("", "JSESSIONID=abc", 0));
    for (const char* deleting : {"JSESSIONID=; Path=/", "JSESSIONID=abc; Max-Age=0"}) {
        EXPECT_EQ(respond("JSESSIONID=abc; " + companion, deleting, 0),
                  "Set-Cookie: LBAPP-JSESSIONID=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax\r\n")
            << deleting;
    }
}

TEST_F(AppCookie, AnLbCookieOfTheSameGroupNameIsForeign) {
    auto lb = build("target_groups:\n" + group_yaml("web", "{ type: lb_cookie }", kThreeTargets));
    std::string line = sticky_response_cookies(*lb->group("web"), signer, {}, response_setting(""),
                                               lb->group("web")->targets[0], false, kNow);
    EXPECT_EQ(read("JSESSIONID=abc; LBAPP-JSESSIONID=" + cookie_value(line)).target, nullptr);
}

TEST(LbCookieNames, EveryCookieLbIssuesIsListedOnce) {
    auto runtime = build(
        "listeners:\n"
        "  - name: web\n"
        "    listen: 127.0.0.1:8080\n"
        "    default_action:\n"
        "      forward: { target_groups: [{ name: a }, { name: b }], stickiness: { enabled: true } }\n"
        "target_groups:\n" +
        group_yaml("a", "{ type: lb_cookie }", kThreeTargets) + group_yaml("b", "{ type: lb_cookie }", kThreeTargets) +
        group_yaml("c", "{ type: app_cookie, cookie_name: io }", kThreeTargets) +
        group_yaml("d", "{ type: lb_cookie, cookie_name: SRV }", kThreeTargets) +
        group_yaml("e", "{ type: source_ip }", kThreeTargets));
    EXPECT_EQ(runtime->lb_cookie_names, (std::vector<std::string>{"LBSTICKY", "LBAPP-io", "SRV", "LBTG"}));
    EXPECT_FALSE(runtime->group("e")->cookie_sticky());

    auto plain = build("target_groups:\n  - name: web\n    targets: " + kThreeTargets + "\n");
    EXPECT_TRUE(plain->lb_cookie_names.empty());
}

}  // namespace
}  // namespace lb
