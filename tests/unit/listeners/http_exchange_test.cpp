// HttpExchange driven without sockets: fake target connections (a fake
// UpstreamConnector), a fake client codec (ExchangeDownstream), and a timer
// wheel advanced by hand, over a runtime built from real YAML. What is
// asserted is what the exchange sends where: the bytes a target receives,
// what the codec is told, what each target is charged with.
#include "listeners/http_exchange.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "tests/unit/listeners/exchange_test_support.h"

namespace lb {
namespace {

using testing::ExchangeTest;
using testing::FakeStream;

constexpr std::string_view kGet = "GET /a HTTP/1.1\r\nHost: app.test\r\n\r\n";

TEST_F(ExchangeTest, ForwardsAndRelaysTheResponse) {
    build({1});
    start(kGet);
    ASSERT_EQ(connector().records.size(), 1u);
    EXPECT_EQ(exchange_->phase(), HttpExchange::Phase::forwarding);
    EXPECT_EQ(record(0).written.rfind("GET /a HTTP/1.1\r\n", 0), 0u) << record(0).written;
    EXPECT_NE(record(0).written.find("X-Forwarded-For: 192.0.2.10\r\n"), std::string::npos);
    EXPECT_EQ(target(1).outstanding_requests.load(), 1);
    exchange_->request_complete();
    stream(0).connected_with(0);
    stream(0).receive("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    EXPECT_EQ(downstream_.events, (std::vector<std::string>{"head 200", "complete"}));
    EXPECT_EQ(downstream_.body, "hello");
    EXPECT_TRUE(exchange_->answered());
    EXPECT_EQ(target(1).outstanding_requests.load(), 0);
    // Whole response, whole request, keep-alive: the connection is pooled.
    EXPECT_EQ(connector().pooled_back.size(), 1u);
    EXPECT_FALSE(record(0).closed);
}

TEST_F(ExchangeTest, RefusedConnectIsRetriedOnAnotherTarget) {
    build({1, 2});
    start(kGet);
    exchange_->request_complete();
    ASSERT_EQ(connector().records.size(), 1u);
    uint16_t first = port_of(0);
    stream(0).connected_with(-ECONNREFUSED);
    ASSERT_EQ(connector().records.size(), 2u);
    EXPECT_TRUE(record(0).closed);
    EXPECT_NE(port_of(1), first);
    // The retry carries the same request.
    EXPECT_EQ(record(1).written, record(0).written);
    EXPECT_EQ(target(first).connect_failures.load(), 1u);
    EXPECT_EQ(target(first).outstanding_requests.load(), 0);
    stream(1).connected_with(0);
    stream(1).receive("HTTP/1.1 204 No Content\r\n\r\n");
    EXPECT_EQ(downstream_.events, (std::vector<std::string>{"head 204", "complete"}));
    EXPECT_EQ(target(port_of(1)).connect_failures.load(), 0u);
}

TEST_F(ExchangeTest, EveryTargetRefusing502) {
    build({1, 2, 3, 4});
    start(kGet);
    exchange_->request_complete();
    for (size_t i = 0; i < 3; ++i) {
        ASSERT_EQ(connector().records.size(), i + 1);
        stream(i).connected_with(-ECONNREFUSED);
    }
    // Three attempts in all, then lb answers.
    EXPECT_EQ(connector().records.size(), 3u);
    EXPECT_EQ(downstream_.events, (std::vector<std::string>{"local 502"}));
    EXPECT_EQ(exchange_->error(), "target refused");
    EXPECT_TRUE(exchange_->local());
}

TEST_F(ExchangeTest, ConnectTimeout504) {
    build({1});
    start(kGet);
    exchange_->request_complete();
    stream(0).connected_with(-ETIMEDOUT);
    EXPECT_EQ(downstream_.events, (std::vector<std::string>{"local 504"}));
    EXPECT_EQ(exchange_->error(), "target connect timeout");
    EXPECT_EQ(target(1).connect_failures.load(), 1u);
}

TEST_F(ExchangeTest, ResponseTimeout504ThenCutOnceStarted) {
    build({1}, "    response_timeout: 2s\n");
    start(kGet);
    exchange_->request_complete();
    stream(0).connected_with(0);
    host_.advance(1500);
    EXPECT_TRUE(downstream_.events.empty());
    host_.advance(600);
    EXPECT_EQ(downstream_.events, (std::vector<std::string>{"local 504"}));
    EXPECT_TRUE(record(0).closed);
    EXPECT_EQ(target(1).outstanding_requests.load(), 0);

    // Once the head went to the client, a late target cuts the response.
    downstream_.events.clear();
    start(kGet);
    exchange_->request_complete();
    stream(1).connected_with(0);
    stream(1).receive("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    host_.advance(2100);
    EXPECT_EQ(downstream_.events, (std::vector<std::string>{"head 200", "cut target response timeout"}));
    EXPECT_EQ(exchange_->phase(), HttpExchange::Phase::cut);
}

TEST_F(ExchangeTest, TargetClosingBeforeAnsweringIs502WithoutAnotherTargetOnceBytesArrived) {
    build({1, 2});
    start(kGet);
    exchange_->request_complete();
    stream(0).connected_with(0);
    stream(0).receive("HTTP/1.1 2");  // half a status line
    stream(0).eof();
    // The target saw the request and began answering: not retried.
    EXPECT_EQ(connector().records.size(), 1u);
    EXPECT_EQ(downstream_.events, (std::vector<std::string>{"local 502"}));
}

TEST_F(ExchangeTest, DeadPooledConnectionIsRetriedOnANewOneToTheSameTarget) {
    build({1});
    FakeStream* idle = connector().add_idle(target(1), *SocketAddress::parse("10.0.0.1:1"));
    start(kGet);
    exchange_->request_complete();
    ASSERT_EQ(connector().records.size(), 1u);  // the pooled one, no connect
    EXPECT_FALSE(record(0).written.empty());
    idle->eof();  // the target had closed it while idle
    ASSERT_EQ(connector().records.size(), 2u);
    EXPECT_FALSE(record(1).pooled);
    EXPECT_EQ(port_of(1), 1);
    EXPECT_EQ(target(1).connect_failures.load(), 0u);
    stream(1).connected_with(0);
    stream(1).receive("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(downstream_.events, (std::vector<std::string>{"head 200", "complete"}));
}

TEST_F(ExchangeTest, ClientGoneMidBodyReleasesTheTarget) {
    build({1});
    start("POST /up HTTP/1.1\r\nHost: app.test\r\nContent-Length: 100\r\n\r\n");
    stream(0).connected_with(0);
    exchange_->request_body(std::string(40, 'x'));
    EXPECT_EQ(target(1).outstanding_requests.load(), 1);
    exchange_->abort();  // the codec saw the client go
    EXPECT_TRUE(record(0).closed);
    EXPECT_EQ(record(0).close_mode, CloseMode::abort);
    EXPECT_EQ(target(1).outstanding_requests.load(), 0);
    EXPECT_TRUE(connector().pooled_back.empty());
    exchange_.reset();  // and nothing is released twice
    EXPECT_EQ(target(1).outstanding_requests.load(), 0);
}

TEST_F(ExchangeTest, UploadBackPressurePausesAndResumesTheClient) {
    build({1});
    start("POST /up HTTP/1.1\r\nHost: app.test\r\nContent-Length: 1000000\r\n\r\n");
    stream(0).connected_with(0);
    exchange_->request_body(std::string(1000, 'x'));
    EXPECT_TRUE(downstream_.events.empty());
    stream(0).set_pending(Stream::kHighWater);
    exchange_->request_body(std::string(1000, 'x'));
    EXPECT_EQ(downstream_.events, (std::vector<std::string>{"pause"}));
    stream(0).drained();
    EXPECT_EQ(downstream_.events, (std::vector<std::string>{"pause", "resume"}));
    EXPECT_EQ(exchange_->request_body_bytes(), 2000u);
}

TEST_F(ExchangeTest, DownloadBackPressureStopsReadingTheTarget) {
    build({1});
    start(kGet);
    exchange_->request_complete();
    stream(0).connected_with(0);
    EXPECT_TRUE(record(0).reading);
    downstream_.blocked = true;
    stream(0).receive("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc");
    EXPECT_FALSE(record(0).reading);
    // While the client is the slow one, the target's clock does not run.
    host_.advance(120'000);
    EXPECT_EQ(downstream_.events, (std::vector<std::string>{"head 200"}));
    downstream_.blocked = false;
    exchange_->resume_response();
    EXPECT_TRUE(record(0).reading);
    stream(0).receive("def");
    EXPECT_EQ(downstream_.body, "abcdef");
    EXPECT_EQ(downstream_.events.back(), "complete");
}

TEST_F(ExchangeTest, EarlyAnswerDiscardsTheRestOfTheBodyAndDropsTheConnection) {
    build({1});
    start("POST /up HTTP/1.1\r\nHost: app.test\r\nContent-Length: 100\r\n\r\n");
    stream(0).connected_with(0);
    exchange_->request_body(std::string(10, 'x'));
    stream(0).receive("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(downstream_.events, (std::vector<std::string>{"head 401", "complete"}));
    EXPECT_TRUE(exchange_->discarding());
    size_t sent = record(0).written.size();
    exchange_->request_body(std::string(90, 'x'));
    EXPECT_EQ(record(0).written.size(), sent);
    // The target has not seen the whole request: never pooled.
    EXPECT_TRUE(connector().pooled_back.empty());
    EXPECT_TRUE(record(0).closed);
}

TEST_F(ExchangeTest, InterimResponsesPassAndTheFinalOneFollows) {
    build({1});
    start("POST /up HTTP/1.1\r\nHost: app.test\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
    stream(0).connected_with(0);
    stream(0).receive("HTTP/1.1 100 Continue\r\n\r\n");
    EXPECT_EQ(exchange_->phase(), HttpExchange::Phase::forwarding);
    exchange_->request_body("ok");
    exchange_->request_complete();
    stream(0).receive("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(downstream_.events, (std::vector<std::string>{"interim 100", "head 201", "complete"}));
    EXPECT_NE(record(0).written.find("\r\n\r\nok"), std::string::npos);
}

TEST_F(ExchangeTest, UpgradeHandsTheTargetConnectionOver) {
    build({1});
    start("GET /ws HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    exchange_->request_complete();
    stream(0).connected_with(0);
    stream(0).receive("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nfirst");
    EXPECT_EQ(downstream_.events, (std::vector<std::string>{"upgraded first"}));
    EXPECT_EQ(exchange_->phase(), HttpExchange::Phase::upgraded);
    EXPECT_EQ(exchange_->status(), 101);
    EXPECT_EQ(target(1).outstanding_requests.load(), 0);
}

TEST_F(ExchangeTest, BodyOn204IsNotRelayedAndTheConnectionIsNotReused) {
    build({1});
    start(kGet);
    exchange_->request_complete();
    stream(0).connected_with(0);
    stream(0).receive("HTTP/1.1 204 No Content\r\nContent-Length: 4\r\n\r\nHTTP");
    EXPECT_EQ(downstream_.events, (std::vector<std::string>{"head 204", "complete"}));
    EXPECT_EQ(downstream_.body, "");
    EXPECT_TRUE(connector().pooled_back.empty());
    EXPECT_TRUE(record(0).closed);
}

TEST_F(ExchangeTest, NoTarget503) {
    build({1}, "    health_check: { protocol: http, path: /h }\n");
    target(1).draining.store(true);
    start(kGet);
    EXPECT_TRUE(connector().records.empty());
    EXPECT_EQ(downstream_.events, (std::vector<std::string>{"local 503"}));
}

}  // namespace
}  // namespace lb
