#include "listeners/http_session.h"

#include <algorithm>

#include "lb/base/log.h"
#include "lb/http/chunk_writer.h"
#include "lb/http/http_validation.h"
#include "listeners/http2_session.h"
#include "listeners/request_admission.h"
#include "listeners/tunnel.h"

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
      client_timer_([this] { on_client_timeout(); }) {}

HttpSession::~HttpSession() = default;

void HttpSession::start() {
    client_->set_handler(this);
    client_->start_reading();
    // A connection that never sends a request is idle, not slow.
    worker_.timers().schedule(client_timer_, listener_->config.idle_timeout.count());
}

// ---------------------------------------------------------------- client stream events

void HttpSession::on_stream_data(Stream&, std::string_view data) {
    if (closing_) return;
    if (!protocol_chosen_) {
        if (choose_http2(data)) return;
        if (!preface_seen_.empty()) {
            std::string seen = std::move(preface_seen_);
            seen.append(data);
            parse_client(seen);
            return;
        }
    }
    bool busy = exchange_ && framing_.request_complete;
    if (busy || !pending_input_.empty() || finish_scheduled_) {
        // Pipelined bytes: keep them until the current exchange has ended.
        pending_input_.append(data);
        if (pending_input_.size() > kMaxPendingInput) client_->stop_reading();
        return;
    }
    parse_client(data);
}

void HttpSession::on_stream_eof(Stream&) {
    client_eof_ = true;
    if (!exchange_) {
        if (!in_request_bytes_ && pending_input_.empty()) close_client(CloseMode::graceful);
        else close_client(CloseMode::abort);  // half a request, then gone
        return;
    }
    if (!framing_.request_complete) {
        // The client stopped in the middle of its request body.
        close_client(CloseMode::abort);
        return;
    }
    // Request sent, then the client half-closed: answer it and any complete
    // requests it pipelined before, then close.
    if (pending_input_.empty()) framing_.close_after = true;
}

void HttpSession::on_stream_error(Stream&, int) { close_client(CloseMode::abort); }

// Download back-pressure released.
void HttpSession::on_stream_drained(Stream&) {
    if (!exchange_ || exchange_->phase() != HttpExchange::Phase::streaming) return;
    worker_.timers().cancel(client_timer_);
    exchange_->resume_response();
}

bool HttpSession::choose_http2(std::string_view data) {
    const conf::Http2Mode mode = listener_->config.http2.mode;
    std::string seen;  // h2c: the connection's bytes so far
    if (tls_) {
        if (mode != conf::Http2Mode::on || client_->negotiated_protocol() != "h2") {
            protocol_chosen_ = true;
            return false;
        }
    } else {
        if (mode != conf::Http2Mode::prior_knowledge) {
            protocol_chosen_ = true;
            return false;
        }
        std::string_view preface = Http2Session::kPreface;
        seen = preface_seen_;
        seen.append(data);
        size_t n = std::min(seen.size(), preface.size());
        if (seen.compare(0, n, preface, 0, n) != 0) {
            protocol_chosen_ = true;  // HTTP/1.1; the caller parses preface_seen_ first
            return false;
        }
        if (seen.size() < preface.size()) {
            preface_seen_ = std::move(seen);  // perhaps the preface: wait for the rest
            return true;
        }
        preface_seen_.clear();
        data = seen;
    }
    protocol_chosen_ = true;
    closing_ = true;
    worker_.timers().cancel(client_timer_);
    auto* session = new Http2Session(worker_, *listener_, std::move(client_), std::move(ticket_), tls_);
    if (refusal_) session->refuse_first_request(refusal_);
    session->start(data);
    retire();
    return true;
}

// ---------------------------------------------------------------- requests

