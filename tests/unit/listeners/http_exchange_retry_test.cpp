// Retries in the HTTP exchange (README "Retries"), driven with fake target
// connections: which failures go to another target as the group's retry_on
// says, idempotency, retry_tries, the retry_timeout budget, a dead pooled
// connection, status retries (the answer dropped, or passed on when no try
// is left), and what each try costs its target (retries, passive health).
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
using Events = std::vector<std::string>;

constexpr std::string_view kGet = "GET /a HTTP/1.1\r\nHost: app.test\r\n\r\n";
constexpr std::string_view kPost = "POST /submit HTTP/1.1\r\nHost: app.test\r\nContent-Length: 4\r\n\r\n";
constexpr std::string_view k200 = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
constexpr std::string_view k503 = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy";

class RetryTest : public ExchangeTest {
protected:
    // A request whose body (if any) is all in: a GET, or kPost's 4 bytes.
    void start_complete(std::string_view bytes) {
        start(bytes);
        if (bytes.starts_with("POST")) exchange_->request_body("data");
        exchange_->request_complete();
    }
    // Another config, with nothing left of the last exchange's connections.
    void rebuild(std::vector<int> ports, const std::string& extra) {
        exchange_.reset();
        connector().idle.clear();
        connector().records.clear();
        connector().streams.clear();
        connector().pooled_back.clear();
        downstream_.events.clear();
        downstream_.body.clear();
        build(std::move(ports), extra);
    }
    uint64_t retries_total() {
        uint64_t total = 0;
        for (const auto& e : snapshot_->runtime->groups.front()->targets) total += e.state->retries.load();
        return total;
    }
};

// ---------------------------------------------------------------- connect failures

TEST_F(RetryTest, ConnectFailureRetriedByDefaultAndCounted) {
    build({1, 2});
    start_complete(kGet);
    const uint16_t first = port_of(0);
    stream(0).connected_with(-ECONNREFUSED);
    ASSERT_EQ(connector().records.size(), 2u);
    EXPECT_NE(port_of(1), first);
    EXPECT_EQ(target(first).retries.load(), 1u);
    stream(1).receive(k200);
    EXPECT_EQ(downstream_.events, (Events{"head 200", "complete"}));
    EXPECT_EQ(retries_total(), 1u);
}

TEST_F(RetryTest, RetryOnEmptyMeansNeverEvenConnects) {
    build({1, 2}, "    retry_on: []\n");
    start_complete(kGet);
    stream(0).connected_with(-ECONNREFUSED);
    EXPECT_EQ(connector().records.size(), 1u);
    EXPECT_EQ(downstream_.events, (Events{"local 502"}));
    EXPECT_EQ(target(port_of(0)).connect_failures.load(), 1u);  // still a health signal
    EXPECT_EQ(retries_total(), 0u);
}

// A new connection the target closes before answering anything counts as a
// connect failure (README: "closed or reset the connection before answering").
TEST_F(RetryTest, ClosedBeforeAnsweringIsRetriedLikeAConnectFailure) {
    build({1, 2});
    start_complete(kGet);
    stream(0).connected_with(0);
    stream(0).reset();
    ASSERT_EQ(connector().records.size(), 2u);
    EXPECT_NE(port_of(1), port_of(0));
    stream(1).receive(k200);
    EXPECT_EQ(downstream_.events, (Events{"head 200", "complete"}));
}

TEST_F(RetryTest, ClosedBeforeAnsweringIsNotRetriedWithRetryOnEmpty) {
    build({1, 2}, "    retry_on: []\n");
    start_complete(kGet);
    stream(0).connected_with(0);
    stream(0).eof();
    EXPECT_EQ(connector().records.size(), 1u);
    EXPECT_EQ(downstream_.events, (Events{"local 502"}));
}

// ---------------------------------------------------------------- response timeout

TEST_F(RetryTest, TimeoutNotRetriedByDefault) {
    build({1, 2}, "    response_timeout: 2s\n");
    start_complete(kGet);
    stream(0).connected_with(0);
    host_.advance(2100);
    EXPECT_EQ(connector().records.size(), 1u);
    EXPECT_EQ(downstream_.events, (Events{"local 504"}));
}

