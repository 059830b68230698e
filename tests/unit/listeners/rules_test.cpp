#include "lb/routing/rules.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <random>
#include <string>
#include <vector>

// Conditions are written with designated initializers; the omitted ones are
// meant to stay empty.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace lb {
namespace {

using Headers = std::vector<std::pair<std::string_view, std::string_view>>;

conf::Action fixed(const std::string& body) {
    conf::Action action;
    action.kind = conf::Action::Kind::fixed_response;
    action.fixed_response.body = body;
    return action;
}

conf::Rule rule(int priority, conf::Conditions conditions) {
    conf::Rule out;
    out.priority = priority;
    out.conditions = std::move(conditions);
    out.action = fixed("r" + std::to_string(priority));
    return out;
}

Cidr cidr(std::string_view text) {
    auto parsed = Cidr::parse(text);
    EXPECT_TRUE(parsed.has_value()) << text;
    return *parsed;
}

// A request whose views point into itself.
struct Request {
    std::string method = "GET";
    std::string host = "example.com";
    std::string path = "/";
    std::string query;
    std::vector<std::pair<std::string, std::string>> headers;
    std::optional<SocketAddress> source;

    Request& with_source(std::string_view ip) {
        source = SocketAddress::from_ip(ip, 40000);
        EXPECT_TRUE(source.has_value()) << ip;
        return *this;
    }
};

class Router {
public:
    explicit Router(const std::vector<conf::Rule>& rules) {
        auto compiled = RuleSet::compile(rules, fixed("default"));
        EXPECT_TRUE(compiled.ok()) << (compiled.ok() ? "" : compiled.error());
        if (compiled.ok()) set_ = *compiled;
    }
    std::string route(const Request& request) const {
        Headers headers;
        for (const auto& [name, value] : request.headers) headers.emplace_back(name, value);
        RequestView view{request.method, request.host, request.path, request.query, &headers,
                         request.source ? &*request.source : nullptr};
        const conf::Action* action = set_->match(view);
        return action ? action->fixed_response.body : "<null>";
    }

private:
    std::shared_ptr<const RuleSet> set_;
};

Request path(std::string p) {
    Request request;
    request.path = std::move(p);
    return request;
}

Request host(std::string h) {
    Request request;
    request.host = std::move(h);
    return request;
}

// ---------------------------------------------------------------- order

TEST(Rules, NoRulesTakesDefault) {
    Router router({});
    EXPECT_EQ(router.route(Request{}), "default");
}

TEST(Rules, NoMatchTakesDefault) {
    Router router({rule(1, {.path = {"/a"}}), rule(2, {.host = {"other.com"}})});
    EXPECT_EQ(router.route(path("/b")), "default");
}

TEST(Rules, PriorityOrderIndependentOfInputOrder) {
    std::vector<conf::Rule> rules = {rule(30, {.path = {"*x*"}}), rule(10, {.path = {"/x"}}),
                                     rule(20, {.path = {"/*"}}), rule(5, {.path = {"/y"}})};
    std::sort(rules.begin(), rules.end(), [](auto& a, auto& b) { return a.priority < b.priority; });
    do {
        Router router(rules);
        EXPECT_EQ(router.route(path("/x")), "r10");
        EXPECT_EQ(router.route(path("/xx")), "r20");
        EXPECT_EQ(router.route(path("/y")), "r5");
        EXPECT_EQ(router.route(path("x")), "r30");
    } while (std::next_permutation(rules.begin(), rules.end(),
                                   [](auto& a, auto& b) { return a.priority < b.priority; }));
}

TEST(Rules, FirstMatchWinsOverMoreSpecificLaterRule) {
    Router router({rule(1, {.path = {"/*"}}), rule(2, {.path = {"/exact"}})});
    EXPECT_EQ(router.route(path("/exact")), "r1");
}

TEST(Rules, RuleWithoutConditionsMatchesEverything) {
    Router router({rule(9, {}), rule(1, {.path = {"/a"}})});
    EXPECT_EQ(router.route(path("/a")), "r1");
    EXPECT_EQ(router.route(path("/b")), "r9");
}

// ---------------------------------------------------------------- host

TEST(Rules, HostIsCaseInsensitiveWildcard) {
    Router router({rule(1, {.host = {"api.example.com"}}), rule(2, {.host = {"*.Example.com"}}),
                   rule(3, {.host = {"h?.test"}}), rule(4, {.host = {"*"}})});
    EXPECT_EQ(router.route(host("API.EXAMPLE.COM")), "r1");
    EXPECT_EQ(router.route(host("www.example.COM")), "r2");
    EXPECT_EQ(router.route(host("a.b.example.com")), "r2");
    EXPECT_EQ(router.route(host("example.com")), "r4");  // "*.x" needs the dot
    EXPECT_EQ(router.route(host("h1.test")), "r3");
    EXPECT_EQ(router.route(host("H2.TEST")), "r3");
    EXPECT_EQ(router.route(host("h.test")), "r4");  // ? is not empty
    EXPECT_EQ(router.route(host("")), "r4");        // * matches empty
}

TEST(Rules, HostValuesAreAlternatives) {
    Router router({rule(1, {.host = {"a.com", "b.com", "*.c.com"}})});
    EXPECT_EQ(router.route(host("a.com")), "r1");
    EXPECT_EQ(router.route(host("B.com")), "r1");
    EXPECT_EQ(router.route(host("x.c.com")), "r1");
    EXPECT_EQ(router.route(host("d.com")), "default");
}

// ---------------------------------------------------------------- path

TEST(Rules, PathIsCaseSensitiveWildcard) {
    Router router({rule(1, {.path = {"/api/*"}}), rule(2, {.path = {"/img/*.png"}}),
                   rule(3, {.path = {"/v?/x"}}), rule(4, {.path = {"/a*b*c"}}),
                   rule(5, {.path = {"*.css"}})});
    EXPECT_EQ(router.route(path("/api/")), "r1");
    EXPECT_EQ(router.route(path("/api/users/1")), "r1");
    EXPECT_EQ(router.route(path("/API/users")), "default");
    EXPECT_EQ(router.route(path("/api")), "default");
    EXPECT_EQ(router.route(path("/img/a/b.png")), "r2");
    EXPECT_EQ(router.route(path("/img/a.PNG")), "default");
    EXPECT_EQ(router.route(path("/v1/x")), "r3");
    EXPECT_EQ(router.route(path("/v/x")), "default");
    EXPECT_EQ(router.route(path("/v10/x")), "default");
    EXPECT_EQ(router.route(path("/abc")), "r4");
    EXPECT_EQ(router.route(path("/a-b-c")), "r4");
    EXPECT_EQ(router.route(path("/acb")), "default");
    EXPECT_EQ(router.route(path("/s/site.css")), "r5");
}

// ---------------------------------------------------------------- method

TEST(Rules, MethodIsExact) {
    Router router({rule(1, {.method = {"GET", "HEAD"}}), rule(2, {.method = {"POST"}})});
    Request request;
    request.method = "GET";
    EXPECT_EQ(router.route(request), "r1");
    request.method = "HEAD";
    EXPECT_EQ(router.route(request), "r1");
    request.method = "POST";
    EXPECT_EQ(router.route(request), "r2");
    request.method = "post";
    EXPECT_EQ(router.route(request), "default");
    request.method = "POSTS";
    EXPECT_EQ(router.route(request), "default");
}

// ---------------------------------------------------------------- headers

TEST(Rules, HeaderNameCaseInsensitiveValueWildcardCaseInsensitive) {
    Router router({rule(1, {.header = {{"X-Canary", {"true", "yes*"}}}})});
    Request request;
    request.headers = {{"x-canary", "TRUE"}};
    EXPECT_EQ(router.route(request), "r1");
    request.headers = {{"X-CANARY", "Yessir"}};
    EXPECT_EQ(router.route(request), "r1");
    request.headers = {{"X-Canary", "false"}};
    EXPECT_EQ(router.route(request), "default");
    request.headers = {{"X-Other", "true"}};
    EXPECT_EQ(router.route(request), "default");
    request.headers = {};
    EXPECT_EQ(router.route(request), "default");
}

TEST(Rules, HeaderAnyLineWithTheNameMayMatch) {
    Router router({rule(1, {.header = {{"X-Tag", {"b"}}}})});
    Request request;
    request.headers = {{"X-Tag", "a"}, {"Accept", "*/*"}, {"x-tag", "B"}};
    EXPECT_EQ(router.route(request), "r1");
}

TEST(Rules, SeveralHeaderNamesMustAllMatch) {
    Router router({rule(1, {.header = {{"X-A", {"1"}}, {"X-B", {"?"}}}})});
    Request request;
    request.headers = {{"X-A", "1"}, {"X-B", "2"}};
    EXPECT_EQ(router.route(request), "r1");
    request.headers = {{"X-A", "1"}};
    EXPECT_EQ(router.route(request), "default");
    request.headers = {{"X-A", "1"}, {"X-B", "22"}};
    EXPECT_EQ(router.route(request), "default");
    request.headers = {{"X-B", "2"}};
    EXPECT_EQ(router.route(request), "default");
}

TEST(Rules, HeaderWildcards) {
    Router router({rule(1, {.header = {{"User-Agent", {"*Mobile*"}}}}),
                   rule(2, {.header = {{"X-Empty", {"*"}}}}),
                   rule(3, {.header = {{"X-One", {"?"}}}})});
    Request request;
    request.headers = {{"user-agent", "Foo mobile Bar"}};
    EXPECT_EQ(router.route(request), "r1");
    request.headers = {{"X-Empty", ""}};
    EXPECT_EQ(router.route(request), "r2");
    request.headers = {{"X-One", ""}};
    EXPECT_EQ(router.route(request), "default");
    request.headers = {{"X-One", "z"}};
    EXPECT_EQ(router.route(request), "r3");
}

TEST(Rules, HeaderWithoutValuesNeedsOnlyPresence) {
    Router router({rule(1, {.header = {{"X-Debug", {}}}})});
    Request request;
    request.headers = {{"x-debug", ""}};
    EXPECT_EQ(router.route(request), "r1");
    request.headers = {{"x-debugger", "1"}};
    EXPECT_EQ(router.route(request), "default");
}

TEST(Rules, MissingHeaderListMatchesNoHeaderCondition) {
    auto compiled = RuleSet::compile({rule(1, {.header = {{"X-A", {"*"}}}})}, fixed("default"));
    ASSERT_TRUE(compiled.ok());
    RequestView view{"GET", "h", "/", "", nullptr, nullptr};
    EXPECT_EQ((*compiled)->match(view)->fixed_response.body, "default");
}

TEST(Rules, EmptyHeaderNameIsACompileError) {
    auto compiled = RuleSet::compile({rule(7, {.header = {{"", {"x"}}}})}, fixed("default"));
    ASSERT_FALSE(compiled.ok());
    EXPECT_NE(compiled.error().find("priority 7"), std::string::npos);
}

// ---------------------------------------------------------------- query

Request query(std::string q) {
    Request request;
    request.query = std::move(q);
    return request;
}

TEST(Rules, QueryKeyAndValue) {
    Router router({rule(1, {.query = {{"version", {"2"}}}})});
    EXPECT_EQ(router.route(query("version=2")), "r1");
    EXPECT_EQ(router.route(query("a=1&version=2&b=3")), "r1");
    EXPECT_EQ(router.route(query("version=3")), "default");
    EXPECT_EQ(router.route(query("Version=2")), "default");  // case-sensitive key
    EXPECT_EQ(router.route(query("version=22")), "default");
    EXPECT_EQ(router.route(query("")), "default");
    EXPECT_EQ(router.route(query("xversion=2")), "default");
}

TEST(Rules, QueryValuesCaseSensitiveWildcards) {
    Router router({rule(1, {.query = {{"q", {"ab*", "x?z"}}}})});
    EXPECT_EQ(router.route(query("q=ab")), "r1");
    EXPECT_EQ(router.route(query("q=abcdef")), "r1");
    EXPECT_EQ(router.route(query("q=AB")), "default");
    EXPECT_EQ(router.route(query("q=xyz")), "r1");
    EXPECT_EQ(router.route(query("q=xz")), "default");
}

TEST(Rules, QueryIsComparedPercentDecoded) {
    Router router({rule(1, {.query = {{"name", {"a b"}}}}), rule(2, {.query = {{"k&", {"1=2"}}}}),
                   rule(3, {.query = {{"plus", {"a+b"}}}})});
    EXPECT_EQ(router.route(query("name=a%20b")), "r1");
    EXPECT_EQ(router.route(query("n%61me=a%20b")), "r1");
    EXPECT_EQ(router.route(query("name=a b")), "r1");
    EXPECT_EQ(router.route(query("k%26=1%3D2")), "r2");  // escapes do not split
    EXPECT_EQ(router.route(query("plus=a+b")), "r3");     // '+' is not a space here
    EXPECT_EQ(router.route(query("plus=a%2Bb")), "r3");
    EXPECT_EQ(router.route(query("name=a+b")), "default");
}

TEST(Rules, QueryMalformedEscapeStaysLiteral) {
    Router router({rule(1, {.query = {{"v", {"%zz%4"}}}})});
    EXPECT_EQ(router.route(query("v=%zz%4")), "r1");
}

TEST(Rules, QuerySeveralKeysAllMustMatchRepeatedKeysAnyOccurrence) {
    Router router({rule(1, {.query = {{"a", {"1"}}, {"b", {"2"}}}})});
    EXPECT_EQ(router.route(query("a=1&b=2")), "r1");
    EXPECT_EQ(router.route(query("b=2&a=0&a=1")), "r1");
    EXPECT_EQ(router.route(query("a=1")), "default");
    EXPECT_EQ(router.route(query("a=1&b=3")), "default");
}

TEST(Rules, QueryKeyWildcardAndBareKeys) {
    Router router({rule(1, {.query = {{"*", {"needle"}}}}), rule(2, {.query = {{"flag", {""}}}}),
                   rule(3, {.query = {{"utm_*", {}}}})});
    EXPECT_EQ(router.route(query("x=1&anything=needle")), "r1");
    EXPECT_EQ(router.route(query("flag")), "r2");
    EXPECT_EQ(router.route(query("flag=")), "r2");
    EXPECT_EQ(router.route(query("flag=1")), "default");
    EXPECT_EQ(router.route(query("utm_source=x")), "r3");
    EXPECT_EQ(router.route(query("&&utm_=&")), "r3");
}

TEST(Rules, QueryWithManyParameters) {
    Router router({rule(1, {.query = {{"last", {"yes"}}}})});
    std::string q;
    for (int i = 0; i < 100; ++i) q += "p" + std::to_string(i) + "=%41&";
    EXPECT_EQ(router.route(query(q + "last=y%65s")), "r1");
    EXPECT_EQ(router.route(query(q + "last=no")), "default");
}

// ---------------------------------------------------------------- source ip

TEST(Rules, SourceIpV4V6AndMapped) {
    Router router({rule(1, {.source_ip = {cidr("192.168.0.0/16"), cidr("10.1.2.3")}}),
                   rule(2, {.source_ip = {cidr("2001:db8::/32")}})});
    EXPECT_EQ(router.route(Request{}.with_source("192.168.7.9")), "r1");
    EXPECT_EQ(router.route(Request{}.with_source("10.1.2.3")), "r1");
    EXPECT_EQ(router.route(Request{}.with_source("10.1.2.4")), "default");
    EXPECT_EQ(router.route(Request{}.with_source("::ffff:192.168.1.1")), "r1");
    EXPECT_EQ(router.route(Request{}.with_source("2001:db8:1::5")), "r2");
    EXPECT_EQ(router.route(Request{}.with_source("2001:db9::5")), "default");
    EXPECT_EQ(router.route(Request{}), "default");  // no peer address known
}

// ---------------------------------------------------------------- combinations

TEST(Rules, AndAcrossKindsOrWithin) {
    Router router({rule(1, {.host = {"a.com", "b.com"},
                            .path = {"/x/*", "/y"},
                            .method = {"GET", "PUT"},
                            .header = {{"X-K", {"1", "2"}}},
                            .query = {{"q", {"v", "w"}}},
                            .source_ip = {cidr("10.0.0.0/8"), cidr("2001:db8::/32")}})});
    Request good;
    good.host = "B.com";
    good.path = "/y";
    good.method = "PUT";
    good.headers = {{"x-k", "2"}};
    good.query = "q=w";
    good.with_source("2001:db8::1");
    EXPECT_EQ(router.route(good), "r1");

    auto broken = [&](auto change) {
        Request request = good;
        change(request);
        return router.route(request);
    };
    EXPECT_EQ(broken([](Request& r) { r.host = "c.com"; }), "default");
    EXPECT_EQ(broken([](Request& r) { r.path = "/x"; }), "default");
    EXPECT_EQ(broken([](Request& r) { r.method = "POST"; }), "default");
    EXPECT_EQ(broken([](Request& r) { r.headers = {{"x-k", "3"}}; }), "default");
    EXPECT_EQ(broken([](Request& r) { r.query = "q=x"; }), "default");
    EXPECT_EQ(broken([](Request& r) { r.with_source("11.0.0.1"); }), "default");
    EXPECT_EQ(broken([](Request& r) { r.path = "/x/1"; }), "r1");
    EXPECT_EQ(broken([](Request& r) { r.with_source("::ffff:10.9.9.9"); }), "r1");
}

TEST(Rules, ActionIsTheRulesAction) {
    conf::Rule redirect = rule(1, {.path = {"/old/*"}});
    redirect.action = conf::Action{};
    redirect.action.kind = conf::Action::Kind::redirect;
    redirect.action.redirect.path = "/new/#{path}";
    auto compiled = RuleSet::compile({redirect}, fixed("default"));
    ASSERT_TRUE(compiled.ok());
    Headers headers;
    RequestView view{"GET", "h", "/old/x", "", &headers, nullptr};
    const conf::Action* action = (*compiled)->match(view);
    ASSERT_NE(action, nullptr);
    EXPECT_EQ(action->kind, conf::Action::Kind::redirect);
    EXPECT_EQ(action->redirect.path, "/new/#{path}");
}

// ---------------------------------------------------------------- many rules

TEST(Rules, ThousandRulesLastOneMatches) {
    std::vector<conf::Rule> by_path, by_host, by_header, by_query, mixed;
    for (int i = 1; i <= 1000; ++i) {
        std::string n = std::to_string(i);
        by_path.push_back(rule(i, {.path = {"/svc" + n + "/*"}}));
        by_host.push_back(rule(i, {.host = {"h" + n + ".example.com"}}));
        by_header.push_back(rule(i, {.header = {{"X-Tenant", {"tenant-" + n}}}}));
        by_query.push_back(rule(i, {.query = {{"shard", {n}}}}));
        mixed.push_back(rule(i, {.host = {"*.example.com"}, .path = {"/p" + n}, .method = {"GET"}}));
    }
    std::reverse(by_host.begin(), by_host.end());

    EXPECT_EQ(Router(by_path).route(path("/svc1000/x")), "r1000");
    EXPECT_EQ(Router(by_path).route(path("/svc100/x")), "r100");
    EXPECT_EQ(Router(by_path).route(path("/svc10000/x")), "default");
    EXPECT_EQ(Router(by_host).route(host("H1000.example.com")), "r1000");
    Request tenant;
    tenant.headers = {{"x-tenant", "TENANT-1000"}};
    EXPECT_EQ(Router(by_header).route(tenant), "r1000");
    EXPECT_EQ(Router(by_query).route(query("shard=1000")), "r1000");
    Request last = path("/p1000");
    last.host = "www.example.com";
    EXPECT_EQ(Router(mixed).route(last), "r1000");
    last.method = "POST";
    EXPECT_EQ(Router(mixed).route(last), "default");
}

TEST(Rules, MoreRulesThanTheInlineBitmap) {
    std::vector<conf::Rule> rules;
    for (int i = 1; i <= 5000; ++i) rules.push_back(rule(i, {.path = {"/r" + std::to_string(i)}}));
    Router router(rules);
    EXPECT_EQ(router.route(path("/r4999")), "r4999");
    EXPECT_EQ(router.route(path("/r1")), "r1");
    EXPECT_EQ(router.route(path("/r5001")), "default");
}

// ---------------------------------------------------------------- index vs naive

// An independent, deliberately simple evaluator of the documented semantics.
namespace naive {

bool wildcard(std::string_view p, std::string_view t, bool fold) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
    if (p.empty()) return t.empty();
    if (p[0] == '*') return wildcard(p.substr(1), t, fold) || (!t.empty() && wildcard(p, t.substr(1), fold));
    if (t.empty()) return false;
    bool same = p[0] == '?' || (fold ? lower(p[0]) == lower(t[0]) : p[0] == t[0]);
    return same && wildcard(p.substr(1), t.substr(1), fold);
}

bool any(const std::vector<std::string>& patterns, std::string_view text, bool fold) {
    for (const auto& p : patterns)
        if (wildcard(p, text, fold)) return true;
    return false;
}

std::string decode(std::string_view in) {
    std::string out;
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '%' && i + 2 < in.size() && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
            out += static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2]));
            i += 2;
        } else {
            out += in[i];
        }
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> params(const std::string& query) {
    std::vector<std::pair<std::string, std::string>> out;
    size_t start = 0;
    while (start <= query.size()) {
        size_t end = query.find('&', start);
        if (end == std::string::npos) end = query.size();
        std::string piece = query.substr(start, end - start);
        if (!piece.empty()) {
            size_t eq = piece.find('=');
            out.emplace_back(decode(piece.substr(0, eq)), eq == std::string::npos ? "" : decode(piece.substr(eq + 1)));
        }
        start = end + 1;
    }
    return out;
}