void HttpSession::parse_client(std::string_view data) {
    if (data.empty()) return;
    if (!exchange_ && !in_request_bytes_) {
        in_request_bytes_ = true;
        framing_.start_us = worker_.now_us();  // a request's time counts from its first byte
        worker_.timers().schedule(client_timer_, listener_->config.header_timeout.count());
    } else if (exchange_ && !framing_.request_complete) {
        worker_.timers().schedule(client_timer_, listener_->config.idle_timeout.count());
    }
    if (!request_parser_)
        request_parser_ = std::make_unique<HttpParser>(HttpParser::Kind::request, &request_sink_,
                                                       listener_->config.max_header_size);
    auto outcome = request_parser_->feed(data);
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
            if (exchange_ && exchange_->response_started()) {
                close_client(CloseMode::abort);  // trailers too large after the answer began
                return;
            }
            reject(431, "request header too large", true);
            return;
        case HttpParser::Status::error:
            if (exchange_ && exchange_->response_started()) {
                // A broken body after the answer began: nothing sane to send.
                close_client(CloseMode::abort);
                return;
            }
            LB_LOG_DEBUG("bad request from %s: %s", client_->peer().ip_string().c_str(),
                         request_parser_->error_reason());
            reject(400, "malformed request", true);
            return;
    }
}

HttpExchange& HttpSession::begin_exchange() {
    if (!exchange_) {
        int64_t start_us = framing_.start_us ? framing_.start_us : worker_.now_us();
        exchange_ = std::make_unique<HttpExchange>(static_cast<ExchangeHost&>(worker_),
                                                   static_cast<ExchangeDownstream&>(*this), *listener_, snapshot_,
                                                   client_->peer(), start_us);
    }
    return *exchange_;
}

void HttpSession::reject(int status, const char* why, bool close, std::string_view extra_headers) {
    if (closing_) return;
    HttpExchange& exchange = begin_exchange();
    if (tls_ && !tls_info_) tls_info_ = tls::describe_session(*client_);
    exchange.unread_request("HTTP/1.1", tls_ ? &*tls_info_ : nullptr);
    exchange.reject(status, why, close, extra_headers);
}

int HttpSession::on_request_head(HttpHead& head) {
    worker_.timers().cancel(client_timer_);
    in_request_bytes_ = false;
    refresh_snapshot();
    int64_t first_byte_us = framing_.start_us;
    framing_ = Framing{};
    framing_.start_us = first_byte_us;
    framing_.head_method = head.method == "HEAD";
    framing_.keep_alive = head.keep_alive;
    framing_.http10 = !head.is_http11_or_later();
    framing_.upgrade = head.upgrade;
    framing_.expect_continue = head.has_token("expect", "100-continue");
    begin_exchange();
    worker_.counters().requests.fetch_add(1, std::memory_order_relaxed);
    // While the body arrives, the client's silence counts as idleness.
    worker_.timers().schedule(client_timer_, listener_->config.idle_timeout.count());

    // Nothing is dispatched until the whole head is known good.
    const conf::Listener& config = listener_->config;
    ExchangeRequest request;
    request.checked = check_request(head, config.path_normalization);
    // HTTP/1.0 may leave Host out; the target gets the address the client
    // reached, as a strict HTTP/1.1 server requires a Host.
    if (request.checked.authority.empty()) request.checked.authority = client_->local().to_string();
    request.protocol = framing_.http10 ? "HTTP/1.0" : "HTTP/1.1";
    request.tls = tls_;
    request.via_proxy_header = ticket_.via_proxy_header();
    if (tls_) {
        if (!tls_info_) tls_info_ = tls::describe_session(*client_);
        request.tls_info = &*tls_info_;
    }
    request.head = std::move(head);
    if (admit_request(worker_, *listener_, *exchange_, std::move(request), client_->peer(), refusal_, true) ==
        Admission::refused)
        return HttpParserSink::kError;
    return closing_ ? HttpParserSink::kError : HttpParserSink::kContinue;
}

int HttpSession::on_request_body(std::string_view data) {
    if (closing_) return HttpParserSink::kError;
    exchange_->request_body(data);
    return closing_ ? HttpParserSink::kError : HttpParserSink::kContinue;
}

int HttpSession::on_request_complete() {
    if (closing_) return HttpParserSink::kError;
    framing_.request_complete = true;
    worker_.timers().cancel(client_timer_);
    exchange_->request_complete();
    if (exchange_->answered()) schedule_finish();
    // Hold pipelined requests until this one is answered.
    return HttpParserSink::kPause;
}

void HttpSession::on_client_timeout() {
    if (closing_) return;
    if (!exchange_) {
        if (in_request_bytes_) reject(408, "request header timeout", true);
        else close_client(CloseMode::graceful);  // idle keep-alive connection
        return;
    }
    if (!framing_.request_complete && !exchange_->response_started()) {
        reject(408, "request body timeout", true);
        return;
    }
    // The client stopped sending its body after the answer began, or
    // stopped reading the response, for idle_timeout.
    close_client(CloseMode::abort);
}