TEST_F(RetryTest, TimeoutRetriedWhenRetryOnSaysSo) {
    build({1, 2}, "    response_timeout: 2s\n    retry_on: [timeout]\n");
    start_complete(kGet);
    stream(0).connected_with(0);
    host_.advance(2100);
    ASSERT_EQ(connector().records.size(), 2u);
    EXPECT_TRUE(record(0).closed);
    EXPECT_NE(port_of(1), port_of(0));
    EXPECT_TRUE(downstream_.events.empty());
    EXPECT_EQ(record(1).written, record(0).written);
    stream(1).connected_with(0);
    stream(1).receive(k200);
    EXPECT_EQ(downstream_.events, (Events{"head 200", "complete"}));
}

// retry_on without connect_failure: a refused connect is not retried.
TEST_F(RetryTest, RetryOnTimeoutAloneDoesNotRetryConnects) {
    build({1, 2}, "    response_timeout: 2s\n    retry_on: [timeout]\n");
    start_complete(kGet);
    stream(0).connected_with(-ECONNREFUSED);
    EXPECT_EQ(connector().records.size(), 1u);
    EXPECT_EQ(downstream_.events, (Events{"local 502"}));
}

TEST_F(RetryTest, TimeoutAfterTheAnswerBeganIsNotRetried) {
    build({1, 2}, "    response_timeout: 2s\n    retry_on: [timeout]\n");
    start_complete(kGet);
    stream(0).connected_with(0);
    stream(0).receive("HTTP/1.1 200 OK\r\nCont");  // part of a head: the target began answering
    host_.advance(2100);
    EXPECT_EQ(connector().records.size(), 1u);
    EXPECT_EQ(downstream_.events, (Events{"local 504"}));
}

// ---------------------------------------------------------------- statuses

TEST_F(RetryTest, StatusInRetryOnIsDroppedAndTheNextTargetAnswers) {
    build({1, 2, 3}, "    retry_on: [503]\n");
    start_complete(kGet);
    const uint16_t first = port_of(0);
    stream(0).connected_with(0);
    stream(0).receive(k503);
    ASSERT_EQ(connector().records.size(), 2u);
    EXPECT_TRUE(downstream_.events.empty()) << downstream_.events.front();
    EXPECT_TRUE(record(0).closed);  // never pooled: its answer was not read to the end by anyone
    EXPECT_TRUE(connector().pooled_back.empty());
    EXPECT_NE(port_of(1), first);
    EXPECT_EQ(target(first).retries.load(), 1u);
    EXPECT_EQ(target(first).outstanding_requests.load(), 0);
    stream(1).connected_with(0);
    stream(1).receive(k200);
    EXPECT_EQ(downstream_.events, (Events{"head 200", "complete"}));
    EXPECT_EQ(downstream_.body, "ok");
    EXPECT_EQ(exchange_->status(), 200);
}

TEST_F(RetryTest, LastTryPassesTheStatusOn) {
    build({1, 2, 3}, "    retry_on: [503]\n    retry_tries: 2\n");
    start_complete(kGet);
    stream(0).connected_with(0);
    stream(0).receive(k503);
    ASSERT_EQ(connector().records.size(), 2u);
    stream(1).connected_with(0);
    stream(1).receive("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 6\r\n\r\nsecond");
    EXPECT_EQ(connector().records.size(), 2u);
    EXPECT_EQ(downstream_.events, (Events{"head 503", "complete"}));
    EXPECT_EQ(downstream_.body, "second");
    EXPECT_FALSE(exchange_->local());
}

TEST_F(RetryTest, StatusWithNoOtherTargetLeftIsPassedOn) {
    build({1}, "    retry_on: [503]\n");
    start_complete(kGet);
    stream(0).connected_with(0);
    stream(0).receive(k503);
    EXPECT_EQ(connector().records.size(), 1u);
    EXPECT_EQ(downstream_.events, (Events{"head 503", "complete"}));
    EXPECT_EQ(downstream_.body, "busy");
}