bool same_name(const std::string& a, const std::string& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

bool matches(const conf::Conditions& c, const Request& r) {
    if (!c.host.empty() && !any(c.host, r.host, true)) return false;
    if (!c.path.empty() && !any(c.path, r.path, false)) return false;
    if (!c.method.empty() && std::find(c.method.begin(), c.method.end(), r.method) == c.method.end())
        return false;
    for (const auto& h : c.header) {
        bool found = false;
        for (const auto& [name, value] : r.headers)
            if (same_name(name, h.key) && (h.values.empty() || any(h.values, value, true))) found = true;
        if (!found) return false;
    }
    auto ps = params(r.query);
    for (const auto& q : c.query) {
        bool found = false;
        for (const auto& [key, value] : ps)
            if (wildcard(q.key, key, false) && (q.values.empty() || any(q.values, value, false))) found = true;
        if (!found) return false;
    }
    if (!c.source_ip.empty()) {
        if (!r.source) return false;
        bool inside = false;
        for (const auto& block : c.source_ip) inside = inside || block.contains(*r.source);
        if (!inside) return false;
    }
    return true;
}

std::string route(std::vector<conf::Rule> rules, const Request& request) {
    std::sort(rules.begin(), rules.end(), [](auto& a, auto& b) { return a.priority < b.priority; });
    for (const auto& r : rules)
        if (matches(r.conditions, request)) return r.action.fixed_response.body;
    return "default";
}

}  // namespace naive

