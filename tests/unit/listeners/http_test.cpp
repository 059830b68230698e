// HTTP head rewriting, parsing and cookie helpers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lb/http/cookies.h"
#include "lb/http/http_head.h"
#include "lb/http/http_parser.h"

namespace lb {
namespace {

struct Recorder final : HttpParserSink {
    std::vector<HttpHead> heads;
    std::string body;
    int completed = 0;
    bool pause_at_end = false;
    int head_result = kContinue;
    int on_http_head(HttpHead& head) override {
        heads.push_back(head);
        return head_result;
    }
    int on_http_body(std::string_view data) override {
        body.append(data);
        return kContinue;
    }
    int on_http_message_complete() override {
        ++completed;
        return pause_at_end ? kPause : kContinue;
    }
};

TEST(HttpParser, PausesAtMessageEndSoPipelinedRequestsWait) {
    Recorder sink;
    sink.pause_at_end = true;
    HttpParser parser(HttpParser::Kind::request, &sink, 8192);
    std::string two = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    auto first = parser.feed(two);
    ASSERT_EQ(first.status, HttpParser::Status::paused);
    EXPECT_EQ(sink.completed, 1);
    EXPECT_EQ(two.substr(first.consumed), "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    parser.reset();  // what HttpSession does: the next request gets a fresh parser
    auto second = parser.feed(two.substr(first.consumed));
    EXPECT_EQ(second.status, HttpParser::Status::paused);
    ASSERT_EQ(sink.heads.size(), 2u);
    EXPECT_EQ(sink.heads[1].url, "/b");
}

TEST(HttpParser, RejectsAmbiguousFraming) {
    for (const char* request : {
             "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
             "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
             "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
             "GARBAGE\r\n\r\n",
         }) {
        Recorder sink;
        HttpParser parser(HttpParser::Kind::request, &sink, 8192);
        EXPECT_EQ(parser.feed(request).status, HttpParser::Status::error) << request;
    }
}

TEST(HttpParser, ChunkedBodyIsDecodedAndHeaderLimitEnforced) {
    Recorder sink;
    HttpParser parser(HttpParser::Kind::request, &sink, 8192);
    auto outcome = parser.feed("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    EXPECT_EQ(outcome.status, HttpParser::Status::ok);
    EXPECT_EQ(sink.body, "abcde");
    ASSERT_EQ(sink.heads.size(), 1u);
    EXPECT_TRUE(sink.heads[0].chunked);

    Recorder small;
    HttpParser limited(HttpParser::Kind::request, &small, 64);
    std::string big = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(200, 'a') + "\r\n\r\n";
    EXPECT_EQ(limited.feed(big).status, HttpParser::Status::header_too_large);
}

// The header limit counts the bytes of the head, not how they were split:
// a head that fits is accepted one byte at a time too (a name delivered in
// pieces was once charged its ": " and CRLF once per piece).
TEST(HttpParser, HeaderLimitDoesNotDependOnHowBytesArrive) {
    std::string head = "GET / HTTP/1.1\r\nHost: x\r\nX-A-Rather-Long-Header-Name: v\r\n\r\n";
    Recorder whole_sink;
    HttpParser whole(HttpParser::Kind::request, &whole_sink, head.size());
    EXPECT_EQ(whole.feed(head).status, HttpParser::Status::ok);
    EXPECT_EQ(whole_sink.completed, 1);
    Recorder bytes_sink;
    HttpParser bytewise(HttpParser::Kind::request, &bytes_sink, head.size());
    HttpParser::Status status = HttpParser::Status::ok;
    for (char c : head) status = bytewise.feed(std::string_view(&c, 1)).status;
    EXPECT_EQ(status, HttpParser::Status::ok);
    EXPECT_EQ(bytes_sink.completed, 1);
}

TEST(HttpParser, ResponseToHeadSkipsBody) {
    Recorder sink;
    sink.head_result = HttpParserSink::kSkipBody;
    HttpParser parser(HttpParser::Kind::response, &sink, 8192);
    auto outcome = parser.feed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
    EXPECT_EQ(outcome.status, HttpParser::Status::ok);
    EXPECT_EQ(sink.completed, 1);
}

HttpHead request_with(std::vector<std::pair<std::string, std::string>> headers) {
    HttpHead head;
    head.method = "GET";
    head.url = "/p?q=1";
    head.headers = std::move(headers);
    return head;
}

TEST(HttpHead, UpstreamRequestDropsHopByHopAndAppendsForwardedFor) {
    HttpHead head = request_with({{"Host", "app.example"},
                                  {"Connection", "keep-alive, X-Secret"},
                                  {"X-Secret", "1"},
                                  {"Keep-Alive", "timeout=5"},
                                  {"TE", "trailers"},
                                  {"X-Forwarded-For", "1.1.1.1"},
                                  {"X-Forwarded-Proto", "gopher"},
                                  {"Accept", "*/*"}});
    std::string out = serialize_upstream_request(head, "/p?q=1", "app.example", {"10.0.0.9", "http", 8080});
    EXPECT_EQ(out.rfind("GET /p?q=1 HTTP/1.1\r\n", 0), 0u);
    EXPECT_NE(out.find("Host: app.example\r\n"), std::string::npos);
    EXPECT_NE(out.find("Accept: */*\r\n"), std::string::npos);
    EXPECT_NE(out.find("X-Forwarded-For: 1.1.1.1, 10.0.0.9\r\n"), std::string::npos);
    EXPECT_NE(out.find("X-Forwarded-Proto: http\r\n"), std::string::npos);
    EXPECT_NE(out.find("X-Forwarded-Port: 8080\r\n"), std::string::npos);
    for (const char* gone : {"Connection", "X-Secret", "Keep-Alive", "TE:", "gopher"})
        EXPECT_EQ(out.find(gone), std::string::npos) << gone;
    EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n");
}

// Framing and routing headers are lb's to write: a Connection header naming
// them (request smuggling: the body would reach the target unframed) or a
// second copy of them changes nothing.
TEST(HttpHead, UpstreamFramingAndHostAreLbsOwn) {
    HttpHead head = request_with({{"Host", "client.example"},
                                  {"Connection", "Content-Length, Host, Transfer-Encoding"},
                                  {"Content-Length", "5"}});
    head.method = "POST";
    head.content_length = 5;
    std::string out = serialize_upstream_request(head, "/p", "routed.example", {"10.0.0.9", "http", 80});
    EXPECT_NE(out.find("\r\nHost: routed.example\r\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("client.example"), std::string::npos) << out;
    EXPECT_NE(out.find("\r\nContent-Length: 5\r\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("Content-Length", out.find("Content-Length") + 1), std::string::npos) << out;

    head.content_length.reset();
    head.chunked = true;
    head.headers.emplace_back("Transfer-Encoding", "chunked");
    out = serialize_upstream_request(head, "/p", "routed.example", {"10.0.0.9", "http", 80});
    EXPECT_NE(out.find("\r\nTransfer-Encoding: chunked\r\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("Content-Length"), std::string::npos) << out;
}

TEST(HttpHead, ClientResponseContentLengthIsLbsOwn) {
    HttpHead response;
    response.status = 200;
    response.headers = {{"Connection", "Content-Length"}, {"Content-Length", "3"}, {"X-A", "1"}};
    std::string out = serialize_client_response(response, BodyFraming::content_length, 3, false, false);
    EXPECT_NE(out.find("\r\nContent-Length: 3\r\n"), std::string::npos) << out;
    out = serialize_client_response(response, BodyFraming::chunked, std::nullopt, false, false);
    EXPECT_EQ(out.find("Content-Length"), std::string::npos) << out;
    EXPECT_NE(out.find("\r\nTransfer-Encoding: chunked\r\n"), std::string::npos) << out;
}

// llhttp 8.1 skips the two bytes after chunk data unchecked; lb does not.
TEST(HttpParser, ChunkDataMustEndWithCrlf) {
    const std::string head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (const char* body : {"5\r\nhelloXX0\r\n\r\n", "5\r\nhello\n\n0\r\n\r\n", "5\r\nhello\rX0\r\n\r\n"}) {
        Recorder sink;
        HttpParser parser(HttpParser::Kind::request, &sink, 8192);
        EXPECT_EQ(parser.feed(head + body).status, HttpParser::Status::error) << body;
        EXPECT_STREQ(parser.error_reason(), "chunk data not followed by CRLF");
    }
    // Split at every byte: the terminator may arrive in a later read.
    std::string good = head + "5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n";
    std::string bad = head + "5\r\nhello\r\r3\r\nabc\r\n0\r\n\r\n";
    for (size_t split = head.size(); split < good.size(); ++split) {
        Recorder sink;
        HttpParser parser(HttpParser::Kind::request, &sink, 8192);
        EXPECT_EQ(parser.feed(std::string_view(good).substr(0, split)).status, HttpParser::Status::ok) << split;
        EXPECT_EQ(parser.feed(std::string_view(good).substr(split)).status, HttpParser::Status::ok) << split;
        EXPECT_EQ(sink.body, "helloabc");

        Recorder bad_sink;
        HttpParser bad_parser(HttpParser::Kind::request, &bad_sink, 8192);
        auto first = bad_parser.feed(std::string_view(bad).substr(0, split));
        auto outcome = first.status == HttpParser::Status::error ? first
                                                                 : bad_parser.feed(std::string_view(bad).substr(split));
        EXPECT_EQ(outcome.status, HttpParser::Status::error) << split;
    }
}

TEST(HttpHead, SplitRequestTargetHandlesOriginAndAbsoluteForm) {
    auto origin = split_request_target("/a/b?x=1&y=2");
    EXPECT_EQ(origin.path, "/a/b");
    EXPECT_EQ(origin.query, "x=1&y=2");
    auto absolute = split_request_target("http://Example.com:8080/p?q");
    EXPECT_EQ(absolute.authority, "Example.com:8080");
    EXPECT_EQ(absolute.path, "/p");
    EXPECT_EQ(absolute.query, "q");
    EXPECT_EQ(host_without_port("example.com:8080"), "example.com");
    EXPECT_EQ(host_without_port("[::1]:8080"), "[::1]");
}

TEST(HttpHead, LocalResponsesAreCompleteAndCloseWhenAsked) {
    std::string r = make_local_response(503, "text/plain", "503 Service Unavailable\n", true);
    EXPECT_EQ(r.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u);
    EXPECT_NE(r.find("Content-Length: 24\r\n"), std::string::npos);
    EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos);
    EXPECT_EQ(r.substr(r.size() - 24), "503 Service Unavailable\n");
    std::string head_only = make_local_response(200, "text/plain", "pong", false, {}, true);
    EXPECT_NE(head_only.find("Content-Length: 4\r\n"), std::string::npos);
    EXPECT_EQ(head_only.substr(head_only.size() - 4), "\r\n\r\n");
}

TEST(Cookies, FindAndRemoveByName) {
    HttpHead head = request_with({{"Cookie", "a=1; LBSTICKY=xyz; b=\"2\""}, {"cookie", "LBSTICKY=other"}});
    EXPECT_EQ(find_cookie(head, "LBSTICKY"), "xyz");
    EXPECT_EQ(find_cookie(head, "b"), "2");
    EXPECT_FALSE(find_cookie(head, "LB"));
    remove_cookie(head, "LBSTICKY");
    ASSERT_EQ(head.headers.size(), 1u);
    EXPECT_EQ(head.headers[0].second, "a=1; b=\"2\"");
    EXPECT_EQ(set_cookie_header("N", "v", 60, true), "Set-Cookie: N=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure\r\n");
}

TEST(Cookies, FindSetCookieReadsTheValueAndSeesDeletion) {
    HttpHead response;
    response.headers = {{"Set-Cookie", "other=1; Path=/; JSESSIONID=not-a-cookie"},
                        {"set-cookie", "JSESSIONID=\"abc\"; Path=/; Max-Age=3600; HttpOnly"}};
    auto found = find_set_cookie(response, "JSESSIONID");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->value, "abc");   // attributes of another cookie never match; quotes removed
    EXPECT_FALSE(found->deletes);
    EXPECT_FALSE(find_set_cookie(response, "jsessionid"));   // names are case-sensitive
    EXPECT_FALSE(find_set_cookie(response, "Path"));

    for (const char* deleting : {"sid=; Path=/", "sid=x; Max-Age=0", "sid=x; max-age=-1", "sid=x; Max-Age=000",
                                 "sid=x; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                                 "sid=x; expires=Thu, 01-Jan-1970 00:00:01 GMT"}) {
        response.headers = {{"Set-Cookie", deleting}};
        ASSERT_TRUE(find_set_cookie(response, "sid")) << deleting;
        EXPECT_TRUE(find_set_cookie(response, "sid")->deletes) << deleting;
    }
    for (const char* keeping : {"sid=x; Max-Age=10", "sid=x; Expires=Fri, 31 Dec 9999 23:59:59 GMT",
                                "sid=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=60",  // Max-Age wins
                                "sid=x; Expires=yesterday"}) {
        response.headers = {{"Set-Cookie", keeping}};
        EXPECT_FALSE(find_set_cookie(response, "sid")->deletes) << keeping;
    }
}

}  // namespace
}  // namespace lb
