// Fakes for driving an HttpExchange without sockets: fake target
// connections (a fake UpstreamConnector), a fake client codec
// (ExchangeDownstream), a timer wheel advanced by hand, and a fixture that
// builds the runtime from real YAML and starts exchanges from real request
// bytes. Shared by the http_exchange*_test.cpp files.
#pragma once

#include <gtest/gtest.h>

#include <cerrno>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "lb/http/http_parser.h"
#include "listeners/http_exchange.h"
#include "tests/unit/lb/worker_snapshot_support.h"

namespace lb::testing {

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
    std::unique_ptr<Stream> connect(const SocketAddress& to, int64_t, int, const std::shared_ptr<const tls::ClientContext>&,
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
    int64_t now_us() const override { return now * 1000; }
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
    void local_response(int status, std::string_view, std::string_view, std::string_view extra_headers,
                        bool close) override {
        events.push_back("local " + std::to_string(status) + (close ? " close" : ""));
        local_headers = std::string(extra_headers);
    }
    void interim_response(const HttpHead& response) override {
        events.push_back("interim " + std::to_string(response.status));
    }
    void response_head(const HttpHead& response, const ResponsePlan&, std::string_view, bool) override {
        events.push_back("head " + std::to_string(response.status));
        head = response;
    }
    void response_body(std::string_view data) override { body.append(data); }
    bool response_blocked() const override { return blocked; }
    void response_complete() override { events.push_back("complete"); }
    void response_cut(const char* why) override { events.push_back(std::string("cut ") + why); }
    void abort_client() override { events.push_back("abort"); }
    void pause_request_body() override { events.push_back("pause"); }
    void resume_request_body() override { events.push_back("resume"); }
    void upgraded(const HttpHead& response, std::string_view, std::unique_ptr<Stream> upstream, std::string_view rest,
                  std::shared_ptr<TargetState>) override {
        events.push_back("upgraded " + std::string(rest));
        head = response;
        Stream::close(std::move(upstream), CloseMode::abort);
    }

    std::vector<std::string> events;
    std::string body;
    bool blocked = false;
    HttpHead head;              // the last response head the codec got (a 101's too)
    std::string local_headers;  // the extra header lines of lb's last own answer
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
    // A whole config; the exchange runs on its first listener.
    void build_yaml(const std::string& yaml) {
        snapshot_ = std::make_shared<WorkerSnapshot>();
        testing::build_snapshot(builder_, yaml, *snapshot_);
    }

    TargetState& target(int port) {
        for (const auto& e : snapshot_->runtime->groups.front()->targets)
            if (e.config.addr.port() == port) return *e.state;
        ADD_FAILURE() << "no target on port " << port;
        return *snapshot_->runtime->groups.front()->targets.front().state;
    }

    // Starts an exchange for the request in `bytes` (a head, parsed for real)
    // from `client`.
    void start(std::string_view bytes, const char* client = "192.0.2.10:40000") {
        HeadCatcher catcher;
        HttpParser parser(HttpParser::Kind::request, &catcher, 64 * 1024);
        parser.feed(bytes);
        const ListenerRuntime& listener = *snapshot_->runtime->listeners.front();
        SocketAddress peer = *SocketAddress::parse(client);
        exchange_ = std::make_unique<HttpExchange>(host_, downstream_, listener, snapshot_, peer, host_.now * 1000);
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

}  // namespace lb::testing
