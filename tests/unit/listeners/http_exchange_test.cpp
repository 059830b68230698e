// HttpExchange driven without sockets: fake target connections (a fake
// UpstreamConnector), a fake client codec (ExchangeDownstream), and a timer
// wheel advanced by hand, over a runtime built from real YAML. What is
// asserted is what the exchange sends where: the bytes a target receives,
// what the codec is told, what each target is charged with.
#include "listeners/http_exchange.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "lb/http/http_parser.h"
#include "tests/unit/lb/worker_snapshot_support.h"

namespace lb {
namespace {

// What became of one fake connection, kept after the stream is closed.
struct FakeRecord {
    SocketAddress to;
    bool pooled = false;
    std::string written;
    bool reading = false;
    bool closed = false;
    CloseMode close_mode = CloseMode::graceful;
};

class FakeStream final : public Stream {
public:
    explicit FakeStream(std::shared_ptr<FakeRecord> record) : record_(std::move(record)) {}

    void set_handler(StreamHandler* handler) override { handler_ = handler; }
    void start_reading() override { record_->reading = true; }
    void stop_reading() override { record_->reading = false; }
    void write(std::string_view data) override {
        record_->written.append(data);
        pending_ += data.size();
    }
    size_t pending_output() const override { return pending_; }
    void shutdown_write() override {}
    bool connected() const override { return true; }
    const SocketAddress& peer() const override { return record_->to; }
    const SocketAddress& local() const override { return record_->to; }

    // The test plays the target.
    void connected_with(int error) { handler_->on_stream_connected(*this, error); }
    void receive(std::string_view data) { handler_->on_stream_data(*this, data); }
    void eof() { handler_->on_stream_eof(*this); }
    void reset() { handler_->on_stream_error(*this, -ECONNRESET); }
    // The kernel took (or did not take) what was queued.
    void set_pending(size_t bytes) { pending_ = bytes; }
    void drained() {
        pending_ = 0;
        handler_->on_stream_drained(*this);
    }

protected:
    void begin_close(CloseMode mode) override {
        record_->closed = true;
        record_->close_mode = mode;
        delete this;
    }

private:
    std::shared_ptr<FakeRecord> record_;
    StreamHandler* handler_ = nullptr;
    size_t pending_ = 0;
};

class FakeConnector final : public UpstreamConnector {
public:
    std::unique_ptr<Stream> take_idle(const TargetState& target, bool) override {
        for (auto it = idle.begin(); it != idle.end(); ++it) {
            if (it->first != &target) continue;
            std::unique_ptr<Stream> stream = std::move(it->second);
            idle.erase(it);
            return stream;
        }
        return nullptr;
    }
    std::unique_ptr<Stream> connect(const SocketAddress& to, int64_t, const std::shared_ptr<const tls::ClientContext>&,
                                    StreamHandler* handler) override {
        auto record = std::make_shared<FakeRecord>();
        record->to = to;
        records.push_back(record);
        auto stream = std::make_unique<FakeStream>(record);
        stream->set_handler(handler);
        streams.push_back(stream.get());
        return stream;
    }
    void put_idle(std::shared_ptr<TargetState> target, std::unique_ptr<Stream> stream) override {
        pooled_back.push_back(target.get());
        idle.emplace_back(target.get(), std::move(stream));
    }
    // An idle connection to `target`, as if an earlier request left it.
    FakeStream* add_idle(const TargetState& target, const SocketAddress& to) {
        auto record = std::make_shared<FakeRecord>();
        record->to = to;
        record->pooled = true;
        records.push_back(record);
        auto stream = std::make_unique<FakeStream>(record);
        FakeStream* raw = stream.get();
        streams.push_back(raw);
        idle.emplace_back(&target, std::move(stream));
        return raw;
    }

    std::vector<std::shared_ptr<FakeRecord>> records;  // every connection, in order
    std::vector<FakeStream*> streams;                  // valid until closed
    std::deque<std::pair<const TargetState*, std::unique_ptr<Stream>>> idle;
    std::vector<const TargetState*> pooled_back;
};

class FakeHost final : public ExchangeHost {
public:
    TimerWheel& timers() override { return wheel; }
    int64_t now_ms() const override { return now; }
    UpstreamConnector& upstreams() override { return connector; }
    WorkerCounters& counters() override { return worker_counters; }
    AccessLogWriter& access_log() override { return log; }
    bool draining() const override { return false; }