class RandomRules {
public:
    explicit RandomRules(uint32_t seed) : rng_(seed) {}

    std::vector<conf::Rule> rules(int count) {
        std::vector<int> priorities(static_cast<size_t>(count) * 3);
        for (size_t i = 0; i < priorities.size(); ++i) priorities[i] = static_cast<int>(i) + 1;
        std::shuffle(priorities.begin(), priorities.end(), rng_);
        std::vector<conf::Rule> out;
        for (int i = 0; i < count; ++i) {
            conf::Conditions c;
            if (chance(40)) c.host = some(host_patterns_);
            if (chance(50)) c.path = some(path_patterns_);
            if (chance(20)) c.method = some(methods_);
            if (chance(25)) {
                int n = 1 + static_cast<int>(rng_() % 2);
                for (int k = 0; k < n; ++k)
                    c.header.push_back({pick(header_names_), chance(15) ? std::vector<std::string>{}
                                                                        : some(header_patterns_)});
            }
            if (chance(25)) {
                int n = 1 + static_cast<int>(rng_() % 2);
                for (int k = 0; k < n; ++k)
                    c.query.push_back({pick(query_keys_), chance(15) ? std::vector<std::string>{}
                                                                     : some(query_patterns_)});
            }
            if (chance(15))
                for (const auto& text : some(cidrs_)) c.source_ip.push_back(cidr(text));
            out.push_back(rule(priorities[static_cast<size_t>(i)], std::move(c)));
        }
        return out;
    }

