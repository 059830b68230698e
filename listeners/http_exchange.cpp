// HttpExchange's request half: routing, local answers, the request body on
// its way up, and the access log. The target's half (connecting, retrying,
// the response on its way down) is listeners/http_exchange_upstream.cpp.
#include "listeners/http_exchange.h"

#include "lb/http/chunk_writer.h"
#include "lb/http/cookies.h"
#include "lb/worker/request_hash.h"
#include "lb/worker/target_picker.h"
#include "listeners/redirect.h"

namespace lb {

HttpExchange::HttpExchange(ExchangeHost& host, ExchangeDownstream& downstream, const ListenerRuntime& listener,
                           std::shared_ptr<WorkerSnapshot> snapshot, const SocketAddress& peer, int64_t start_us)
    : host_(host),
      downstream_(downstream),
      listener_(&listener),
      snapshot_(std::move(snapshot)),
      peer_(peer),
      start_us_(start_us),
      response_parser_(HttpParser::Kind::response, &response_sink_, 256 * 1024),
      upstream_timer_([this] { on_upstream_timeout(); }) {}

HttpExchange::~HttpExchange() { abort(); }

void HttpExchange::start(ExchangeRequest request) {
    request_ = std::move(request);
    identify();
    uint64_t max_body = listener_->config.max_body_size;
    if (max_body && request_.head.content_length && *request_.head.content_length > max_body) {
        respond_error(413, "request body too large", true);
        return;
    }
    route();
}

void HttpExchange::refuse(ExchangeRequest request, int status, const char* why, bool close,
                          std::string_view extra_headers) {
    request_ = std::move(request);
    identify();
    reject(status, why, close, extra_headers);
}

void HttpExchange::reject(int status, const char* why, bool close, std::string_view extra_headers) {
    if (response_started()) {
        cut(why);
        return;
    }
    error_ = why;
    respond_local(status, "text/plain; charset=utf-8", error_body(status), close, extra_headers);
}

void HttpExchange::unread_request(std::string_view protocol, const tls::TlsSessionInfo* tls_info) {
    if (!request_.protocol.empty()) return;
    request_.protocol = protocol;
    request_.tls = tls_info != nullptr;
    request_.tls_info = tls_info;
}

void HttpExchange::route() {
    const HttpHead& head = request_.head;
    thread_local std::vector<std::pair<std::string_view, std::string_view>> header_views;
    header_views.clear();
    for (const auto& [name, value] : head.headers) header_views.emplace_back(name, value);
    RequestView view;
    view.method = head.method;
    view.host = request_.checked.host;
    view.path = request_.checked.path;
    view.query = request_.checked.query;
    view.headers = &header_views;
    view.source = &request_.client;
    const conf::Action* action = listener_->rules->match(view);
    action_ = action;

    switch (action->kind) {
        case conf::Action::Kind::fixed_response: {
            const auto& fixed = action->fixed_response;
            respond_action(fixed.status, fixed.content_type, fixed.body, std::string(), fixed.response_headers);
            return;
        }
        case conf::Action::Kind::redirect: {
            RedirectRequest redirect_request;
            redirect_request.protocol = request_.tls ? "https" : "http";
            redirect_request.host = request_.checked.host;
            std::string port = std::to_string(listener_->config.listen.port());
            redirect_request.port = port;
            redirect_request.path = request_.checked.path;
            redirect_request.query = request_.checked.query;
            std::string location = redirect_location(action->redirect, redirect_request);
            respond_action(action->redirect.status, "", "", "Location: " + location + "\r\n",
                           action->redirect.response_headers);
            return;
        }
        case conf::Action::Kind::forward:
            forward(action->forward);
            return;
    }
}

const conf::WeightedTargetGroup* HttpExchange::choose_group(const conf::ForwardAction& action) {
    const auto& groups = action.target_groups;
    if (groups.size() == 1) return &groups.front();
    const StickyCookieSigner& signer = *snapshot_->runtime->sticky_signer;
    std::string scope;
    int64_t seconds = action.stickiness_duration.count() / 1000;
    if (action.stickiness) {
        scope = "tg:" + listener_->config.name;
        for (const auto& g : groups) scope += ":" + g.name;
        if (auto cookie = find_cookie(request_.head, kGroupStickyCookie)) {
            if (auto name = signer.decode(*cookie, scope, unix_now())) {
                for (const auto& g : groups) {
                    if (g.name == *name && g.weight > 0) {
                        set_cookies_ = set_cookie_header(kGroupStickyCookie,
                                                         signer.encode(scope, g.name, unix_now() + seconds), seconds,
                                                         request_.tls);
                        return &g;
                    }
                }
            }
        }
    }
    const conf::WeightedTargetGroup* choice = &pick_weighted_group(action);
    if (action.stickiness) {
        set_cookies_ = set_cookie_header(kGroupStickyCookie, signer.encode(scope, choice->name, unix_now() + seconds),
                                         seconds, request_.tls);
    }
    return choice;
}

void HttpExchange::forward(const conf::ForwardAction& action) {
    const Runtime& runtime = *snapshot_->runtime;
    const conf::WeightedTargetGroup* choice = choose_group(action);
    group_ = runtime.group(choice->name);
    if (!group_) {
        respond_error(503, "target group missing", false);
        return;
    }
    if (group_->cookie_sticky())
        sticky_ = read_sticky_cookie(*group_, *runtime.sticky_signer, request_.head, unix_now());
    // lb's cookies are lb's business, whichever group issued them.
    for (const std::string& name : runtime.lb_cookie_names) remove_cookie(request_.head, name);
    attempts_ = std::make_unique<UpstreamAttempts>(
        host_.upstreams(), *snapshot_, *group_,
        request_hash(group_->config, request_.client, &request_.head, request_.checked.query), sticky_.target);
    if (!open_upstream()) respond_error(503, "no target available", false);
}

void HttpExchange::request_body(std::string_view data) {
    request_body_bytes_ += data.size();
    uint64_t max_body = listener_->config.max_body_size;
    if (max_body && request_body_bytes_ > max_body) {
        body_ = Body::discarded;
        if (response_started()) downstream_.abort_client();
        else reject(413, "request body too large", true);
        return;
    }
    if (body_ == Body::discarded || !upstream_) return;
    // Upload progress: the target is not late while we are still sending.
    schedule_upstream_timeout();
    bool chunked = request_.head.chunked;
    if (chunked) write_chunk(*upstream_, data);
    else upstream_->write(data);
    if (replayable_) {
        if (replay_.size() + data.size() <= Stream::kHighWater) {
            if (chunked) append_chunk(replay_, data);
            else replay_.append(data);
        } else {
            replayable_ = false;
            replay_.clear();
        }
    }
    if (upstream_->output_high() && !upstream_paused_) {
        upstream_paused_ = true;
        downstream_.pause_request_body();
    }
}

void HttpExchange::request_complete() {
    if (body_ == Body::discarded) return;
    body_ = Body::complete;
    if (upstream_ && request_.head.chunked) {
        upstream_->write("0\r\n\r\n");
        if (replayable_) replay_.append("0\r\n\r\n");
    }
}

void HttpExchange::respond_local(int status, std::string_view content_type, std::string_view body, bool close,
                                 std::string_view extra_headers) {
    release_target();
    release_upstream(false);
    local_ = true;
    phase_ = Phase::complete;
    status_ = status;
    bytes_out_ = request_.head.method == "HEAD" ? 0 : body.size();
    if (body_ == Body::receiving) body_ = Body::discarded;
    host_.counters().responses_local.fetch_add(1, std::memory_order_relaxed);
    std::string headers = request_id_line();
    headers.append(extra_headers);
    downstream_.local_response(status, content_type, body, headers, close);
}

void HttpExchange::respond_action(int status, std::string_view content_type, std::string_view body,
                                  std::string extra_headers, const conf::HeaderEdits& action_edits) {
    const conf::HeaderEdits& listener_edits = listener_->config.response_headers;
    if (!listener_edits.empty() || !action_edits.empty()) {
        HeaderVariables variables = header_variables();
        append_header_lines(extra_headers, listener_edits, variables);
        append_header_lines(extra_headers, action_edits, variables);
    }
    respond_local(status, content_type, body, false, extra_headers);
}

HeaderVariables HttpExchange::header_variables() {
    HeaderVariables v;
    // Views into strings that live as long as the exchange, or as this
    // call's caller (the client address text is kept in a thread buffer).
    thread_local std::string client_ip;
    client_ip = request_.client.ip_string();
    v.client_ip = client_ip;
    v.client_port = request_.client.port();
    v.host = request_.checked.host;
    v.scheme = request_.tls ? "https" : "http";
    v.server_port = listener_->config.listen.port();
    v.method = request_.head.method;
    v.request_uri = request_.head.url;
    v.request_id = request_id();
    v.listener = listener_->config.name;
    v.rule = action_ ? action_->rule_priority : 0;
    if (group_) v.target_group = group_->config.name;
    if (attempts_ && attempts_->target()) v.target = attempts_->target()->key;
    return v;
}

void HttpExchange::identify() {
    const conf::Listener& config = listener_->config;
    bool trusted = false;
    switch (config.request_id.trust) {
        case conf::RequestIdTrust::none: break;
        case conf::RequestIdTrust::all: trusted = true; break;
        case conf::RequestIdTrust::trusted_proxies:
            // The connection's peer, as X-Forwarded-For trusts it; behind a
            // PROXY header that peer was a trusted proxy by definition.
            trusted = request_.via_proxy_header || in_any(config.trusted_proxies, peer_);
            break;
    }
    identity_ = identify_request(request_.head, config.request_id, trusted, config.trace_context);
}

const std::string& HttpExchange::request_id() {
    // A request refused before its head parsed has not been identified.
    if (identity_.request_id.empty()) identity_.request_id = make_request_id();
    return identity_.request_id;
}

std::string HttpExchange::request_id_line() {
    const conf::RequestId& config = listener_->config.request_id;
    if (!config.enabled) return std::string();
    return config.header + ": " + request_id() + "\r\n";
}

void HttpExchange::respond_error(int status, const char* why, bool close) {
    error_ = why;
    respond_local(status, "text/plain; charset=utf-8", error_body(status), close);
}

void HttpExchange::cut(const char* why) {
    if (phase_ == Phase::cut) return;
    error_ = why;
    phase_ = Phase::cut;
    release_target();
    release_upstream(false);
    downstream_.response_cut(why);
}

void HttpExchange::abort() {
    release_target();
    release_upstream(false);
}

void HttpExchange::target_drained(const TargetState& target) {
    if (!upstream_ || this->target() != &target) return;
    // Still waiting on the target when its deregistration delay ran out.
    if (response_started()) {
        cut("target deregistered mid-response");
        return;
    }
    respond_error(504, "target deregistered before it answered", true);
}

int64_t HttpExchange::first_byte_after_us() const {
    // Only the answering try's first byte counts (open_upstream resets it
    // for a retry), and none when lb answered itself.
    return first_byte_us_ && !local_ ? first_byte_us_ - start_us_ : -1;
}

void HttpExchange::observe() {
    int64_t now = host_.now_us();
    uint64_t duration = static_cast<uint64_t>(now - start_us_);
    int64_t first_byte_after = first_byte_after_us();
    uint64_t first_byte = first_byte_after > 0 ? static_cast<uint64_t>(first_byte_after) : 0;
    auto observe_into = [&](HttpHistograms& h) {
        h.duration.observe(duration);
        if (first_byte) h.first_byte.observe(first_byte);
        h.request_size.observe(request_body_bytes_);
        h.response_size.observe(bytes_out_);
    };
    observe_into(listener_->state->http);
    // A request lb answered for its group (a 502 or 504 after the target
    // failed) counts in the group's duration, not its first byte.
    if (!group_) return;
    observe_into(group_->state->http);
    if (first_byte && attempts_ && attempts_->target()) attempts_->target()->response_time.observe(first_byte);
}

}  // namespace lb
