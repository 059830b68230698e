#include "health/health_probe.h"

#include <cstring>

#include "lb/base/log.h"
#include "lb/base/thread_random.h"
#include "lb/io/tcp_stream.h"
#include "lb/targets/health_state.h"
#include "tls/tls_stream.h"

namespace lb::health {

namespace {

SocketAddress check_address(const TargetState& target, const conf::HealthCheck& check) {
    SocketAddress address = target.address;
    if (check.port) address.set_port(*check.port);
    return address;
}

}  // namespace

HealthProbe::HealthProbe(EventLoop& loop, std::shared_ptr<TargetState> target, const conf::HealthCheck& check,
                         std::shared_ptr<const tls::ClientContext> tls)
    : loop_(loop),
      target_(std::move(target)),
      check_(check),
      tls_(std::move(tls)),
      address_(check_address(*target_, check)),
      parser_(HttpParser::Kind::response, this, 64 * 1024),
      next_timer_([this] { start_check(); }),
      timeout_timer_([this] { on_timeout(); }) {
    schedule_first();
}

HealthProbe::~HealthProbe() { Stream::close(std::move(stream_), CloseMode::abort); }

void HealthProbe::schedule_first() { loop_.timers().schedule(next_timer_, random_below(check_.interval.count())); }

void HealthProbe::reconfigure(const conf::HealthCheck& check, std::shared_ptr<const tls::ClientContext> tls) {
    bool interval_changed = check.interval != check_.interval;
    check_ = check;
    tls_ = std::move(tls);
    address_ = check_address(*target_, check_);
    // A check in flight finishes under its old settings; the cadence only
    // restarts when the interval itself changed.
    if (interval_changed && !checking_) schedule_first();
}

void HealthProbe::start_check() {
    checking_ = true;
    check_started_ms_ = loop_.now_ms();
    parser_.reset();
    loop_.timers().schedule(timeout_timer_, check_.timeout.count());
    // A fresh connection each time: a pooled one would only prove that an
    // old socket still works.
    if (check_.protocol == conf::HealthCheck::Protocol::https)
        stream_ = tls::TlsStream::connect(loop_, address_, check_.timeout.count(), tls_, this);
    else
        stream_ = TcpStream::connect(loop_, address_, check_.timeout.count(), this);
}

void HealthProbe::finish(bool passed, std::string failure_reason) {
    if (!checking_) return;
    checking_ = false;
    loop_.timers().cancel(timeout_timer_);
    Stream::close(std::move(stream_), CloseMode::abort);
    // Cadence from the start of this check, lightly jittered so targets that
    // started together drift apart instead of probing in lock-step.
    int64_t interval = check_.interval.count();
    int64_t jitter = interval / 20;
    int64_t next = check_started_ms_ + interval - jitter + random_below(2 * jitter + 1) - loop_.now_ms();
    loop_.timers().schedule(next_timer_, next);

    Transition transition = record_check(*target_, check_, passed, failure_reason);
    if (transition == Transition::to_healthy) {
        LB_LOG_INFO("target group %s: target %s is healthy", target_->group.c_str(), target_->key.c_str());
    } else if (transition == Transition::to_unhealthy) {
        LB_LOG_WARN("target group %s: target %s is unhealthy: %s", target_->group.c_str(), target_->key.c_str(),
                    failure_reason.c_str());
    }
}

void HealthProbe::on_timeout() {
    finish(false, std::string(conf::to_string(check_.protocol)) + " check timed out after " +
                      std::to_string(check_.timeout.count()) + "ms");
}

void HealthProbe::on_stream_connected(Stream&, int error) {
    if (error != 0) {
        if (error == -ETIMEDOUT) on_timeout();
        else if (error == -EPROTO) finish(false, "TLS handshake with " + address_.to_string() + " failed");
        else finish(false, std::string("connect to ") + address_.to_string() + ": " + strerror(-error));
        return;
    }
    if (check_.protocol == conf::HealthCheck::Protocol::tcp) {
        finish(true, "");
        return;
    }
    std::string request = "GET " + check_.path + " HTTP/1.1\r\nHost: " + address_.to_string() +
                          "\r\nUser-Agent: lb-health-check/" LB_VERSION "\r\nAccept: */*\r\nConnection: close\r\n\r\n";
    stream_->write(request);
    stream_->start_reading();
}

void HealthProbe::on_stream_data(Stream&, std::string_view data) {
    auto outcome = parser_.feed(data);
    if (!checking_) return;  // the head decided it
    if (outcome.status == HttpParser::Status::error || outcome.status == HttpParser::Status::header_too_large)
        finish(false, std::string("invalid HTTP response: ") + parser_.error_reason());
}

void HealthProbe::on_stream_eof(Stream&) { finish(false, "connection closed before a response"); }

void HealthProbe::on_stream_error(Stream&, int error) {
    finish(false, std::string("connection error: ") + strerror(-error));
}

int HealthProbe::on_http_head(HttpHead& head) {
    if (head.status >= 100 && head.status < 200) return kContinue;  // e.g. 100 Continue; wait for the answer
    bool passed = check_.matches(head.status);
    finish(passed, passed ? std::string() : describe_status(head.status));
    return kError;  // the body is of no interest
}

std::string HealthProbe::describe_status(int status) const {
    return "HTTP " + std::to_string(status) + " from " + check_.path + " (expected " + check_.matcher + ")";
}

}  // namespace lb::health