    Request request() {
        Request r;
        r.host = pick(hosts_);
        r.path = pick(paths_);
        r.method = pick(methods_);
        int headers = static_cast<int>(rng_() % 4);
        for (int i = 0; i < headers; ++i) r.headers.emplace_back(pick(request_header_names_), pick(header_values_));
        int params = static_cast<int>(rng_() % 4);
        for (int i = 0; i < params; ++i) {
            if (i) r.query += '&';
            r.query += pick(request_keys_);
            if (chance(85)) r.query += "=" + pick(query_values_);
        }
        if (chance(85)) r.with_source(pick(addresses_));
        return r;
    }

private:
    bool chance(int percent) { return static_cast<int>(rng_() % 100) < percent; }
    const std::string& pick(const std::vector<std::string>& from) { return from[rng_() % from.size()]; }
    std::vector<std::string> some(const std::vector<std::string>& from) {
        std::vector<std::string> out;
        int n = 1 + static_cast<int>(rng_() % 3);
        for (int i = 0; i < n; ++i) out.push_back(pick(from));
        return out;
    }

    std::mt19937 rng_;
    std::vector<std::string> host_patterns_ = {"example.com", "EXAMPLE.com", "*.example.com", "a.example.com",
                                               "*", "a.*", "?.example.com", "*ex*", "b.example.org", "*.org",
                                               "a*e*m", ""};
    std::vector<std::string> hosts_ = {"example.com", "a.example.com", "A.Example.Com", "b.example.org",
                                       "x.y.example.com", "", "ab.example.com", "a.b"};
    std::vector<std::string> path_patterns_ = {"/", "/a", "/a/*", "/a/?", "/*/b", "*", "/a*b*c", "/A/*",
                                               "*.png", "/b/*/c", "/a/b", "?", "/b*"};
    std::vector<std::string> paths_ = {"/", "/a", "/a/", "/a/b", "/a/x", "/A/b", "/x/b", "/aXbYc",
                                       "/img.png", "/b/q/c", "/b//c", "/b"};
    std::vector<std::string> methods_ = {"GET", "POST", "PUT", "get"};
    std::vector<std::string> header_names_ = {"X-A", "x-b", "X-C"};
    std::vector<std::string> header_patterns_ = {"1", "yes", "Y*", "*", "?", "a*z", "", "*e*"};
    std::vector<std::string> request_header_names_ = {"X-A", "x-a", "X-B", "x-c", "Accept"};
    std::vector<std::string> header_values_ = {"1", "yes", "YES", "yellow", "", "az", "abz", "2"};
    std::vector<std::string> query_keys_ = {"k", "v", "*", "k?", "a b", ""};
    std::vector<std::string> query_patterns_ = {"1", "a b", "x*", "*", "a+b", "", "x?y"};
    std::vector<std::string> request_keys_ = {"k", "v", "k1", "a%20b", "a+b", "%6B", ""};
    std::vector<std::string> query_values_ = {"1", "a%20b", "a+b", "x%2Ay", "xx", "", "%31", "x%"};
    std::vector<std::string> cidrs_ = {"10.0.0.0/8", "192.168.1.0/24", "2001:db8::/32", "::1/128", "0.0.0.0/0"};
    std::vector<std::string> addresses_ = {"10.1.2.3", "192.168.1.9", "::ffff:10.9.9.9", "2001:db8::5",
                                           "::1", "8.8.8.8"};
};

TEST(Rules, IndexAgreesWithNaiveEvaluation) {
    RandomRules random(2024);
    int routed = 0, total = 0;
    for (int set = 0; set < 300; ++set) {
        int count = set % 10 == 0 ? 150 + set : 1 + set % 60;
        auto rules = random.rules(count);
        Router router(rules);
        for (int i = 0; i < 100; ++i) {
            Request request = random.request();
            std::string expected = naive::route(rules, request);
            ASSERT_EQ(router.route(request), expected)
                << "set " << set << " host '" << request.host << "' path '" << request.path << "' query '"
                << request.query << "'";
            routed += expected != "default";
            ++total;
        }
    }
    // The generator must exercise both outcomes for the comparison to mean anything.
    EXPECT_GT(routed, total / 5);
    EXPECT_LT(routed, total);
}

}  // namespace
}  // namespace lb
