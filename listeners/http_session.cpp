#include "listeners/http_session.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "health/passive_health.h"
#include "lb/base/log.h"
#include "lb/http/chunk_writer.h"
#include "lb/http/cookies.h"
#include "lb/http/http_validation.h"
#include "lb/worker/target_picker.h"
#include "listeners/redirect.h"
#include "listeners/trusted_proxies.h"

namespace lb {

namespace {

constexpr size_t kMaxPendingInput = 64 * 1024;  // pipelined bytes held while an exchange runs

}  // namespace

HttpSession::HttpSession(Worker& worker, const ListenerRuntime& listener, std::unique_ptr<Stream> client,
                         ConnectionTicket ticket, bool tls)
    : Session(worker),
      listener_(&listener),
      snapshot_(worker.snapshot()),
      client_(std::move(client)),
      ticket_(std::move(ticket)),
      tls_(tls),
      request_parser_(HttpParser::Kind::request, &request_sink_, listener.config.max_header_size),
      response_parser_(HttpParser::Kind::response, &response_sink_, 256 * 1024),
      client_timer_([this] { on_client_timeout(); }),
      upstream_timer_([this] { on_upstream_timeout(); }) {
    client_ip_ = client_->peer().ip_string();
    client_port_ = client_->peer().port();
}

HttpSession::~HttpSession() = default;

void HttpSession::start() {
    client_->set_handler(this);
    client_->start_reading();
    // A connection that never sends a request is idle, not slow.
    worker_.loop().timers().schedule(client_timer_, listener_->config.idle_timeout.count());
}

// ---------------------------------------------------------------- stream events

void HttpSession::on_stream_connected(Stream& stream, int error) {
    if (&stream != upstream_.get() || error == 0) return;
    LB_LOG_DEBUG("connect to %s failed: %s", exchange_.target_address.to_string().c_str(), strerror(-error));
    note_connect_failure(*exchange_.target, exchange_.group->config.health_check, error);
    const char* why = error == -ETIMEDOUT ? "target connect timeout"
                      : error == -EPROTO  ? "target TLS handshake failed"
                                          : "target refused";
    retry_or_fail(error == -ETIMEDOUT ? 504 : 502, why);
}

void HttpSession::on_stream_data(Stream& stream, std::string_view data) {
    if (&stream == client_.get()) on_client_data(data);
    else if (&stream == upstream_.get()) on_upstream_data(data);
}

void HttpSession::on_stream_eof(Stream& stream) {
    if (&stream == upstream_.get()) {
        on_upstream_closed(false);
        return;
    }
    if (&stream != client_.get()) return;
    client_eof_ = true;
    if (!exchange_.active) {
        if (!in_request_bytes_ && pending_input_.empty()) close_client(CloseMode::graceful);
        else close_client(CloseMode::abort);  // half a request, then gone
        return;
    }
    if (!exchange_.request_complete) {
        // The client stopped in the middle of its request body.
        close_client(CloseMode::abort);
        return;
    }
    // Request sent, then the client half-closed: answer it and any complete
    // requests it pipelined before, then close.
    if (pending_input_.empty()) exchange_.close_after = true;
}

void HttpSession::on_stream_error(Stream& stream, int error) {
    if (&stream == upstream_.get()) {
        LB_LOG_DEBUG("target %s: %s", exchange_.target_address.to_string().c_str(), strerror(-error));
        on_upstream_closed(true);
        return;
    }
    if (&stream == client_.get()) close_client(CloseMode::abort);
}

void HttpSession::on_stream_drained(Stream& stream) {
    if (&stream == upstream_.get()) {
        // Upload back-pressure released.
        if (client_paused_for_upstream_ && client_) {
            client_paused_for_upstream_ = false;
            client_->start_reading();
            worker_.loop().timers().schedule(client_timer_, listener_->config.idle_timeout.count());
            worker_.loop().timers().schedule(upstream_timer_, exchange_.group->config.response_timeout.count());
        }
    } else if (&stream == client_.get()) {
        // Download back-pressure released.
        if (upstream_ && exchange_.response_started && !exchange_.response_complete) {
            worker_.loop().timers().cancel(client_timer_);
            worker_.loop().timers().schedule(upstream_timer_, exchange_.group->config.response_timeout.count());
            upstream_->start_reading();
        }
    }
}

// ---------------------------------------------------------------- client side

void HttpSession::on_client_data(std::string_view data) {
    if (closing_) return;
    bool busy = exchange_.active && exchange_.request_complete;
    if (busy || !pending_input_.empty() || finish_scheduled_) {
        // Pipelined bytes: keep them until the current exchange has ended.
        pending_input_.append(data);
        if (pending_input_.size() > kMaxPendingInput) client_->stop_reading();
        return;
    }
    parse_client(data);
}

void HttpSession::parse_client(std::string_view data) {
    if (data.empty()) return;
    if (!exchange_.active && !in_request_bytes_) {
        in_request_bytes_ = true;
        exchange_.start_ms = worker_.loop().now_ms();  // a request's time counts from its first byte
        worker_.loop().timers().schedule(client_timer_, listener_->config.header_timeout.count());
    } else if (exchange_.active && !exchange_.request_complete) {
        worker_.loop().timers().schedule(client_timer_, listener_->config.idle_timeout.count());
    }
    auto outcome = request_parser_.feed(data);
    if (closing_) return;
    switch (outcome.status) {
        case HttpParser::Status::ok:
            pending_input_.clear();  // all consumed (it may have been a copy of it)
            return;
        case HttpParser::Status::paused:
        case HttpParser::Status::upgraded:
            pending_input_.assign(data.substr(outcome.consumed));
            if (pending_input_.size() > kMaxPendingInput && client_) client_->stop_reading();
            return;
        case HttpParser::Status::header_too_large:
            respond_error(431, "request header too large", true);
            return;
        case HttpParser::Status::error:
            if (exchange_.active && exchange_.response_started) {
                // A broken body after the answer began: nothing sane to send.
                close_client(CloseMode::abort);
                return;
            }
            LB_LOG_DEBUG("bad request from %s: %s", client_ip_.c_str(), request_parser_.error_reason());
            respond_error(400, "malformed request", true);
            return;
    }
}

int HttpSession::on_request_head(HttpHead& head) {
    worker_.loop().timers().cancel(client_timer_);
    in_request_bytes_ = false;
    refresh_snapshot();
    int64_t first_byte_ms = exchange_.start_ms;
    exchange_ = Exchange{};
    exchange_.active = true;
    exchange_.start_ms = first_byte_ms ? first_byte_ms : worker_.loop().now_ms();
    exchange_.request = std::move(head);
    HttpHead& request = exchange_.request;
    exchange_.head_method = request.method == "HEAD";
    exchange_.client_keep_alive = request.keep_alive;
    exchange_.client_http10 = !request.is_http11_or_later();
    exchange_.expect_continue = request.has_token("expect", "100-continue");
    // A PROXY header already named the client; otherwise trusted proxies may.
    const conf::Listener& config = listener_->config;
    exchange_.client = config.accept_proxy_protocol ? client_->peer()
                                                    : client_behind_proxies(client_->peer(), request, config.trusted_proxies);
    worker_.counters().requests.fetch_add(1, std::memory_order_relaxed);
    // While the body arrives, the client's silence counts as idleness.
    worker_.loop().timers().schedule(client_timer_, listener_->config.idle_timeout.count());

    if (request.method == "CONNECT") {
        respond_error(405, "CONNECT not supported", true);
        return HttpParserSink::kError;
    }
    // Nothing is dispatched until the whole head is known good.
    CheckedRequest checked = check_request(request, config.path_normalization);
    if (checked.status) {
        respond_error(checked.status, checked.error, true);
        return HttpParserSink::kError;
    }
    exchange_.host = std::move(checked.host);
    exchange_.path = std::move(checked.path);
    exchange_.query = std::move(checked.query);
    exchange_.upstream_target = std::move(checked.target);
    exchange_.authority = std::move(checked.authority);
    // HTTP/1.0 may leave Host out; the target gets the address the client
    // reached, as a strict HTTP/1.1 server requires a Host.
    if (exchange_.authority.empty()) exchange_.authority = client_->local().to_string();
    int64_t retry_after_us = 0;
    if (const char* limited = client_limited(&retry_after_us)) {
        exchange_.error = limited;
        std::string retry_after =
            "Retry-After: " + std::to_string(std::max<int64_t>(1, (retry_after_us + 999'999) / 1'000'000)) + "\r\n";
        respond_local(429, "text/plain; charset=utf-8", error_body(429), refusal_ != nullptr, retry_after);
        return closing_ ? HttpParserSink::kError : HttpParserSink::kContinue;
    }
    uint64_t max_body = listener_->config.max_body_size;
    if (max_body && request.content_length && *request.content_length > max_body) {
        respond_error(413, "request body too large", true);
        return HttpParserSink::kError;
    }
    route();
    if (closing_) return HttpParserSink::kError;
    return HttpParserSink::kContinue;
}

void HttpSession::route() {
    const HttpHead& request = exchange_.request;
    std::string_view host = exchange_.host;

    thread_local std::vector<std::pair<std::string_view, std::string_view>> header_views;
    header_views.clear();
    for (const auto& [name, value] : request.headers) header_views.emplace_back(name, value);
    RequestView view;
    view.method = request.method;
    view.host = host;
    view.path = exchange_.path;
    view.query = exchange_.query;
    view.headers = &header_views;
    view.source = &exchange_.client;
    const conf::Action* action = listener_->rules->match(view);

    switch (action->kind) {
        case conf::Action::Kind::fixed_response: {
            const auto& fixed = action->fixed_response;
            respond_local(fixed.status, fixed.content_type, fixed.body, false);
            return;
        }
        case conf::Action::Kind::redirect: {
            RedirectRequest redirect_request;
            redirect_request.protocol = tls_ ? "https" : "http";
            redirect_request.host = host;
            std::string port = std::to_string(listener_->config.listen.port());
            redirect_request.port = port;
            redirect_request.path = exchange_.path;
            redirect_request.query = exchange_.query;
            std::string location = redirect_location(action->redirect, redirect_request);
            respond_local(action->redirect.status, "", "", false, "Location: " + location + "\r\n");
            return;
        }
        case conf::Action::Kind::forward:
            forward(action->forward);
            return;
    }
}

const conf::WeightedTargetGroup* HttpSession::choose_group(const conf::ForwardAction& action) {
    const auto& groups = action.target_groups;
    if (groups.size() == 1) return &groups.front();
    const StickyCookieSigner& signer = *snapshot_->runtime->sticky_signer;
    std::string scope;
    if (action.stickiness) {
        scope = "tg:" + listener_->config.name;
        for (const auto& g : groups) scope += ":" + g.name;
        if (auto cookie = find_cookie(exchange_.request, kGroupStickyCookie)) {
            if (auto name = signer.decode(*cookie, scope, unix_now())) {
                for (const auto& g : groups) {
                    if (g.name == *name && g.weight > 0) {
                        exchange_.set_cookies = set_cookie_header(
                            kGroupStickyCookie, signer.encode(scope, g.name, unix_now() + action.stickiness_duration.count() / 1000),
                            action.stickiness_duration.count() / 1000, tls_);
                        return &g;
                    }
                }
            }
        }
    }
    const conf::WeightedTargetGroup* choice = &pick_weighted_group(action);
    if (action.stickiness) {
        int64_t seconds = action.stickiness_duration.count() / 1000;
        exchange_.set_cookies =
            set_cookie_header(kGroupStickyCookie, signer.encode(scope, choice->name, unix_now() + seconds), seconds, tls_);
    }
    return choice;
}

void HttpSession::forward(const conf::ForwardAction& action) {
    const Runtime& runtime = *snapshot_->runtime;
    const conf::WeightedTargetGroup* choice = choose_group(action);
    exchange_.group = runtime.group(choice->name);
    if (!exchange_.group) {
        respond_error(503, "target group missing", false);
        return;
    }
    if (exchange_.group->cookie_sticky())
        exchange_.sticky = read_sticky_cookie(*exchange_.group, *runtime.sticky_signer, exchange_.request, unix_now());
    // lb's cookies are lb's business, whichever group issued them.
    for (const std::string& name : runtime.lb_cookie_names) remove_cookie(exchange_.request, name);
    if (!open_upstream()) respond_error(503, "no target available", false);
}

int HttpSession::on_request_body(std::string_view data) {
    if (closing_) return HttpParserSink::kError;
    exchange_.request_body_bytes += data.size();
    uint64_t max_body = listener_->config.max_body_size;
    if (max_body && exchange_.request_body_bytes > max_body) {
        if (exchange_.response_started) close_client(CloseMode::abort);
        else respond_error(413, "request body too large", true);
        return HttpParserSink::kError;
    }
    if (exchange_.discard_body || !upstream_) return HttpParserSink::kContinue;
    // Upload progress: the target is not late while we are still sending.
    worker_.loop().timers().schedule(upstream_timer_, exchange_.group->config.response_timeout.count());
    if (exchange_.request.chunked) write_chunk(*upstream_, data);
    else upstream_->write(data);
    if (exchange_.replayable) {
        if (exchange_.replay.size() + data.size() <= Stream::kHighWater) {
            if (exchange_.request.chunked) {
                char size_line[24];
                int n = snprintf(size_line, sizeof(size_line), "%zx\r\n", data.size());
                exchange_.replay.append(size_line, static_cast<size_t>(n));
                exchange_.replay.append(data);
                exchange_.replay.append("\r\n");
            } else {
                exchange_.replay.append(data);
            }
        } else {
            exchange_.replayable = false;
            exchange_.replay.clear();
        }
    }
    if (upstream_->output_high() && !client_paused_for_upstream_) {
        client_paused_for_upstream_ = true;
        client_->stop_reading();
        worker_.loop().timers().cancel(client_timer_);  // waiting on the target, not the client
    }
    return HttpParserSink::kContinue;
}

int HttpSession::on_request_complete() {
    if (closing_) return HttpParserSink::kError;
    exchange_.request_complete = true;
    worker_.loop().timers().cancel(client_timer_);
    if (upstream_ && !exchange_.discard_body && exchange_.request.chunked) {
        upstream_->write("0\r\n\r\n");
        if (exchange_.replayable) exchange_.replay.append("0\r\n\r\n");
    }
    if (exchange_.response_complete && !finish_scheduled_) {
        finish_scheduled_ = true;
        worker_.loop().defer([this] { finish_exchange(); });
    }
    // Hold pipelined requests until this one is answered.
    return HttpParserSink::kPause;
}

void HttpSession::on_client_timeout() {
    if (closing_) return;
    if (!exchange_.active) {
        if (in_request_bytes_) respond_error(408, "request header timeout", true);
        else close_client(CloseMode::graceful);  // idle keep-alive connection
        return;
    }
    if (!exchange_.request_complete) {
        if (!exchange_.response_started) respond_error(408, "request body timeout", true);
        else close_client(CloseMode::abort);
        return;
    }
    // The client stopped reading the response for idle_timeout.
    close_client(CloseMode::abort);
}

// ---------------------------------------------------------------- endings

// The target failed after the response began. What it sent is passed on,
// then the connection ends, and the response's framing (a Content-Length
// not reached, no last chunk) tells the client it was cut short. A body
// delimited by the close has no such sign: that connection is reset.
void HttpSession::cut_response(const char* why) {
    if (closing_) return;
    exchange_.error = why;
    log_exchange();
    if (exchange_.response_framing == BodyFraming::until_close) close_client(CloseMode::abort);
    else close_client(exchange_.request_complete ? CloseMode::graceful : CloseMode::linger);
}

void HttpSession::respond_local(int status, std::string_view content_type, std::string_view body, bool close,
                                std::string_view extra_headers) {
    if (exchange_.response_started) {
        close_client(CloseMode::abort);
        return;
    }
    exchange_.active = true;
    exchange_.local = true;
    exchange_.response_started = true;
    exchange_.response_complete = true;
    exchange_.status = status;
    exchange_.bytes_out = exchange_.head_method ? 0 : body.size();
    worker_.counters().responses_local.fetch_add(1, std::memory_order_relaxed);
    // A client waiting for 100-continue will not send the body: the
    // connection cannot carry another request.
    if (close || !exchange_.client_keep_alive || worker_.draining() || client_done() ||
        (!exchange_.request_complete && exchange_.expect_continue))
        exchange_.close_after = true;
    client_->write(make_local_response(status, content_type, body, exchange_.close_after, extra_headers,
                                       exchange_.head_method));
    if (exchange_.close_after) {
        // The graceful close flushes the answer, then drains what the client still sends.
        finish_exchange();
    } else if (exchange_.request_complete) {
        if (!finish_scheduled_) {
            finish_scheduled_ = true;
            worker_.loop().defer([this] { finish_exchange(); });
        }
    } else {
        exchange_.discard_body = true;
    }
}

// Over a client limit: the connection's own (refuse_first_request), or this
// client's request_rate, counted across workers by the listener's limiter.
const char* HttpSession::client_limited(int64_t* retry_after_us) {
    if (refusal_) {
        *retry_after_us = 1'000'000;
        return refusal_;
    }
    const conf::ClientRate& rate = listener_->config.client_limits.request_rate;
    if (!listener_->client_limiter || rate.per_second == 0) return nullptr;
    ListenerState& state = *listener_->state;
    auto verdict = listener_->client_limiter->admit(ClientLimiter::Rate::request, exchange_.client, rate.per_second,
                                                    rate.burst, monotonic_us(), retry_after_us);
    if (verdict == ClientLimiter::Verdict::table_full) state.client_limiter_full.fetch_add(1, std::memory_order_relaxed);
    if (verdict != ClientLimiter::Verdict::refused) return nullptr;
    state.client_limited_request_rate.fetch_add(1, std::memory_order_relaxed);
    worker_.log_client_limited(*listener_, exchange_.client, "request_rate");
    return "client over its request rate";
}

void HttpSession::respond_error(int status, const char* why, bool close) {
    if (closing_) return;
    exchange_.error = why;
    std::string body = error_body(status);
    respond_local(status, "text/plain; charset=utf-8", body, close);
}

void HttpSession::finish_exchange() {
    finish_scheduled_ = false;
    if (closing_) return;
    log_exchange();
    if (exchange_.close_after || client_done() || worker_.draining()) {
        // Part of the request may still be on its way (an error answered
        // before the body was read): linger so the answer is not reset away.
        bool unread = !exchange_.request_complete || in_request_bytes_ || !pending_input_.empty();
        close_client(unread && !client_eof_ ? CloseMode::linger : CloseMode::graceful);
        return;
    }
    start_next_request();
}

void HttpSession::start_next_request() {
    release_upstream(false);
    exchange_ = Exchange{};
    in_request_bytes_ = false;
    worker_.loop().timers().schedule(client_timer_, listener_->config.idle_timeout.count());
    request_parser_.resume();
    if (client_paused_for_upstream_) client_paused_for_upstream_ = false;
    client_->start_reading();
    if (!pending_input_.empty()) {
        // Parsed from a copy: pending_input_ keeps the bytes until the
        // parser says what is left, so an answer given during the parse (a
        // fixed response) does not take this for the client's last request.
        std::string input = pending_input_;
        parse_client(input);
    }
    // The client half-closed after pipelining: what is left of its input
    // can never become a complete request. Graceful, so the answers already
    // written still reach it.
    if (client_eof_ && !closing_ && (in_request_bytes_ || (exchange_.active && !exchange_.request_complete)))
        close_client(CloseMode::graceful);
}

void HttpSession::close_client(CloseMode mode) {
    if (closing_) return;
    closing_ = true;
    worker_.loop().timers().cancel(client_timer_);
    release_target();
    release_upstream(false);
    if (exchange_.active && !finish_scheduled_ && mode != CloseMode::graceful) log_exchange();
    Stream::close(std::move(client_), mode);
    retire();
}

void HttpSession::drain() {
    if (closing_) return;
    if (!exchange_.active && !in_request_bytes_ && pending_input_.empty()) {
        close_client(CloseMode::graceful);
        return;
    }
    exchange_.close_after = true;
}

void HttpSession::abort() { close_client(CloseMode::abort); }

void HttpSession::target_draining(const TargetState& target) {
    if (closing_ || last_target_ != &target) return;
    if (exchange_.active) {
        exchange_.close_after = true;
    } else if (!in_request_bytes_ && pending_input_.empty() && !finish_scheduled_) {
        close_client(CloseMode::graceful);  // idle keep-alive: nothing to finish
    }
}

void HttpSession::target_drained(const TargetState& target) {
    if (closing_ || !exchange_.active || exchange_.target.get() != &target || !upstream_) return;
    // Still waiting on the target when its deregistration delay ran out.
    if (exchange_.response_started) {
        cut_response("target deregistered mid-response");
        return;
    }
    release_target();
    release_upstream(false);
    respond_error(504, "target deregistered before it answered", true);
}

void HttpSession::refresh_snapshot() {
    const auto& current = worker_.snapshot();
    if (current == snapshot_) return;
    // A keep-alive connection follows the newest config from its next
    // request on, if its listener still exists there.
    if (const ListenerRuntime* listener = worker_.current_listener(*listener_)) {
        snapshot_ = current;
        listener_ = listener;
    }
}

void HttpSession::log_exchange() {
    if (!exchange_.active) return;
    AccessLogEntry entry;
    entry.listener = listener_->config.name;
    // A request that never got a parsed head is logged with the peer.
    std::string client_ip = exchange_.client.valid() ? exchange_.client.ip_string() : client_ip_;
    entry.client = client_ip;
    entry.client_port = exchange_.client.valid() ? exchange_.client.port() : client_port_;
    entry.method = exchange_.request.method;
    entry.host = exchange_.host;
    entry.url = exchange_.request.url;
    entry.protocol = exchange_.client_http10 ? "HTTP/1.0" : "HTTP/1.1";
    entry.status = exchange_.status;
    entry.bytes_in = exchange_.request_body_bytes;
    entry.bytes_out = exchange_.bytes_out;
    entry.duration_ms = worker_.loop().now_ms() - exchange_.start_ms;
    std::string target = exchange_.target && !exchange_.local ? exchange_.target->key : std::string();
    entry.target = target;
    entry.target_group = exchange_.group ? std::string_view(exchange_.group->config.name) : std::string_view();
    auto user_agent = exchange_.request.header("user-agent");
    entry.user_agent = user_agent.value_or("");
    entry.error = exchange_.error;
    worker_.access_log().record(entry);
    worker_.counters().count_response(exchange_.status);
    exchange_.active = false;
}

}  // namespace lb