// ---------------------------------------------------------------- answers (ExchangeDownstream)

void HttpSession::local_response(int status, std::string_view content_type, std::string_view body,
                                 std::string_view extra_headers, bool close) {
    if (closing_) return;
    // A client waiting for 100-continue will not send the body: the
    // connection cannot carry another request.
    if (close || !framing_.keep_alive || worker_.draining() || client_done() ||
        (!framing_.request_complete && framing_.expect_continue))
        framing_.close_after = true;
    framing_.kept_open = !framing_.close_after;
    client_->write(make_local_response(status, content_type, body, framing_.close_after, extra_headers,
                                       framing_.head_method));
    if (framing_.close_after) {
        // The graceful close flushes the answer, then drains what the client still sends.
        finish_exchange();
    } else if (framing_.request_complete) {
        schedule_finish();
    }
    // Otherwise the rest of the body is read and dropped, then the next
    // request starts (on_request_complete).
}

void HttpSession::interim_response(const HttpHead& response) {
    if (response.status == 100) {
        if (framing_.expect_continue && !framing_.continue_sent) {
            framing_.continue_sent = true;
            client_->write("HTTP/1.1 100 Continue\r\n\r\n");
        }
    } else if (!framing_.http10) {
        client_->write(serialize_client_response(response, BodyFraming::none, std::nullopt, false, false));
    }
    // The target moved: the client's clock starts again (a 100 Continue is
    // its cue to send the body).
    if (framing_.request_complete) worker_.timers().cancel(client_timer_);
    else worker_.timers().schedule(client_timer_, listener_->config.idle_timeout.count());
}

void HttpSession::response_head(const HttpHead& response, const ResponsePlan& plan, std::string_view set_cookies,
                                bool target_draining) {
    framing_.response = plan.framing;
    // An upgrade the target declined leaves the client's parser mid-upgrade:
    // end the connection after this answer rather than guess.
    // A deregistered target's clients are moved on: this connection ends
    // with this answer and the client reconnects to whoever is in rotation.
    if (!framing_.keep_alive || worker_.draining() || plan.framing == BodyFraming::until_close || client_done() ||
        framing_.upgrade || target_draining ||
        (!framing_.request_complete && framing_.expect_continue && !framing_.continue_sent))
        framing_.close_after = true;
    framing_.kept_open = !framing_.close_after;
    client_->write(serialize_client_response(response, plan.framing, plan.content_length, framing_.close_after,
                                             framing_.http10, set_cookies));
}

void HttpSession::response_body(std::string_view data) {
    if (framing_.response == BodyFraming::chunked) write_chunk(*client_, data);
    else client_->write(data);
    // Download back-pressure: the target waits for the client now, so the
    // clock that runs is the client's.
    if (client_->output_high()) worker_.timers().schedule(client_timer_, listener_->config.idle_timeout.count());
}

int HttpSession::body_splice_sink() {
    // A Content-Length body goes out as it came; chunks would need framing.
    return framing_.response == BodyFraming::content_length && !closing_ ? client_->splice_sink_fd() : -1;
}

bool HttpSession::body_output_flushed() {
    if (client_->pending_output() == 0) return true;
    client_->notify_when_flushed();  // on_stream_drained() -> resume_response()
    return false;
}

void HttpSession::response_complete() {
    if (framing_.request_complete) worker_.timers().cancel(client_timer_);
    else worker_.timers().schedule(client_timer_, listener_->config.idle_timeout.count());
    if (framing_.response == BodyFraming::chunked) client_->write("0\r\n\r\n");
    // Answered before the whole request arrived (e.g. 401 to an upload):
    // the rest of the body is read and dropped unless the connection ends.
    if (framing_.request_complete || framing_.close_after) schedule_finish();
}

// The target failed after the response began. What it sent is passed on,
// then the connection ends, and the response's framing (a Content-Length
// not reached, no last chunk) tells the client it was cut short. A body
// delimited by the close has no such sign: that connection is reset.
void HttpSession::response_cut(const char*) {
    if (closing_) return;
    exchange_->log();
    if (framing_.response == BodyFraming::until_close) close_client(CloseMode::abort);
    else close_client(framing_.request_complete ? CloseMode::graceful : CloseMode::linger);
}

