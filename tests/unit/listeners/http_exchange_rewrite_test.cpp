// Header and path rewriting in the HTTP exchange (README "Header
// rewriting", "Path rewriting"): what the fake target receives (the request
// line's path, the listener's then the action's edits, the variables of
// this request and of each try) and what the client codec gets (response
// edits on a target's answer, a 101 included; on lb's own answers for the
// listener's rules; none on lb's errors).
#include "listeners/http_exchange.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "tests/unit/listeners/exchange_test_support.h"

namespace lb {
namespace {

using testing::ExchangeTest;
using testing::HeadCatcher;
using Events = std::vector<std::string>;

const std::string kConfig = R"(listeners:
  - name: web
    listen: 127.0.0.1:8080
    request_headers:
      set: { X-Real-IP: "#{client_ip}", X-Order: listener }
      add: { X-Via: "lb #{listener} #{scheme}:#{server_port}", X-Drop: listener, X-Rule: "#{rule}" }
      remove: [X-Debug]
    response_headers:
      set: { X-Frame-Options: DENY }
      remove: [Server]
    rules:
      - priority: 10
        conditions: { path: ["/api", "/api/*"] }
        action:
          forward:
            target_group: g
            path_rewrite: { prefix: /api/, replacement: /v2/ }
            request_headers:
              set: { Host: app.internal, X-Order: action }
              add: { X-Up: "#{target}", X-Id: "#{request_id}", X-Client: "#{method} #{request_uri} #{host} #{client_port}" }
              remove: [X-Drop]
            response_headers:
              add: { X-Group: "#{target_group}", X-Served-By: "#{target}" }
      - priority: 20
        conditions: { path: /fixed }
        action: { fixed_response: { status: 200, body: pong } }
    default_action: { forward: { target_group: g } }
target_groups:
  - name: g
    algorithm: round_robin
    targets: [{ address: 10.0.0.1, port: 1 }, { address: 10.0.0.1, port: 2 }]
)";

constexpr const char* kClient = "203.0.113.5:4444";

class RewriteTest : public ExchangeTest {
protected:
    void SetUp() override { build_yaml(kConfig); }

