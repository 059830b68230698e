// HttpExchange's target half: an attempt per target (UpstreamAttempts), a
// retry on another while nothing was answered and the request can be sent
// again, the response parsed and handed to the codec with its framing
// decided by plan_response, back-pressure from the client, the response
// timeout, and the hand-over to a tunnel after a 101. The request half is
// listeners/http_exchange.cpp.
#include "listeners/http_exchange.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "lb/base/log.h"

namespace lb {

bool HttpExchange::open_upstream() {
    upstream_ = attempts_->next(this, UpstreamAttempts::Reuse::pooled);
    if (!upstream_) return false;
    upstream_got_bytes_ = false;
    first_byte_us_ = 0;
    try_start_us_ = host_.now_us();
    connect_us_ = attempts_->reused() ? 0 : -1;
    retry_status_ = 0;
    phase_ = Phase::forwarding;
    const conf::ForwardAction& forward = action_->forward;
    // The head is made once, or per try when an edit names the try's target.
    if (replay_head_size_ == 0) {
        replay_ = upstream_head();
        replay_head_size_ = replay_.size();
    } else if (uses_variable(listener_->config.request_headers, conf::HeaderVariable::target) ||
               uses_variable(forward.request_headers, conf::HeaderVariable::target)) {
        std::string head = upstream_head();
        replay_.replace(0, replay_head_size_, head);
        replay_head_size_ = head.size();
    }
    upstream_->write(replay_);
    if (upstream_paused_ && !upstream_->output_high()) {
        // A retry: the last try's full output paused the upload, and this
        // connection may never fill up to report draining.
        upstream_paused_ = false;
        downstream_.resume_request_body();
    }
    upstream_->start_reading();
    response_parser_.reset();
    TargetState& target = *attempts_->target();
    target.requests_total.fetch_add(1, std::memory_order_relaxed);
    target.outstanding_requests.fetch_add(1, std::memory_order_relaxed);
    outstanding_counted_ = true;
    schedule_upstream_timeout();
    return true;
}

std::string HttpExchange::upstream_head() {
    std::string peer_ip = peer_.ip_string();
    ForwardedFor forwarded{peer_ip, request_.tls ? "https" : "http", listener_->config.listen.port()};
    const conf::ForwardAction& forward = action_->forward;
    std::string_view target = request_.checked.target;
    std::optional<std::string> rewritten = rewrite_path(target, forward.path_rewrite);
    if (rewritten) target = *rewritten;
    const conf::HeaderEdits& listener_edits = listener_->config.request_headers;
    if (listener_edits.empty() && forward.request_headers.empty())
        return serialize_upstream_request(request_.head, target, request_.checked.authority, forwarded);
    // Edited on a copy: the access log shows the request as the client sent it.
    HttpHead head = request_.head;
    HeaderVariables variables = header_variables();
    apply_header_edits(head, listener_edits, variables);
    apply_header_edits(head, forward.request_headers, variables);
    auto sets_host = [](const conf::HeaderEdits& edits) {
        for (const auto& header : edits.set)
            if (iequals(header.name, "host")) return true;
        return false;
    };
    std::string_view host = request_.checked.authority;
    if (sets_host(listener_edits) || sets_host(forward.request_headers)) host = head.header("host").value_or(host);
    return serialize_upstream_request(head, target, host, forwarded);
}

void HttpExchange::schedule_upstream_timeout() {
    host_.timers().schedule(upstream_timer_, group_->config.response_timeout.count());
}

void HttpExchange::release_target() {
    if (outstanding_counted_ && attempts_) {
        attempts_->target()->outstanding_requests.fetch_sub(1, std::memory_order_relaxed);
        outstanding_counted_ = false;
    }
}

void HttpExchange::release_upstream(bool reusable) {
    host_.timers().cancel(upstream_timer_);
    stop_body_pump();
    if (!upstream_) return;
    const std::shared_ptr<TargetState>& target = attempts_->target();
    if (reusable && target->routable() && !host_.draining()) {
        host_.upstreams().put_idle(target, std::move(upstream_));
    } else {
        Stream::close(std::move(upstream_), reusable ? CloseMode::graceful : CloseMode::abort);
    }
}

// May this try's failure send the request to another target? Only while
// nothing of an answer reached the client and all of the request can be
// sent again, as the group's retry_on says, within its tries and time.
bool HttpExchange::may_retry(Failure failure, int status) const {
    const conf::Retry& retry = group_->config.retry;
    if (!replayable_ || response_started()) return false;
    // A pooled connection the target had closed while idle: the request
    // never reached it, whatever retry_on says.
    const bool dead_pooled = failure == Failure::closed && attempts_->reused() && !upstream_got_bytes_;
    bool wanted = dead_pooled;
    switch (failure) {
        case Failure::connect: wanted = retry.connect_failure; break;
        case Failure::closed: wanted = wanted || (retry.connect_failure && !upstream_got_bytes_); break;
        case Failure::timeout: wanted = retry.timeout && !upstream_got_bytes_; break;
        case Failure::status: wanted = retry.on_status(status); break;
    }
    if (!wanted) return false;
    // Sent already: the target may have acted on it.
    if (failure != Failure::connect && !dead_pooled && !retry.non_idempotent && !is_idempotent(request_.head.method))
        return false;
    const int64_t budget = retry.timeout_budget.count();
    if (budget > 0 && (host_.now_us() - start_us_) / 1000 >= budget) return false;
    return dead_pooled || attempts_->can_retry();
}

// This try failed before anything reached the client: another target gets
// the request when may_retry() says so; else lb answers.
void HttpExchange::retry_or_fail(Failure failure, int connect_error, int status, const char* why) {
    const bool again = may_retry(failure, status);
    // Only a pooled connection closed before any byte of an answer was dead
    // while idle; one that answered (a status retry) or stayed silent (a
    // timeout) is a try against its target like any other.
    const bool dead_idle = failure == Failure::closed && attempts_->reused() && !upstream_got_bytes_;
    release_target();
    release_upstream(false);
    attempts_->failed(connect_error, dead_idle);
    if (again) {
        attempts_->target()->retries.fetch_add(1, std::memory_order_relaxed);
        if (open_upstream()) return;
    }
    respond_error(status, why, body_ == Body::receiving);
}

// ---------------------------------------------------------------- stream events

void HttpExchange::on_stream_connected(Stream& stream, int error) {
    if (&stream != upstream_.get()) return;
    if (error == 0) {
        if (connect_us_ < 0) {  // a new connection: this try began with its connect
            uint64_t took = static_cast<uint64_t>(host_.now_us() - try_start_us_);
            connect_us_ = static_cast<int64_t>(took);
            listener_->state->http.connect.observe(took);
            if (group_) group_->state->http.connect.observe(took);
        }
        return;
    }
    LB_LOG_DEBUG("connect to %s failed: %s", attempts_->target()->key.c_str(), strerror(-error));
    const char* why = error == -ETIMEDOUT ? "target connect timeout"
                      : error == -EPROTO  ? "target TLS handshake failed"
                                          : "target refused";
    retry_or_fail(Failure::connect, error, error == -ETIMEDOUT ? 504 : 502, why);
}

void HttpExchange::on_stream_data(Stream& stream, std::string_view data) {
    if (&stream != upstream_.get()) return;
    if (!upstream_got_bytes_) first_byte_us_ = host_.now_us();
    upstream_got_bytes_ = true;
    schedule_upstream_timeout();
    auto outcome = response_parser_.feed(data);
    if (!upstream_) return;  // the exchange ended inside the parse
    if (retry_status_) {
        // on_response_head stopped the parse on a status retry_on names.
        retry_or_fail(Failure::status, 0, retry_status_, "target answered a status retry_on names");
        return;
    }
    switch (outcome.status) {
        case HttpParser::Status::ok:
            maybe_splice_body();
            return;
        case HttpParser::Status::paused:
            // The response is complete. Bytes after it were asked for by
            // nobody: the connection cannot be trusted with another request.
            release_upstream(upstream_reusable_ && outcome.consumed == data.size());
            return;
        case HttpParser::Status::upgraded:
            switch_to_tunnel(data.substr(outcome.consumed));
            return;
        case HttpParser::Status::header_too_large:
        case HttpParser::Status::error: {
            const char* why = response_error_ ? response_error_ : "invalid response from target";
            LB_LOG_DEBUG("invalid response from %s: %s (%s)", attempts_->target()->key.c_str(), why,
                         response_parser_.error_reason());
            if (response_started()) cut(why);
            else respond_error(502, why, body_ == Body::receiving);
            return;
        }
    }
}

void HttpExchange::on_stream_eof(Stream& stream) {
    if (&stream == upstream_.get()) on_upstream_closed(false);
}

void HttpExchange::on_stream_error(Stream& stream, int error) {
    if (&stream != upstream_.get()) return;
    LB_LOG_DEBUG("target %s: %s", attempts_->target()->key.c_str(), strerror(-error));
    on_upstream_closed(true);
}

// Upload back-pressure released.
void HttpExchange::on_stream_drained(Stream& stream) {
    if (&stream != upstream_.get() || !upstream_paused_) return;
    upstream_paused_ = false;
    schedule_upstream_timeout();
    downstream_.resume_request_body();
}

void HttpExchange::resume_response() {
    if (!upstream_ || phase_ != Phase::streaming) return;
    schedule_upstream_timeout();
    if (body_pausing_) return;  // on_stream_paused() decides how to go on
    if (body_pump_) {
        // What the codec had queued is out (or below its low-water mark:
        // then it is asked again): spliced bytes may follow.
        if (downstream_.body_output_flushed()) body_pump_->hold_output(false);
        return;
    }
    upstream_->start_reading();
}

void HttpExchange::on_upstream_closed(bool error) {
    if (!error && phase_ == Phase::streaming) {
        // A body delimited by the close completes here.
        response_parser_.finish();
        if (phase_ == Phase::complete) {
            release_upstream(false);
            return;
        }
    }
    if (phase_ == Phase::complete || phase_ == Phase::cut) return;
    if (response_started()) {
        cut(error ? "target reset the connection mid-response" : "target closed the connection mid-response");
        return;
    }
    // Nothing answered. A pooled connection the target had already closed is
    // retried like a refused connect.
    retry_or_fail(Failure::closed, 0, 502, error ? "target reset the connection" : "target closed the connection");
}

void HttpExchange::on_upstream_timeout() {
    // A spliced body with bytes waiting for the client: the client has not
    // read for idle_timeout (on_pump_moved runs that clock then).
    if (body_pump_ && body_pump_->in_flight() > 0) cut("client stopped reading the response");
    else if (response_started()) cut("target response timeout");
    else retry_or_fail(Failure::timeout, 0, 504, "target response timeout");
}

// ---------------------------------------------------------------- the response

int HttpExchange::on_response_head(HttpHead& response) {
    if (!upstream_) return HttpParserSink::kError;  // ended inside the parse
    int status = response.status;
    bool head_method = request_.head.method == "HEAD";
    ResponsePlan plan = plan_response(response, head_method, !request_.head.is_http11_or_later());
    if (plan.status) {
        response_error_ = plan.error;
        return HttpParserSink::kError;
    }
    if (status >= 200 && group_->config.retry.on_status(status)) {
        if (may_retry(Failure::status, status)) {
            retry_status_ = status;  // on_stream_data retries once the parse has returned
            return HttpParserSink::kError;
        }
        attempts_->note_failed_answer();  // passed on, but a failure all the same
    }
    // From here on the client sees this try's answer: no retry.
    replay_.clear();
    replayable_ = false;
    if (status >= 100 && status < 200 && status != 101) {
        phase_ = Phase::interim;
        downstream_.interim_response(response);
        return HttpParserSink::kSkipBody;  // an interim response never has a body
    }
    // The client learns the id its request went by (the edits below may
    // still change that, as the operator's last word).
    if (listener_->config.request_id.enabled) set_header(response, listener_->config.request_id.header, request_id());
    const conf::HeaderEdits& listener_edits = listener_->config.response_headers;
    const conf::HeaderEdits& action_edits = action_->forward.response_headers;
    if (!listener_edits.empty() || !action_edits.empty()) {
        HeaderVariables variables = header_variables();
        apply_header_edits(response, listener_edits, variables);
        apply_header_edits(response, action_edits, variables);
    }
    TargetState& target = *attempts_->target();
    if (group_->cookie_sticky()) {
        set_cookies_ += sticky_response_cookies(*group_, *snapshot_->runtime->sticky_signer, sticky_, response,
                                                *attempts_->entry(), request_.tls, unix_now());
    }
    if (status == 101) {
        if (!request_.head.upgrade) return HttpParserSink::kError;
        status_ = 101;
        phase_ = Phase::upgraded;
        upgrade_response_ = std::move(response);
        // What follows a 101 is the new protocol's, byte for byte, whatever
        // Content-Length or Transfer-Encoding the head claims: llhttp must
        // not read (or de-chunk) it as a body.
        return HttpParserSink::kSkipBody;
    }
    phase_ = Phase::streaming;
    status_ = status;
    response_framing_ = plan.framing;
    body_left_ = plan.framing == BodyFraming::content_length ? plan.content_length.value_or(0) : 0;
    upstream_reusable_ = plan.reusable;
    if (status >= 500) target.responses_5xx.fetch_add(1, std::memory_order_relaxed);
    downstream_.response_head(response, plan, set_cookies_, target.draining.load(std::memory_order_relaxed));
    // Responses to HEAD, 204 and 304 end with their head (RFC 9112 section
    // 6.3); llhttp 8.1 would read a 204's Content-Length as a body.
    return plan.framing == BodyFraming::none ? HttpParserSink::kSkipBody : HttpParserSink::kContinue;
}

int HttpExchange::on_response_body(std::string_view data) {
    if (!upstream_ || phase_ != Phase::streaming) return HttpParserSink::kError;
    bytes_out_ += data.size();
    body_left_ -= std::min<uint64_t>(data.size(), body_left_);
    downstream_.response_body(data);
    if (!upstream_ || phase_ != Phase::streaming) return HttpParserSink::kError;
    if (downstream_.response_blocked()) {
        // Download back-pressure: the target waits for the client now, so
        // the target's clock stops (the codec runs the client's).
        upstream_->stop_reading();
        host_.timers().cancel(upstream_timer_);
    }
    return HttpParserSink::kContinue;
}

int HttpExchange::on_response_complete() {
    if (!upstream_) return HttpParserSink::kError;
    if (phase_ == Phase::interim) {
        phase_ = Phase::forwarding;
        return HttpParserSink::kContinue;
    }
    if (phase_ == Phase::upgraded) return HttpParserSink::kContinue;  // llhttp reports the upgrade next
    if (phase_ != Phase::streaming) return HttpParserSink::kError;
    phase_ = Phase::complete;
    release_target();
    // The connection can carry another request only if the target said so
    // and it has seen our whole request; on_stream_data releases it once it
    // knows nothing follows the response.
    upstream_reusable_ = upstream_reusable_ && response_parser_.keep_alive() && body_ == Body::complete;
    // Answered early (e.g. 401 to an upload): the rest of the body is dropped.
    if (body_ == Body::receiving) body_ = Body::discarded;
    downstream_.response_complete();
    return HttpParserSink::kPause;
}

void HttpExchange::switch_to_tunnel(std::string_view upstream_rest) {
    release_target();
    host_.timers().cancel(upstream_timer_);
    downstream_.upgraded(upgrade_response_, set_cookies_, std::move(upstream_), upstream_rest, attempts_->target());
}

}  // namespace lb
