// HealthProbe: the active health check of one target, run on the health
// checker's loop. Every `interval` it opens a fresh connection to the check
// port: tcp passes when the connect succeeds; http sends
// `GET path HTTP/1.1` with `Connection: close` and passes when the status
// line matches `matcher`; https does the same over TLS (a failed handshake
// fails the check). No answer within `timeout` fails. Each result goes
// through health_state, which owns the thresholds.
//
// Threading: created, used and destroyed on the health checker thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "conf/config.h"
#include "lb/http/http_parser.h"
#include "lb/io/event_loop.h"
#include "lb/io/stream.h"
#include "lb/targets/target_state.h"
#include "tls/client_context.h"

namespace lb::health {

class HealthProbe final : private StreamHandler, private HttpParserSink {
public:
    // The first check runs at a random point within one interval, so a group
    // of many targets (or a restart) does not probe them all at once.
    // `tls` is required for https checks and ignored otherwise.
    HealthProbe(EventLoop& loop, std::shared_ptr<TargetState> target, const conf::HealthCheck& check,
                std::shared_ptr<const tls::ClientContext> tls);
    ~HealthProbe();
    HealthProbe(const HealthProbe&) = delete;
    HealthProbe& operator=(const HealthProbe&) = delete;

    // A reload changed the group's check settings.
    void reconfigure(const conf::HealthCheck& check, std::shared_ptr<const tls::ClientContext> tls);
    const TargetState& target() const { return *target_; }

private:
    void schedule_first();
    void start_check();
    void finish(bool passed, std::string failure_reason);
    void on_timeout();
    std::string describe_status(int status) const;

    // StreamHandler
    void on_stream_connected(Stream& stream, int error) override;
    void on_stream_data(Stream& stream, std::string_view data) override;
    void on_stream_eof(Stream& stream) override;
    void on_stream_error(Stream& stream, int error) override;
    void on_stream_drained(Stream&) override {}

    // HttpParserSink (the response)
    int on_http_head(HttpHead& head) override;
    int on_http_body(std::string_view) override { return kContinue; }
    int on_http_message_complete() override { return kContinue; }

    EventLoop& loop_;
    std::shared_ptr<TargetState> target_;
    conf::HealthCheck check_;
    std::shared_ptr<const tls::ClientContext> tls_;
    SocketAddress address_;  // the target's address with the check port
    std::unique_ptr<Stream> stream_;
    HttpParser parser_;
    bool checking_ = false;
    int64_t check_started_ms_ = 0;
    Timer next_timer_;
    Timer timeout_timer_;
};

}  // namespace lb::health