TEST_F(RetryTest, StatusNotInRetryOnIsPassedOn) {
    build({1, 2}, "    retry_on: [503]\n");
    start_complete(kGet);
    stream(0).connected_with(0);
    stream(0).receive("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(connector().records.size(), 1u);
    EXPECT_EQ(downstream_.events, (Events{"head 502", "complete"}));
}

// An interim 1xx is not a final status: the try goes on.
TEST_F(RetryTest, InterimThenRetriedStatus) {
    build({1, 2}, "    retry_on: [503]\n");
    start_complete(kGet);
    stream(0).connected_with(0);
    stream(0).receive("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n");
    EXPECT_EQ(downstream_.events, (Events{"interim 103"}));
    stream(0).receive(k503);
    // The client saw an interim answer already: nothing final yet, but the
    // answer has begun reaching it, so this try's final answer stands.
    EXPECT_EQ(connector().records.size(), 1u);
    EXPECT_EQ(downstream_.events, (Events{"interim 103", "head 503", "complete"}));
}

// ---------------------------------------------------------------- idempotency

// Once sent, a POST may have been acted on: not retried on a status, a
// close before the answer or a timeout.
TEST_F(RetryTest, PostIsNotRetriedOnceSent) {
    const std::string retry_all = "    retry_on: [connect_failure, timeout, 503]\n    response_timeout: 2s\n";
    build({1, 2}, retry_all);
    start_complete(kPost);
    stream(0).connected_with(0);
    stream(0).receive(k503);
    EXPECT_EQ(connector().records.size(), 1u);
    EXPECT_EQ(downstream_.events, (Events{"head 503", "complete"}));

    rebuild({1, 2}, retry_all);
    start_complete(kPost);
    stream(0).connected_with(0);
    stream(0).eof();
    EXPECT_EQ(connector().records.size(), 1u);
    EXPECT_EQ(downstream_.events, (Events{"local 502"}));

    rebuild({1, 2}, retry_all);
    start_complete(kPost);
    stream(0).connected_with(0);
    host_.advance(2100);
    EXPECT_EQ(connector().records.size(), 1u);
    EXPECT_EQ(downstream_.events, (Events{"local 504"}));

    // PATCH is not idempotent either.
    rebuild({1, 2}, retry_all);
    start_complete("PATCH /x HTTP/1.1\r\nHost: app.test\r\n\r\n");
    stream(0).connected_with(0);
    stream(0).receive(k503);
    EXPECT_EQ(connector().records.size(), 1u);
}

TEST_F(RetryTest, PostIsRetriedOnAConnectFailure) {
    build({1, 2});
    start_complete(kPost);
    stream(0).connected_with(-ECONNREFUSED);
    ASSERT_EQ(connector().records.size(), 2u);
    // The whole request again, body included.
    EXPECT_EQ(record(1).written, record(0).written);
    EXPECT_NE(record(1).written.find("\r\n\r\ndata"), std::string::npos);
    stream(1).receive(k200);
    EXPECT_EQ(downstream_.events, (Events{"head 200", "complete"}));
}

TEST_F(RetryTest, RetryNonIdempotentRetriesAPostThatWasSent) {
    build({1, 2}, "    retry_on: [503]\n    retry_non_idempotent: true\n");
    start_complete(kPost);
    stream(0).connected_with(0);
    stream(0).receive(k503);
    ASSERT_EQ(connector().records.size(), 2u);
    EXPECT_EQ(record(1).written, record(0).written);
    stream(1).receive(k200);
    EXPECT_EQ(downstream_.events, (Events{"head 200", "complete"}));
}

TEST_F(RetryTest, IdempotentMethodsAreRetriedOnceSent) {
    for (const char* method : {"PUT", "DELETE", "HEAD", "OPTIONS"}) {
        rebuild({1, 2}, "    retry_on: [503]\n");
        start_complete(std::string(method) + " /x HTTP/1.1\r\nHost: app.test\r\n\r\n");
        stream(0).connected_with(0);
        stream(0).receive("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
        EXPECT_EQ(connector().records.size(), 2u) << method;
        EXPECT_TRUE(downstream_.events.empty()) << method;
    }
}

// ---------------------------------------------------------------- retry_tries, retry_timeout

TEST_F(RetryTest, RetryTriesBoundsTheTries) {
    build({1, 2, 3, 4, 5}, "    retry_tries: 2\n");
    start_complete(kGet);
    stream(0).connected_with(-ECONNREFUSED);
    ASSERT_EQ(connector().records.size(), 2u);
    stream(1).connected_with(-ECONNREFUSED);
    EXPECT_EQ(connector().records.size(), 2u);
    EXPECT_EQ(downstream_.events, (Events{"local 502"}));

    rebuild({1, 2, 3}, "    retry_tries: 1\n");
    start_complete(kGet);
    stream(0).connected_with(-ECONNREFUSED);
    EXPECT_EQ(connector().records.size(), 1u);
    EXPECT_EQ(downstream_.events, (Events{"local 502"}));

    rebuild({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, "    retry_tries: 10\n");
    start_complete(kGet);
    for (size_t i = 0; i < 10; ++i) {
        ASSERT_EQ(connector().records.size(), i + 1);
        stream(i).connected_with(-ECONNREFUSED);
    }
    EXPECT_EQ(connector().records.size(), 10u);
    EXPECT_EQ(downstream_.events, (Events{"local 502"}));
}

TEST_F(RetryTest, RetryTimeoutBudgetStopsRetries) {
    build({1, 2, 3}, "    response_timeout: 2s\n    retry_on: [connect_failure, timeout]\n    retry_timeout: 3s\n");
    start_complete(kGet);
    stream(0).connected_with(0);
    host_.advance(2100);  // 2.1 s old: within the budget
    ASSERT_EQ(connector().records.size(), 2u);
    stream(1).connected_with(0);
    host_.advance(2100);  // 4.2 s old: no new try
    EXPECT_EQ(connector().records.size(), 2u);
    EXPECT_EQ(downstream_.events, (Events{"local 504"}));

    // A connect that fails after the budget is spent is not retried either.
    rebuild({1, 2, 3}, "    retry_timeout: 3s\n");
    start_complete(kGet);
    host_.advance(3000);
    stream(0).connected_with(-ECONNREFUSED);
    EXPECT_EQ(connector().records.size(), 1u);
    EXPECT_EQ(downstream_.events, (Events{"local 502"}));
}

TEST_F(RetryTest, RetryTimeoutZeroIsNoLimit) {
    build({1, 2}, "    retry_timeout: 0s\n");
    start_complete(kGet);
    host_.advance(50'000);
    stream(0).connected_with(-ECONNREFUSED);
    EXPECT_EQ(connector().records.size(), 2u);
}

// ---------------------------------------------------------------- dead pooled connections

// A pooled connection the target had closed while idle: the request never
// reached it. Retried on a new connection whatever retry_on and
// retry_tries say, and not held against the target.
TEST_F(RetryTest, DeadPooledConnectionIsNotATry) {
    build({1}, "    retry_on: []\n    retry_tries: 1\n    passive_health: { max_fails: 1 }\n");
    FakeStream* idle = connector().add_idle(target(1), *SocketAddress::parse("10.0.0.1:1"));
    start_complete(kPost);
    ASSERT_EQ(connector().records.size(), 1u);
    idle->eof();
    ASSERT_EQ(connector().records.size(), 2u);
    EXPECT_FALSE(record(1).pooled);
    EXPECT_EQ(port_of(1), 1);
    EXPECT_EQ(record(1).written, record(0).written);
    EXPECT_TRUE(target(1).routable());  // no passive-health failure
    EXPECT_EQ(target(1).passive_fails.load(), 0);
    stream(1).connected_with(0);
    stream(1).receive(k200);
    EXPECT_EQ(downstream_.events, (Events{"head 200", "complete"}));
}

// A pooled connection that carried the request and got an answer (or
// stayed silent) was not dead: its failure is a try against its target
// like any other, and the retry goes elsewhere. The group hashes the
// client address, so only the exclusion of tried targets can move it.
class PooledRetryTest : public RetryTest {
protected:
    void build_hashed(const std::string& extra) {
        build_yaml(testing::one_group_yaml("{ address: 10.0.0.1, port: 1 }, { address: 10.0.0.1, port: 2 }",
                                           "    algorithm: hash\n    hash_key: client_ip\n" + extra));
        idle_[0] = connector().add_idle(target(1), *SocketAddress::parse("10.0.0.1:1"));
        idle_[1] = connector().add_idle(target(2), *SocketAddress::parse("10.0.0.1:2"));
    }
    // The pooled connection the first try took (the one written to).
    int used() {
        for (int i : {0, 1})
            if (!record(static_cast<size_t>(i)).written.empty()) return i;
        ADD_FAILURE() << "no pooled connection was used";
        return 0;
    }
    // The connection the retry was written to (not the first try's), or -1.
    int retried() {
        for (size_t i = 0; i < connector().records.size(); ++i)
            if (static_cast<int>(i) != used() && !record(i).written.empty()) return static_cast<int>(i);
        return -1;
    }
    FakeStream* idle_[2] = {nullptr, nullptr};
};

TEST_F(PooledRetryTest, StatusRetryGoesToAnotherTarget) {
    build_hashed("    retry_on: [503]\n    passive_health: { max_fails: 1, fail_timeout: 60s }\n");
    start_complete(kGet);
    const int first = used();
    const uint16_t first_port = static_cast<uint16_t>(first + 1);
    idle_[first]->receive(k503);
    // Sent again, to the other target (its pooled connection, or a new one).
    const int second = retried();
    ASSERT_GE(second, 0);
    EXPECT_NE(record(static_cast<size_t>(second)).to.port(), first_port);
    EXPECT_EQ(target(first_port).retries.load(), 1u);
    EXPECT_FALSE(target(first_port).routable()) << "the 503 is a failed try (passive_health)";
}

TEST_F(PooledRetryTest, TimeoutRetryGoesToAnotherTarget) {
    build_hashed("    retry_on: [timeout]\n    response_timeout: 2s\n");
    start_complete(kGet);
    const int first = used();
    const uint16_t first_port = static_cast<uint16_t>(first + 1);
    host_.advance(2100);
    const int second = retried();
    ASSERT_GE(second, 0);
    EXPECT_NE(record(static_cast<size_t>(second)).to.port(), first_port);
    EXPECT_TRUE(downstream_.events.empty());
}

TEST_F(PooledRetryTest, StatusOnTheLastTryCountsAgainstItsTarget) {
    build_hashed("    retry_on: [503]\n    retry_tries: 2\n    passive_health: { max_fails: 1, fail_timeout: 60s }\n");
    start_complete(kGet);
    const int first = used();
    idle_[first]->receive(k503);
    // Two tries in all: the second one's 503 goes to the client.
    const int second = retried();
    ASSERT_GE(second, 0);
    stream(static_cast<size_t>(second)).receive(k503);
    EXPECT_EQ(downstream_.events, (Events{"head 503", "complete"}));
    EXPECT_FALSE(target(1).routable());
    EXPECT_FALSE(target(2).routable());
}

// ---------------------------------------------------------------- passive health

TEST_F(RetryTest, FailedTriesCountTowardsPassiveHealth) {
    build({1, 2}, "    retry_on: [503]\n    passive_health: { max_fails: 1, fail_timeout: 60s }\n");
    start_complete(kGet);
    const uint16_t first = port_of(0);
    const uint16_t second = first == 1 ? 2 : 1;
    stream(0).connected_with(0);
    stream(0).receive(k503);  // dropped for a retry: a failed try
    EXPECT_FALSE(target(first).routable());
    ASSERT_EQ(connector().records.size(), 2u);
    stream(1).connected_with(0);
    stream(1).receive(k503);  // passed on (no target left), a failure all the same
    EXPECT_EQ(downstream_.events, (Events{"head 503", "complete"}));
    EXPECT_FALSE(target(second).routable());
}

TEST_F(RetryTest, RefusedConnectsAndClosesCountTowardsPassiveHealth) {
    build({1}, "    passive_health: { max_fails: 3, fail_timeout: 60s }\n");
    start_complete(kGet);
    stream(0).connected_with(-ECONNREFUSED);
    EXPECT_EQ(downstream_.events, (Events{"local 502"}));
    EXPECT_TRUE(target(1).routable());  // one of three
    start_complete(kGet);
    stream(1).connected_with(0);
    stream(1).reset();
    EXPECT_TRUE(target(1).routable());  // two of three
    start_complete(kGet);
    stream(2).connected_with(-ETIMEDOUT);
    EXPECT_FALSE(target(1).routable());
    EXPECT_TRUE(target(1).passive_out());
}

}  // namespace
}  // namespace lb