void HttpSession::pause_request_body() {
    if (client_paused_for_upstream_) return;
    client_paused_for_upstream_ = true;
    client_->stop_reading();
    worker_.timers().cancel(client_timer_);  // waiting on the target, not the client
}

void HttpSession::resume_request_body() {
    if (!client_paused_for_upstream_ || !client_) return;
    client_paused_for_upstream_ = false;
    client_->start_reading();
    worker_.timers().schedule(client_timer_, listener_->config.idle_timeout.count());
}

void HttpSession::upgraded(const HttpHead& response, std::string_view set_cookies, std::unique_ptr<Stream> upstream,
                           std::string_view upstream_rest, std::shared_ptr<TargetState> target) {
    worker_.timers().cancel(client_timer_);
    client_->write(serialize_client_response(response, BodyFraming::none, std::nullopt, false, false, set_cookies));
    exchange_->log();
    if (!upstream_rest.empty()) client_->write(upstream_rest);
    if (!pending_input_.empty()) upstream->write(pending_input_);
    closing_ = true;
    auto* tunnel = new TunnelSession(worker_, listener_->config.name, std::move(client_), std::move(upstream),
                                     std::move(ticket_), std::move(target),
                                     listener_->config.tunnel_idle_timeout.count());
    tunnel->start();
    retire();
}

// ---------------------------------------------------------------- endings

void HttpSession::schedule_finish() {
    if (finish_scheduled_) return;
    finish_scheduled_ = true;
    worker_.loop().defer([this] { finish_exchange(); });
}

void HttpSession::finish_exchange() {
    finish_scheduled_ = false;
    if (closing_) return;
    exchange_->log();
    // A binary upgrade's drain began while this answer was on its way, so
    // its head said keep-alive and the client may be sending its next
    // request now: that one is answered (with Connection: close) rather
    // than the connection closed under it.
    bool answer_once_more = worker_.keeps_idle_connections() && framing_.kept_open && framing_.request_complete &&
                            !client_done() && !in_request_bytes_;
    if (!answer_once_more && (framing_.close_after || client_done() || worker_.draining())) {
        // Part of the request may still be on its way (an error answered
        // before the body was read): linger so the answer is not reset away.
        bool unread = !framing_.request_complete || in_request_bytes_ || !pending_input_.empty();
        close_client(unread && !client_eof_ ? CloseMode::linger : CloseMode::graceful);
        return;
    }
    start_next_request();
}

void HttpSession::start_next_request() {
    if (exchange_->target()) last_target_ = exchange_->target();
    exchange_.reset();
    framing_ = Framing{};
    in_request_bytes_ = false;
    worker_.timers().schedule(client_timer_, listener_->config.idle_timeout.count());
    request_parser_.reset();  // paused at the last request's end; the next gets a new one
    client_paused_for_upstream_ = false;
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
    if (client_eof_ && !closing_ && (in_request_bytes_ || (exchange_ && !framing_.request_complete)))
        close_client(CloseMode::graceful);
}

void HttpSession::close_client(CloseMode mode) {
    if (closing_) return;
    closing_ = true;
    worker_.timers().cancel(client_timer_);
    if (exchange_) {
        exchange_->abort();
        if (!finish_scheduled_ && mode != CloseMode::graceful) exchange_->log();
    }
    Stream::close(std::move(client_), mode);
    retire();
}

void HttpSession::drain() {
    if (closing_) return;
    if (!exchange_ && !in_request_bytes_ && pending_input_.empty() && !worker_.keeps_idle_connections()) {
        close_client(CloseMode::graceful);
        return;
    }
    framing_.close_after = true;
}

void HttpSession::abort() { close_client(CloseMode::abort); }

void HttpSession::target_draining(const TargetState& target) {
    if (closing_) return;
    const TargetState* current = exchange_ && exchange_->target() ? exchange_->target() : last_target_;
    if (current != &target) return;
    if (exchange_) {
        framing_.close_after = true;
    } else if (!in_request_bytes_ && pending_input_.empty() && !finish_scheduled_) {
        close_client(CloseMode::graceful);  // idle keep-alive: nothing to finish
    }
}

void HttpSession::target_drained(const TargetState& target) {
    if (!closing_ && exchange_) exchange_->target_drained(target);
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

}  // namespace lb
