// HttpSession's upstream half: connecting (or reusing a pooled connection)
// to the picked target, retrying a refused connect on another target,
// relaying the target's response to the client with its framing decided by
// plan_response, and handing over to a tunnel after a 101. The client half
// (reading and routing requests, local answers, endings) is
// listeners/http_session.cpp.
#include "listeners/http_session.h"

#include "health/passive_health.h"
#include "lb/base/hash.h"
#include "lb/base/log.h"
#include "lb/http/chunk_writer.h"
#include "lb/http/http_validation.h"
#include "lb/io/tcp_stream.h"
#include "lb/worker/target_picker.h"
#include "listeners/tunnel.h"
#include "tls/tls_stream.h"

namespace lb {

bool HttpSession::open_upstream() {
    const TargetGroupRuntime& group = *exchange_.group;
    uint64_t client_hash = hash_client_address(exchange_.client);
    const TargetEntry* entry = pick_target(*snapshot_, group, client_hash, exchange_.tried, exchange_.sticky.target);
    if (!entry) return false;

    exchange_.target_entry = entry;
    exchange_.target = entry->state;
    exchange_.target_address = entry->config.addr;
    last_target_ = entry->state.get();
    exchange_.attempts++;
    exchange_.upstream_got_bytes = false;
    if (exchange_.attempts == 1) {
        ForwardedFor forwarded{client_ip_, tls_ ? "https" : "http", listener_->config.listen.port()};
        exchange_.replay =
            serialize_upstream_request(exchange_.request, exchange_.upstream_target, exchange_.authority, forwarded);
    }
    bool https = group.tls != nullptr;
    if (!exchange_.fresh_connection) upstream_ = worker_.pool().take(entry->state.get());
    exchange_.fresh_connection = false;
    if (upstream_ && https != (dynamic_cast<tls::TlsStream*>(upstream_.get()) != nullptr)) {
        // Pooled before a reload switched the group between http and https.
        Stream::close(std::move(upstream_), CloseMode::abort);
    }
    exchange_.upstream_reused = upstream_ != nullptr;
    if (!upstream_) {
        int64_t timeout_ms = group.config.connect_timeout.count();
        if (https) upstream_ = tls::TlsStream::connect(worker_.loop(), entry->config.addr, timeout_ms, group.tls, this);
        else upstream_ = TcpStream::connect(worker_.loop(), entry->config.addr, timeout_ms, this);
        entry->state->connections_total.fetch_add(1, std::memory_order_relaxed);
    }
    upstream_->set_handler(this);
    upstream_->write(exchange_.replay);
    upstream_->start_reading();
    response_parser_.reset();
    entry->state->requests_total.fetch_add(1, std::memory_order_relaxed);
    entry->state->outstanding_requests.fetch_add(1, std::memory_order_relaxed);
    exchange_.outstanding_counted = true;
    worker_.loop().timers().schedule(upstream_timer_, group.config.response_timeout.count());
    return true;
}

void HttpSession::release_target() {
    if (exchange_.outstanding_counted && exchange_.target) {
        exchange_.target->outstanding_requests.fetch_sub(1, std::memory_order_relaxed);
        exchange_.outstanding_counted = false;
    }
}

void HttpSession::release_upstream(bool reusable) {
    worker_.loop().timers().cancel(upstream_timer_);
    if (!upstream_) return;
    if (reusable && exchange_.target && exchange_.target->routable() && !worker_.draining()) {
        worker_.pool().put(exchange_.target, std::move(upstream_));
    } else {
        Stream::close(std::move(upstream_), reusable ? CloseMode::graceful : CloseMode::abort);
    }
}

void HttpSession::retry_or_fail(int status, const char* why) {
    // A pooled connection the target closed while idle is no verdict on the
    // target: try it again on a fresh connection.
    bool stale = exchange_.upstream_reused && !exchange_.upstream_got_bytes;
    release_target();
    release_upstream(false);
    if (stale) exchange_.fresh_connection = true;
    else if (exchange_.target) exchange_.tried.push_back(exchange_.target.get());
    bool can_retry = exchange_.replayable && !exchange_.upstream_got_bytes && exchange_.attempts < kMaxConnectAttempts &&
                     !exchange_.response_started;
    if (can_retry && open_upstream()) return;
    respond_error(status, why, !exchange_.request_complete);
}

void HttpSession::on_upstream_data(std::string_view data) {
    exchange_.upstream_got_bytes = true;
    exchange_.replay.clear();
    exchange_.replayable = false;
    worker_.loop().timers().schedule(upstream_timer_, exchange_.group->config.response_timeout.count());
    auto outcome = response_parser_.feed(data);
    if (closing_) return;
    switch (outcome.status) {
        case HttpParser::Status::ok:
            return;
        case HttpParser::Status::paused:
            // The response is complete. Bytes after it were asked for by
            // nobody: the connection cannot be trusted with another request.
            release_upstream(exchange_.upstream_reusable && outcome.consumed == data.size());
            return;
        case HttpParser::Status::upgraded:
            switch_to_tunnel(data.substr(outcome.consumed));
            return;
        case HttpParser::Status::header_too_large:
        case HttpParser::Status::error: {
            const char* why = exchange_.response_error ? exchange_.response_error : "invalid response from target";
            LB_LOG_DEBUG("invalid response from %s: %s (%s)", exchange_.target_address.to_string().c_str(), why,
                         response_parser_.error_reason());
            if (exchange_.response_started) {
                cut_response(why);
            } else {
                release_target();
                release_upstream(false);
                respond_error(502, why, !exchange_.request_complete);
            }
            return;
        }
    }
}

void HttpSession::on_upstream_closed(bool error) {
    if (!error && exchange_.response_started && !exchange_.response_complete) {
        // A body delimited by the close completes here.
        response_parser_.finish();
        if (closing_) return;
        if (exchange_.response_complete) {
            release_upstream(false);
            return;
        }
    }
    if (exchange_.response_complete) return;
    if (exchange_.response_started) {
        cut_response(error ? "target reset the connection mid-response" : "target closed the connection mid-response");
        return;
    }
    // Nothing answered. A pooled connection the target had already closed is
    // retried like a refused connect.
    retry_or_fail(502, error ? "target reset the connection" : "target closed the connection");
}

void HttpSession::on_upstream_timeout() {
    if (closing_ || !exchange_.active) return;
    if (exchange_.response_started) {
        cut_response("target response timeout");
        return;
    }
    release_target();
    release_upstream(false);
    respond_error(504, "target response timeout", !exchange_.request_complete);
}

int HttpSession::on_response_head(HttpHead& response) {
    if (closing_) return HttpParserSink::kError;
    int status = response.status;
    ResponsePlan plan = plan_response(response, exchange_.head_method, exchange_.client_http10);
    if (plan.status) {
        exchange_.response_error = plan.error;
        return HttpParserSink::kError;
    }
    if (status >= 100 && status < 200 && status != 101) {
        exchange_.informational = true;
        if (status == 100) {
            if (exchange_.expect_continue && !exchange_.continue_sent) {
                exchange_.continue_sent = true;
                client_->write("HTTP/1.1 100 Continue\r\n\r\n");
            }
        } else if (!exchange_.client_http10) {
            client_->write(serialize_client_response(response, BodyFraming::none, std::nullopt, false, false));
        }
        return HttpParserSink::kSkipBody;  // an interim response never has a body
    }
    if (exchange_.group->cookie_sticky()) {
        exchange_.set_cookies += sticky_response_cookies(*exchange_.group, *snapshot_->runtime->sticky_signer,
                                                         exchange_.sticky, response, *exchange_.target_entry, tls_,
                                                         unix_now());
    }
    if (status == 101) {
        if (!exchange_.request.upgrade) return HttpParserSink::kError;
        exchange_.upgraded = true;
        exchange_.status = 101;
        exchange_.response_started = true;
        client_->write(serialize_client_response(response, BodyFraming::none, std::nullopt, false, false,
                                                 exchange_.set_cookies));
        // What follows a 101 is the new protocol's, byte for byte, whatever
        // Content-Length or Transfer-Encoding the head claims: llhttp must
        // not read (or de-chunk) it as a body.
        return HttpParserSink::kSkipBody;
    }
    exchange_.response_started = true;
    exchange_.status = status;
    const BodyFraming framing = plan.framing;
    exchange_.response_framing = framing;
    exchange_.upstream_reusable = plan.reusable;
    // An upgrade the target declined leaves the client's parser mid-upgrade:
    // end the connection after this answer rather than guess.
    // A deregistered target's clients are moved on: this connection ends
    // with this answer and the client reconnects to whoever is in rotation.
    if (!exchange_.client_keep_alive || worker_.draining() || framing == BodyFraming::until_close ||
        client_done() || exchange_.request.upgrade || exchange_.target->draining.load(std::memory_order_relaxed) ||
        (!exchange_.request_complete && exchange_.expect_continue && !exchange_.continue_sent))
        exchange_.close_after = true;
    if (status >= 500) exchange_.target->responses_5xx.fetch_add(1, std::memory_order_relaxed);
    client_->write(serialize_client_response(response, framing, plan.content_length, exchange_.close_after,
                                             exchange_.client_http10, exchange_.set_cookies));
    // Responses to HEAD, 204 and 304 end with their head (RFC 9112 section
    // 6.3); llhttp 8.1 would read a 204's Content-Length as a body.
    return framing == BodyFraming::none ? HttpParserSink::kSkipBody : HttpParserSink::kContinue;
}

int HttpSession::on_response_body(std::string_view data) {
    if (closing_) return HttpParserSink::kError;
    exchange_.bytes_out += data.size();
    if (exchange_.response_framing == BodyFraming::chunked) write_chunk(*client_, data);
    else client_->write(data);
    if (client_->output_high() && upstream_) {
        // Download back-pressure: the target waits for the client now, so the
        // clock that runs is the client's.
        upstream_->stop_reading();
        worker_.loop().timers().cancel(upstream_timer_);
        worker_.loop().timers().schedule(client_timer_, listener_->config.idle_timeout.count());
    }
    return HttpParserSink::kContinue;
}

int HttpSession::on_response_complete() {
    if (closing_) return HttpParserSink::kError;
    if (exchange_.request_complete) worker_.loop().timers().cancel(client_timer_);
    else worker_.loop().timers().schedule(client_timer_, listener_->config.idle_timeout.count());
    if (exchange_.informational) {
        exchange_.informational = false;
        return HttpParserSink::kContinue;
    }
    if (exchange_.upgraded) return HttpParserSink::kContinue;  // llhttp reports the upgrade next
    exchange_.response_complete = true;
    if (exchange_.response_framing == BodyFraming::chunked) client_->write("0\r\n\r\n");
    release_target();
    // The connection can carry another request only if the target said so
    // and it has seen our whole request; the caller of the parser releases
    // it once it knows nothing follows the response.
    exchange_.upstream_reusable =
        exchange_.upstream_reusable && response_parser_.keep_alive() && exchange_.request_complete;
    if (!exchange_.request_complete) {
        // Answered early (e.g. 401 to an upload): drop the rest of the body.
        exchange_.discard_body = true;
        if (exchange_.close_after) {
            finish_scheduled_ = true;
            worker_.loop().defer([this] { finish_exchange(); });
        }
    } else if (!finish_scheduled_) {
        finish_scheduled_ = true;
        worker_.loop().defer([this] { finish_exchange(); });
    }
    return HttpParserSink::kPause;
}

void HttpSession::switch_to_tunnel(std::string_view upstream_rest) {
    release_target();
    worker_.loop().timers().cancel(upstream_timer_);
    worker_.loop().timers().cancel(client_timer_);
    log_exchange();
    if (!upstream_rest.empty()) client_->write(upstream_rest);
    if (!pending_input_.empty()) upstream_->write(pending_input_);
    closing_ = true;
    auto* tunnel = new TunnelSession(worker_, listener_->config.name, std::move(client_), std::move(upstream_),
                                     std::move(ticket_), exchange_.target, listener_->config.tunnel_idle_timeout.count());
    tunnel->start();
    retire();
}

}  // namespace lb