    // The request connection `i` received, parsed back.
    HttpHead sent(size_t i) {
        HeadCatcher catcher;
        HttpParser parser(HttpParser::Kind::request, &catcher, 64 * 1024);
        parser.feed(record(i).written);
        return catcher.head;
    }
    // Every value of `name` in `head`, in order.
    static std::vector<std::string> values(const HttpHead& head, std::string_view name) {
        std::vector<std::string> out;
        for (const auto& [field, value] : head.headers)
            if (iequals(field, name)) out.push_back(value);
        return out;
    }
    using Values = std::vector<std::string>;
};

TEST_F(RewriteTest, RequestEditsAndPathRewriteReachTheTarget) {
    start("GET /api/users?x=1 HTTP/1.1\r\nHost: app.test\r\nX-Debug: 1\r\nx-real-ip: forged\r\n"
          "X-Order: client\r\nX-Real-IP: again\r\n\r\n",
          kClient);
    exchange_->request_complete();
    ASSERT_EQ(connector().records.size(), 1u);
    const HttpHead head = sent(0);
    EXPECT_EQ(head.method, "GET");
    EXPECT_EQ(head.url, "/v2/users?x=1");
    // Host set by the action: the target gets that one Host.
    EXPECT_EQ(values(head, "host"), (Values{"app.internal"}));
    // Listener first, then the action: the action's set wins; what the
    // listener added, the action removed.
    EXPECT_EQ(values(head, "x-order"), (Values{"action"}));
    EXPECT_EQ(values(head, "x-drop"), (Values{}));
    EXPECT_EQ(values(head, "x-debug"), (Values{}));
    EXPECT_EQ(values(head, "x-real-ip"), (Values{"203.0.113.5"}));
    EXPECT_EQ(values(head, "x-via"), (Values{"lb web http:8080"}));
    EXPECT_EQ(values(head, "x-rule"), (Values{"10"}));
    EXPECT_EQ(values(head, "x-up"), (Values{"10.0.0.1:" + std::to_string(port_of(0))}));
    // The client's own request line and Host, before rewriting.
    EXPECT_EQ(values(head, "x-client"), (Values{"GET /api/users?x=1 app.test 4444"}));
    const auto ids = values(head, "x-id");
    ASSERT_EQ(ids.size(), 1u);
    EXPECT_EQ(ids[0].size(), 32u);
    EXPECT_EQ(ids[0].find_first_not_of("0123456789abcdef"), std::string::npos) << ids[0];
    // lb's own identity headers are still lb's.
    EXPECT_EQ(values(head, "x-forwarded-for"), (Values{"203.0.113.5"}));
    EXPECT_EQ(values(head, "x-forwarded-proto"), (Values{"http"}));
}

TEST_F(RewriteTest, DefaultActionGetsTheListenerEditsOnly) {
    start("GET /other/a?y=2 HTTP/1.1\r\nHost: app.test\r\nX-Debug: 1\r\n\r\n", kClient);
    exchange_->request_complete();
    const HttpHead head = sent(0);
    EXPECT_EQ(head.url, "/other/a?y=2");
    EXPECT_EQ(values(head, "host"), (Values{"app.test"}));
    EXPECT_EQ(values(head, "x-order"), (Values{"listener"}));
    EXPECT_EQ(values(head, "x-drop"), (Values{"listener"}));
    EXPECT_EQ(values(head, "x-rule"), (Values{"default"}));
    EXPECT_EQ(values(head, "x-debug"), (Values{}));
    EXPECT_EQ(values(head, "x-up"), (Values{}));
}

// A path the prefix does not match goes as it is (here /api, matched by
// the rule but shorter than /api/).
TEST_F(RewriteTest, PathWithoutThePrefixIsForwardedUnchanged) {
    start("GET /api?q=1 HTTP/1.1\r\nHost: app.test\r\n\r\n", kClient);
    exchange_->request_complete();
    EXPECT_EQ(sent(0).url, "/api?q=1");
    EXPECT_EQ(values(sent(0), "x-rule"), (Values{"10"}));
}

// #{target} is the target of each try; the request id stays the request's.
TEST_F(RewriteTest, EachTryNamesItsOwnTarget) {
    start("GET /api/x HTTP/1.1\r\nHost: app.test\r\n\r\n", kClient);
    exchange_->request_complete();
    stream(0).connected_with(-ECONNREFUSED);
    ASSERT_EQ(connector().records.size(), 2u);
    ASSERT_NE(port_of(0), port_of(1));
    const HttpHead first = sent(0);
    const HttpHead second = sent(1);
    EXPECT_EQ(values(first, "x-up"), (Values{"10.0.0.1:" + std::to_string(port_of(0))}));
    EXPECT_EQ(values(second, "x-up"), (Values{"10.0.0.1:" + std::to_string(port_of(1))}));
    EXPECT_EQ(values(second, "x-id"), values(first, "x-id"));
    EXPECT_EQ(second.url, "/v2/x");
    EXPECT_EQ(values(second, "host"), (Values{"app.internal"}));
}

TEST_F(RewriteTest, RequestIdsDifferPerRequest) {
    start("GET /api/x HTTP/1.1\r\nHost: app.test\r\n\r\n", kClient);
    exchange_->request_complete();
    stream(0).connected_with(0);
    stream(0).receive("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    start("GET /api/x HTTP/1.1\r\nHost: app.test\r\n\r\n", kClient);
    exchange_->request_complete();
    ASSERT_EQ(connector().records.size(), 2u);
    EXPECT_NE(values(sent(0), "x-id"), values(sent(1), "x-id"));
}

TEST_F(RewriteTest, ResponseEditsReachTheCodec) {
    start("GET /api/x HTTP/1.1\r\nHost: app.test\r\n\r\n", kClient);
    exchange_->request_complete();
    stream(0).connected_with(0);
    stream(0).receive(
        "HTTP/1.1 200 OK\r\nServer: nginx\r\nX-Frame-Options: SAMEORIGIN\r\nserver: again\r\nContent-Length: 2\r\n"
        "\r\nok");
    EXPECT_EQ(downstream_.events, (Events{"head 200", "complete"}));
    const HttpHead& head = downstream_.head;
    EXPECT_EQ(values(head, "server"), (Values{}));
    EXPECT_EQ(values(head, "x-frame-options"), (Values{"DENY"}));
    EXPECT_EQ(values(head, "x-group"), (Values{"g"}));
    EXPECT_EQ(values(head, "x-served-by"), (Values{"10.0.0.1:" + std::to_string(port_of(0))}));
    EXPECT_EQ(downstream_.body, "ok");
}

TEST_F(RewriteTest, DefaultActionResponseGetsTheListenerEditsOnly) {
    start("GET /other HTTP/1.1\r\nHost: app.test\r\n\r\n", kClient);
    exchange_->request_complete();
    stream(0).connected_with(0);
    stream(0).receive("HTTP/1.1 404 Not Found\r\nServer: x\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(values(downstream_.head, "server"), (Values{}));
    EXPECT_EQ(values(downstream_.head, "x-frame-options"), (Values{"DENY"}));
    EXPECT_EQ(values(downstream_.head, "x-group"), (Values{}));
}

TEST_F(RewriteTest, SwitchingProtocolsGetsTheResponseEdits) {
    start("GET /api/ws HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", kClient);
    exchange_->request_complete();
    stream(0).connected_with(0);
    stream(0).receive("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nServer: x\r\n\r\n");
    EXPECT_EQ(downstream_.events, (Events{"upgraded "}));
    EXPECT_EQ(values(downstream_.head, "server"), (Values{}));
    EXPECT_EQ(values(downstream_.head, "x-frame-options"), (Values{"DENY"}));
    EXPECT_EQ(values(downstream_.head, "x-group"), (Values{"g"}));
}

// A fixed response of the listener's rules gets the listener's set and
// add lines; lb's error answers get none (only the request id).
TEST_F(RewriteTest, LbsOwnAnswers) {
    start("GET /fixed HTTP/1.1\r\nHost: app.test\r\n\r\n", kClient);
    EXPECT_EQ(downstream_.events, (Events{"local 200"}));
    // The request id comes first on every answer of lb's own (README
    // "Request ids and trace context").
    EXPECT_THAT(downstream_.local_headers, ::testing::MatchesRegex("X-Request-Id: [0-9a-f]{32}\r\nX-Frame-Options: DENY\r\n"));

    downstream_.events.clear();
    start("GET /api/x HTTP/1.1\r\nHost: app.test\r\n\r\n", kClient);
    exchange_->request_complete();
    const size_t first = connector().records.size() - 1;
    stream(first).connected_with(-ECONNREFUSED);
    stream(first + 1).connected_with(-ECONNREFUSED);
    EXPECT_EQ(downstream_.events, (Events{"local 502"}));
    EXPECT_THAT(downstream_.local_headers, ::testing::MatchesRegex("X-Request-Id: [0-9a-f]{32}\r\n"));
}

// Without any edit the client's head goes as it was (apart from lb's own
// hop-by-hop and X-Forwarded-* handling).
TEST_F(ExchangeTest, NoEditsLeaveTheHeadAlone) {
    build({1});
    start("GET /a?b=1 HTTP/1.1\r\nHost: app.test\r\nX-Debug: 1\r\nX-Real-IP: mine\r\n\r\n");
    exchange_->request_complete();
    const std::string& written = record(0).written;
    EXPECT_EQ(written.rfind("GET /a?b=1 HTTP/1.1\r\n", 0), 0u) << written;
    EXPECT_NE(written.find("X-Debug: 1\r\n"), std::string::npos);
    EXPECT_NE(written.find("X-Real-IP: mine\r\n"), std::string::npos);
    EXPECT_NE(written.find("Host: app.test\r\n"), std::string::npos);
}

}  // namespace
}  // namespace lb
