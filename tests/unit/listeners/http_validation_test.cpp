// The checks between parsing a head and acting on it: which requests lb
// refuses (and with what status), what it routes on and forwards, and how
// a target's response is framed towards the client.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lb/http/http_grammar.h"
#include "lb/http/http_parser.h"
#include "lb/http/http_validation.h"
#include "lb/http/path_normalize.h"

namespace lb {
namespace {

struct HeadCatcher final : HttpParserSink {
    HttpHead head;
    bool got = false;
    int on_http_head(HttpHead& h) override {
        head = h;
        got = true;
        return kPause;
    }
    int on_http_body(std::string_view) override { return kContinue; }
    int on_http_message_complete() override { return kContinue; }
};

// Parses a request head with the real parser, then checks it.
CheckedRequest check(const std::string& raw, conf::PathNormalization normalization = {}) {
    HeadCatcher sink;
    HttpParser parser(HttpParser::Kind::request, &sink, 65536);
    parser.feed(raw);
    EXPECT_TRUE(sink.got) << raw;
    return check_request(sink.head, normalization);
}

HttpHead parse_response(const std::string& raw) {
    HeadCatcher sink;
    HttpParser parser(HttpParser::Kind::response, &sink, 65536);
    parser.feed(raw);
    EXPECT_TRUE(sink.got) << raw;
    return sink.head;
}

TEST(CheckRequest, RefusesWhatLlhttpLetsThrough) {
    struct Case {
        const char* raw;
        int status;
    };
    const std::vector<Case> cases = {
        {"GET / HTTP/1.1\r\nHost: a\r\nX Y: z\r\n\r\n", 400},            // space in a field name
        {"GET / HTTP/1.1\r\nHost: a\r\n: z\r\n\r\n", 400},               // empty field name
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},           // two Hosts
        {"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400},           // even equal ones
        {"GET / HTTP/1.1\r\n\r\n", 400},                                 // HTTP/1.1 needs Host
        {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},                    // not an authority
        {"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
        {"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        // "chunked" and a tab: lb's list reading says chunked, llhttp does
        // not frame it so; lb must not forward a body nobody frames.
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\t\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\t\t\r\nTransfer-Encoding: \r\n\r\n", 400},
        {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
        {"GET / HTTP/0.9\r\n\r\n", 505},
        {"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},                      // asterisk-form is for OPTIONS
        {"GET http://user@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},         // userinfo
        {"GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400},                  // malformed escape
        {"GET /a%4 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    };
    for (const auto& c : cases) {
        CheckedRequest checked = check(c.raw);
        EXPECT_EQ(checked.status, c.status) << c.raw;
        EXPECT_STRNE(checked.error, "") << c.raw;
    }
}

TEST(CheckRequest, AcceptsAndSaysWhatToRouteAndForward) {
    CheckedRequest plain = check("GET /a/b?x=1 HTTP/1.1\r\nHost: Example.com:8080\r\n\r\n");
    ASSERT_EQ(plain.status, 0) << plain.error;
    EXPECT_EQ(plain.host, "Example.com");
    EXPECT_EQ(plain.authority, "Example.com:8080");
    EXPECT_EQ(plain.path, "/a/b");
    EXPECT_EQ(plain.query, "x=1");
    EXPECT_EQ(plain.target, "/a/b?x=1");

    // Absolute-form: routed on its authority, which the target gets as Host.
    CheckedRequest absolute = check("GET http://a.example/p?q HTTP/1.1\r\nHost: b.example\r\n\r\n");
    ASSERT_EQ(absolute.status, 0) << absolute.error;
    EXPECT_EQ(absolute.host, "a.example");
    EXPECT_EQ(absolute.authority, "a.example");
    EXPECT_EQ(absolute.target, "/p?q");
    EXPECT_EQ(check("GET HTTP://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n").target, "/");

    // HTTP/1.0 may leave Host out.
    CheckedRequest old = check("GET / HTTP/1.0\r\n\r\n");
    EXPECT_EQ(old.status, 0);
    EXPECT_EQ(old.authority, "");

    CheckedRequest options = check("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(options.status, 0);
    EXPECT_EQ(options.target, "*");

    EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n").host, "[2001:db8::1]");
    EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: \r\n\r\n").status, 0);  // empty is allowed
    EXPECT_EQ(check("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n").status, 0);
}

TEST(CheckRequest, PathIsNormalizedForRulesAndForwardedAsConfigured) {
    for (const char* raw : {"GET //admin HTTP/1.1\r\nHost: a\r\n\r\n", "GET /%61dmin HTTP/1.1\r\nHost: a\r\n\r\n",
                            "GET /./admin HTTP/1.1\r\nHost: a\r\n\r\n", "GET /x/../admin HTTP/1.1\r\nHost: a\r\n\r\n",
                            "GET /%2e%2E/admin HTTP/1.1\r\nHost: a\r\n\r\n"}) {
        CheckedRequest checked = check(raw, {.merge_slashes = true, .forward_normalized = true});
        ASSERT_EQ(checked.status, 0) << raw;
        EXPECT_EQ(checked.path, "/admin") << raw;
        EXPECT_EQ(checked.target, "/admin") << raw;
    }
    CheckedRequest original = check("GET /x/../%61dmin?a=%2e HTTP/1.1\r\nHost: a\r\n\r\n",
                                    {.merge_slashes = false, .forward_normalized = false});
    EXPECT_EQ(original.path, "/admin");
    EXPECT_EQ(original.target, "/x/../%61dmin?a=%2e");  // the query is never touched
    EXPECT_EQ(check("GET //a HTTP/1.1\r\nHost: a\r\n\r\n").path, "/a");  // merge_slashes is on by default
    EXPECT_EQ(check("GET //a HTTP/1.1\r\nHost: a\r\n\r\n", {.merge_slashes = false}).path, "//a");
}

TEST(NormalizePath, Rfc3986) {
    struct Case {
        const char* in;
        const char* out;
    };
    const std::vector<Case> cases = {
        {"/", "/"},
        {"/a/b/c/./../../g", "/a/g"},         // RFC 3986 section 5.2.4's example
        {"/a/b/..", "/a/"},
        {"/a/b/.", "/a/b/"},
        {"/..", "/"},
        {"/../../a", "/a"},
        {"/a/%2E%2e/b", "/b"},
        {"/%7euser", "/~user"},
        {"/a%2fb", "/a%2Fb"},                 // an escaped slash stays escaped (upper-cased)
        {"/a%20b", "/a%20b"},
        {"/a..b/.c", "/a..b/.c"},
        {"/a//b", "/a//b"},
        {"/a//../b", "/a/b"},
    };
    for (const auto& c : cases) EXPECT_EQ(normalize_path(c.in, false).value_or("<malformed>"), c.out) << c.in;
    EXPECT_EQ(normalize_path("//a///b//", true).value_or(""), "/a/b/");
    EXPECT_FALSE(normalize_path("/%", false));
    EXPECT_FALSE(normalize_path("/%g0", false));
    EXPECT_FALSE(normalize_path("/a%0", false));
}

TEST(Grammar, TokensAndAuthorities) {
    EXPECT_TRUE(is_token("X-Custom_1"));
    EXPECT_FALSE(is_token(""));
    EXPECT_FALSE(is_token("X Y"));
    EXPECT_FALSE(is_token("X:Y"));
    for (const char* good : {"", "a", "a.example:80", "127.0.0.1", "[::1]", "[::1]:8080", "a:", "a_b-c~d%41"})
        EXPECT_TRUE(is_authority(good)) << good;
    for (const char* bad : {"a b", "a/b", "a@b", "[::1", "[zz]", "a:b", "a:123456", "[::1]x", "a%4"})
        EXPECT_FALSE(is_authority(bad)) << bad;
}

TEST(PlanResponse, BodiesAndFraming) {
    // 204 and 304 never have a body, whatever the headers say.
    ResponsePlan no_content = plan_response(parse_response("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"), false, false);
    EXPECT_EQ(no_content.status, 0);
    EXPECT_EQ(no_content.framing, BodyFraming::none);
    EXPECT_FALSE(no_content.content_length);
    EXPECT_FALSE(no_content.reusable);  // the 5 bytes may well follow

    ResponsePlan not_modified = plan_response(parse_response("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n"), false, false);
    EXPECT_EQ(not_modified.framing, BodyFraming::none);
    EXPECT_EQ(not_modified.content_length, 5u);  // describes the representation
    EXPECT_TRUE(not_modified.reusable);

    ResponsePlan head = plan_response(parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), true, false);
    EXPECT_EQ(head.framing, BodyFraming::none);

    ResponsePlan sized = plan_response(parse_response("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n"), false, false);
    EXPECT_EQ(sized.framing, BodyFraming::content_length);
    EXPECT_EQ(sized.content_length, 7u);

    ResponsePlan chunked = plan_response(parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), false, true);
    EXPECT_EQ(chunked.framing, BodyFraming::until_close);  // an HTTP/1.0 client cannot take chunks

    ResponsePlan switching = plan_response(
        parse_response("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"), false, false);
    EXPECT_EQ(switching.status, 0);
    EXPECT_EQ(switching.framing, BodyFraming::none);

    ResponsePlan until_close = plan_response(parse_response("HTTP/1.1 200 OK\r\n\r\n"), false, false);
    EXPECT_EQ(until_close.framing, BodyFraming::chunked);
    EXPECT_FALSE(until_close.reusable);

    for (const char* bad : {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                            "HTTP/1.1 200 OK\r\nX Y: 1\r\nContent-Length: 0\r\n\r\n",
                            "HTTP/1.1 200 OK\r\n: 1\r\nContent-Length: 0\r\n\r\n",
                            // A 101 must say what it switches to (found by fuzzing).
                            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n"}) {
        EXPECT_EQ(plan_response(parse_response(bad), false, false).status, 502) << bad;
    }
}

}  // namespace
}  // namespace lb