    void advance(int64_t ms) {
        now += ms;
        wheel.advance(now);
    }

    int64_t now = 1000;
    TimerWheel wheel{1000};
    FakeConnector connector;
    WorkerCounters worker_counters;
    AccessLogWriter log;
};

// The codec's view: what it was told, in order.
class FakeDownstream final : public ExchangeDownstream {
public:
    void local_response(int status, std::string_view, std::string_view, std::string_view, bool close) override {
        events.push_back("local " + std::to_string(status) + (close ? " close" : ""));
    }
    void interim_response(const HttpHead& response) override {
        events.push_back("interim " + std::to_string(response.status));
    }
    void response_head(const HttpHead& response, const ResponsePlan&, std::string_view, bool) override {
        events.push_back("head " + std::to_string(response.status));
    }
    void response_body(std::string_view data) override { body.append(data); }
    bool response_blocked() const override { return blocked; }
    void response_complete() override { events.push_back("complete"); }
    void response_cut(const char* why) override { events.push_back(std::string("cut ") + why); }
    void abort_client() override { events.push_back("abort"); }
    void pause_request_body() override { events.push_back("pause"); }
    void resume_request_body() override { events.push_back("resume"); }
    void upgraded(const HttpHead&, std::string_view, std::unique_ptr<Stream> upstream, std::string_view rest,
                  std::shared_ptr<TargetState>) override {
        events.push_back("upgraded " + std::string(rest));
        Stream::close(std::move(upstream), CloseMode::abort);
    }

    std::vector<std::string> events;
    std::string body;
    bool blocked = false;
};

// Captures the head a real parser produced from request bytes.
struct HeadCatcher final : HttpParserSink {
    int on_http_head(HttpHead& h) override {
        head = h;
        return kPause;
    }
    int on_http_body(std::string_view) override { return kContinue; }
    int on_http_message_complete() override { return kContinue; }
    HttpHead head;
};

class ExchangeTest : public ::testing::Test {
protected:
    // Group "g" with one target per port in `ports`, `extra` group keys.
    void build(std::vector<int> ports, const std::string& extra = "") {
        std::string targets;
        for (int port : ports)
            targets += (targets.empty() ? "" : ", ") + std::string("{ address: 10.0.0.1, port: ") +
                       std::to_string(port) + " }";
        snapshot_ = std::make_shared<WorkerSnapshot>();
        testing::build_snapshot(builder_, testing::one_group_yaml(targets, "    algorithm: round_robin\n" + extra),
                                *snapshot_);
    }

    TargetState& target(int port) {
        for (const auto& e : snapshot_->runtime->groups.front()->targets)
            if (e.config.addr.port() == port) return *e.state;
        ADD_FAILURE() << "no target on port " << port;
        return *snapshot_->runtime->groups.front()->targets.front().state;
    }

    // Starts an exchange for the request in `bytes` (a head, parsed for real).
    void start(std::string_view bytes) {
        HeadCatcher catcher;
        HttpParser parser(HttpParser::Kind::request, &catcher, 64 * 1024);
        parser.feed(bytes);
        const ListenerRuntime& listener = *snapshot_->runtime->listeners.front();
        SocketAddress peer = *SocketAddress::parse("192.0.2.10:40000");
        exchange_ = std::make_unique<HttpExchange>(host_, downstream_, listener, snapshot_, peer, host_.now);
        ExchangeRequest request;
        request.checked = check_request(catcher.head, listener.config.path_normalization);
        ASSERT_EQ(request.checked.status, 0) << request.checked.error;
        request.client = peer;
        request.protocol = "HTTP/1.1";
        request.head = std::move(catcher.head);
        exchange_->start(std::move(request));
    }

    FakeConnector& connector() { return host_.connector; }
    FakeStream& stream(size_t i) { return *connector().streams.at(i); }
    FakeRecord& record(size_t i) { return *connector().records.at(i); }
    uint16_t port_of(size_t i) { return record(i).to.port(); }

    RuntimeBuilder builder_;
    std::shared_ptr<WorkerSnapshot> snapshot_;
    FakeHost host_;
    FakeDownstream downstream_;
    std::unique_ptr<HttpExchange> exchange_;
};

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
