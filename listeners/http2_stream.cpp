#include "listeners/http2_stream.h"

#include <nghttp2/nghttp2.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/uio.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <vector>

#include "lb/base/log.h"
#include "lb/base/thread_random.h"
#include "lb/routing/wildcard.h"
#include "listeners/http2_session.h"
#include "listeners/request_admission.h"

namespace lb {

namespace {

ssize_t read_response_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                           nghttp2_data_source* source, void*) {
    bool eof = false;
    long n = static_cast<Http2Stream*>(source->ptr)->read_response(buf, length, &eof);
    if (eof) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return n;
}

// Header fields for nghttp2, with the lower-cased names kept alive until
// the submit call has copied them.
class FieldList {
public:
    void add(std::string_view name, std::string_view value) {
        std::string& lowered = names_.emplace_back(name);
        for (char& c : lowered) c = ascii_lower(c);
        values_.emplace_back(value);
    }
    // "Name: value\r\n" lines, as ExchangeDownstream hands them over.
    void add_lines(std::string_view lines) {
        while (!lines.empty()) {
            size_t end = lines.find("\r\n");
            std::string_view line = lines.substr(0, end);
            lines.remove_prefix(end == std::string_view::npos ? lines.size() : end + 2);
            size_t colon = line.find(':');
            if (colon == std::string_view::npos) continue;
            add(line.substr(0, colon), trim_spaces(line.substr(colon + 1)));
        }
    }
    std::vector<nghttp2_nv> nv(std::string_view status) {
        status_ = status;
        std::vector<nghttp2_nv> out;
        out.reserve(names_.size() + 1);
        out.push_back(make(":status", status_));
        for (size_t i = 0; i < names_.size(); ++i) out.push_back(make(names_[i], values_[i]));
        return out;
    }

private:
    static nghttp2_nv make(std::string_view name, std::string_view value) {
        return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                NGHTTP2_NV_FLAG_NONE};
    }
    std::vector<std::string> names_;
    std::vector<std::string> values_;
    std::string status_;
};

// A Sec-WebSocket-Key for the target's handshake: 16 random bytes, base64.
std::string websocket_key() {
    unsigned char nonce[16];
    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
        for (auto& byte : nonce) byte = static_cast<unsigned char>(random_below(256));
    }
    unsigned char encoded[25];
    int length = EVP_EncodeBlock(encoded, nonce, sizeof(nonce));
    return std::string(reinterpret_cast<char*>(encoded), static_cast<size_t>(length));
}

}  // namespace

Http2Stream::Http2Stream(Http2Session& session, int32_t id)
    : session_(session), id_(id), start_us_(session.worker().now_us()), timer_([this] { on_timeout(); }) {
    session_.worker().timers().schedule(timer_, session_.listener().config.header_timeout.count());
}

Http2Stream::~Http2Stream() {
    session_.worker().timers().cancel(timer_);
    if (tunnel_) {
        bool clean = request_complete_ && answered();
        Stream::close(std::move(tunnel_), clean ? CloseMode::graceful : CloseMode::abort);
        tunnel_target_->active_connections.fetch_sub(1, std::memory_order_relaxed);
    }
    if (exchange_) {
        exchange_->abort();
        exchange_->log();
    }
}

// ---------------------------------------------------------------- the request

bool Http2Stream::header(std::string_view name, std::string_view value) {
    // RFC 9113 §6.5.2's accounting: each field costs its length plus 32.
    header_bytes_ += name.size() + value.size() + 32;
    uint64_t limit = session_.listener().config.max_header_size;
    // Up to 4x the limit the head is read through and answered 431; past
    // that nobody is sending a real request.
    if (header_bytes_ > 4 * limit) return false;
    if (head_done_) return true;  // trailers: the HTTP/1.1 target gets none
    if (header_bytes_ > limit) header_too_large_ = true;
    if (header_too_large_) return true;
    if (name.starts_with(':')) {
        if (name == ":method") head_.method = value;
        else if (name == ":path") head_.url = value;
        else if (name == ":authority") authority_ = value;
        else if (name == ":protocol") protocol_ = value;
        return true;  // :scheme is the listener's
    }
    if (name == "cookie") {
        // Split into fields for compression; one line again for HTTP/1.1.
        if (!cookies_.empty()) cookies_.append("; ");
        cookies_.append(value);
        return true;
    }
    head_.headers.emplace_back(name, value);
    return true;
}

void Http2Stream::head_complete(bool end_stream) {
    head_done_ = true;
    Worker& worker = session_.worker();
    const ListenerRuntime& listener = session_.listener();
    const conf::Listener& config = listener.config;
    worker.counters().requests.fetch_add(1, std::memory_order_relaxed);
    worker.timers().schedule(timer_, config.idle_timeout.count());
    exchange_.emplace(static_cast<ExchangeHost&>(worker), static_cast<ExchangeDownstream&>(*this), listener,
                      session_.snapshot(), session_.client().peer(), start_us_);
    if (end_stream) request_complete_ = true;
    head_request_ = head_.method == "HEAD";

    // The head as an HTTP/1.1 target takes it.
    head_.http_major = 1;
    head_.http_minor = 1;
    if (!authority_.empty()) {
        std::erase_if(head_.headers, [](const auto& field) { return field.first == "host"; });
        head_.headers.emplace_back("host", authority_);
    }
    if (!cookies_.empty()) head_.headers.emplace_back("cookie", cookies_);
    if (auto length = head_.header("content-length")) {
        uint64_t value = 0;
        auto [end, error] = std::from_chars(length->data(), length->data() + length->size(), value);
        if (error == std::errc() && end == length->data() + length->size()) head_.content_length = value;
    }
    // A body of unknown length reaches the target chunked.
    head_.chunked = !end_stream && !head_.content_length;
    if (head_.method == "CONNECT" && protocol_ == "websocket") {
        // RFC 8441 §5: the HTTP/1.1 handshake the target expects.
        websocket_ = true;
        head_.method = "GET";
        head_.upgrade = true;
        head_.chunked = false;
        head_.headers.emplace_back("upgrade", "websocket");  // the serializer adds Connection
        head_.headers.emplace_back("sec-websocket-key", websocket_key());
    }

    if (header_too_large_) {
        exchange_->unread_request("HTTP/2.0", session_.tls_info());
        exchange_->reject(431, "request header too large", false);
        return;
    }
    ExchangeRequest request;
    request.checked = check_request(head_, config.path_normalization);
    if (request.checked.authority.empty()) request.checked.authority = session_.client().local().to_string();
    request.protocol = "HTTP/2.0";
    request.tls = session_.tls();
    request.via_proxy_header = session_.via_proxy_header();
    request.tls_info = session_.tls_info();
    request.head = std::move(head_);
    if (admit_request(worker, listener, *exchange_, std::move(request), session_.client().peer(),
                      session_.take_refusal(), false) != Admission::started)
        return;
    // A WebSocket's request has no body: its DATA is the tunnel's, and
    // until the target answers the clock is the exchange's.
    if (websocket_) session_.worker().timers().cancel(timer_);
    if (request_complete_ || websocket_) exchange_->request_complete();
}

void Http2Stream::request_data(std::string_view data) {
    if (tunnel_) {
        arm_timer();
        tunnel_->write(data);
        nghttp2_session_consume_connection(session_.h2(), data.size());
        // The stream's window reopens once the target's connection drains.
        if (tunnel_->output_high()) unacknowledged_ += data.size();
        else nghttp2_session_consume_stream(session_.h2(), id_, data.size());
        return;
    }
    if (websocket_ && exchange_ && !request_complete_) {
        // Sent before the 200 (RFC 8441 asks clients to wait): kept for
        // the tunnel, its stream window held meanwhile.
        early_.append(data);
        nghttp2_session_consume_connection(session_.h2(), data.size());
        unacknowledged_ += data.size();
        return;
    }
    if (!exchange_ || request_complete_) {
        nghttp2_session_consume(session_.h2(), id_, data.size());
        return;
    }
    if (!upload_paused_) arm_timer();
    exchange_->request_body(data);
    nghttp2_session_consume_connection(session_.h2(), data.size());
    // Paused by that very write: this stream's window stays shut.
    if (upload_paused_) unacknowledged_ += data.size();
    else nghttp2_session_consume_stream(session_.h2(), id_, data.size());
}

void Http2Stream::request_end() {
    if (request_complete_ || !exchange_) return;
    request_complete_ = true;
    if (tunnel_) {
        tunnel_->shutdown_write();
        return;
    }
    if (websocket_) return;  // passed on as FIN once the tunnel is there
    // Now waiting on the target, whose clock is the exchange's.
    if (!response_submitted_) session_.worker().timers().cancel(timer_);
    exchange_->request_complete();
}

void Http2Stream::pause_request_body() {
    if (upload_paused_) return;
    upload_paused_ = true;
    session_.worker().timers().cancel(timer_);  // waiting on the target, not the client
}

void Http2Stream::resume_request_body() {
    if (!upload_paused_) return;
    upload_paused_ = false;
    session_.worker().timers().schedule(timer_, session_.listener().config.idle_timeout.count());
    acknowledge();
}

void Http2Stream::acknowledge() {
    if (!unacknowledged_) return;
    nghttp2_session_consume_stream(session_.h2(), id_, unacknowledged_);
    unacknowledged_ = 0;
    session_.schedule_flush();
}

// ---------------------------------------------------------------- the answer

void Http2Stream::submit_head(int status, const HttpHead* response, std::string_view extra_lines, bool has_body,
                              std::optional<uint64_t> content_length) {
    FieldList fields;
    if (response) {
        for (const auto& [name, value] : response->headers) {
            // content-length is the plan's: a 204 or 304 must not carry one.
            if (is_hop_by_hop(*response, name) || iequals(name, "content-length")) continue;
            fields.add(name, value);
        }
    }
    if (content_length) fields.add("content-length", std::to_string(*content_length));
    fields.add_lines(extra_lines);
    auto nv = fields.nv(std::to_string(status));
    nghttp2_data_provider provider{};
    provider.source.ptr = this;
    provider.read_callback = read_response_body;
    response_submitted_ = true;
    int rv = nghttp2_submit_response(session_.h2(), id_, nv.data(), nv.size(), has_body ? &provider : nullptr);
    if (rv != 0) {
        LB_LOG_DEBUG("h2 stream %d: cannot submit the response: %s", id_, nghttp2_strerror(rv));
        reset(NGHTTP2_INTERNAL_ERROR);
        return;
    }
    if (!has_body) response_done_ = true;
    wait_on_client();
    session_.schedule_flush();
}

void Http2Stream::local_response(int status, std::string_view content_type, std::string_view body,
                                 std::string_view extra_headers, bool) {
    bool has_body = !body.empty() && !head_request_;
    std::string lines = "content-type: " + std::string(content_type) + "\r\n" + std::string(extra_headers);
    if (has_body) response_.append(body);
    response_done_ = true;
    submit_head(status, nullptr, lines, has_body, body.size());
}

void Http2Stream::interim_response(const HttpHead& response) {
    FieldList fields;
    for (const auto& [name, value] : response.headers)  // a 103's Link fields, say
        if (!is_hop_by_hop(response, name)) fields.add(name, value);
    auto nv = fields.nv(std::to_string(response.status));
    nghttp2_submit_headers(session_.h2(), NGHTTP2_FLAG_NONE, id_, nullptr, nv.data(), nv.size(), nullptr);
    session_.schedule_flush();
}

void Http2Stream::response_head(const HttpHead& response, const ResponsePlan& plan, std::string_view set_cookies,
                                bool) {
    submit_head(response.status, &response, set_cookies, plan.framing != BodyFraming::none, plan.content_length);
}

void Http2Stream::response_body(std::string_view data) {
    if (reset_sent_) return;
    response_.append(data);
    if (!timer_.armed()) arm_timer();  // now the client has to take it
    if (response_.size() >= kHighWater) maybe_paused_ = true;
    if (response_deferred_) {
        response_deferred_ = false;
        nghttp2_session_resume_data(session_.h2(), id_);
    }
    session_.schedule_flush();
}

bool Http2Stream::response_blocked() const {
    if (response_.size() < kHighWater && session_.client_writable()) return false;
    maybe_paused_ = true;
    return true;
}

void Http2Stream::response_complete() {
    response_done_ = true;
    if (response_deferred_) {
        response_deferred_ = false;
        nghttp2_session_resume_data(session_.h2(), id_);
    }
    session_.schedule_flush();
}

void Http2Stream::response_cut(const char*) { reset(NGHTTP2_INTERNAL_ERROR); }

// The client broke its request after the answer began (a body over
// max_body_size): only this stream ends.
void Http2Stream::abort_client() { reset(NGHTTP2_CANCEL); }

void Http2Stream::upgraded(const HttpHead& response, std::string_view set_cookies, std::unique_ptr<Stream> upstream,
                           std::string_view upstream_rest, std::shared_ptr<TargetState> target) {
    if (!websocket_) {
        // Nothing but an extended CONNECT asks to upgrade (nghttp2 refuses
        // the HTTP/1.1 fields): a 101 here is the target's error.
        Stream::close(std::move(upstream), CloseMode::abort);
        reset(NGHTTP2_INTERNAL_ERROR);
        return;
    }
    tunnel_ = std::move(upstream);
    tunnel_target_ = std::move(target);
    tunnel_target_->active_connections.fetch_add(1, std::memory_order_relaxed);
    tunnel_->set_handler(this);
    // The 101's fields but those of HTTP/1.1's handshake.
    HttpHead head = response;
    std::erase_if(head.headers, [](const auto& field) { return iequals(field.first, "sec-websocket-accept"); });
    submit_head(200, &head, set_cookies, true, std::nullopt);
    if (!upstream_rest.empty()) response_.append(upstream_rest);
    if (!early_.empty()) {
        tunnel_->write(early_);
        early_.clear();
        if (!tunnel_->output_high()) acknowledge();
    }
    if (request_complete_) tunnel_->shutdown_write();
    tunnel_->start_reading();
    exchange_->log();
    arm_timer();
}

// ---------------------------------------------------------------- the tunnel

void Http2Stream::on_stream_data(Stream&, std::string_view data) {
    arm_timer();
    response_body(data);
    if (response_.size() >= kHighWater || !session_.client_writable()) {
        maybe_paused_ = true;
        tunnel_->stop_reading();
    }
}

void Http2Stream::on_stream_eof(Stream&) { response_complete(); }

void Http2Stream::on_stream_error(Stream&, int) { reset(NGHTTP2_CANCEL); }

void Http2Stream::on_stream_drained(Stream&) { acknowledge(); }

void Http2Stream::wait_on_client() {
    // Waiting on the client: answer bytes it has not taken, an upload it
    // has not finished (unless lb paused it), a tunnel. A target that is
    // silent mid-answer is the exchange's response_timeout, not this.
    bool waiting = tunnel_ || !response_.empty() || (!request_complete_ && !upload_paused_ && !websocket_);
    if (waiting) arm_timer();
    else session_.worker().timers().cancel(timer_);
}

void Http2Stream::arm_timer() {
    const conf::Listener& config = session_.listener().config;
    session_.worker().timers().schedule(
        timer_, (tunnel_ ? config.tunnel_idle_timeout : config.idle_timeout).count());
}

long Http2Stream::read_response(uint8_t* out, size_t length, bool* eof) {
    size_t copied = 0;
    iovec iov[8];
    int count = response_.gather(iov, 8);
    for (int i = 0; i < count && copied < length; ++i) {
        size_t n = std::min(iov[i].iov_len, length - copied);
        std::memcpy(out + copied, iov[i].iov_base, n);
        copied += n;
    }
    response_.consume(copied);
    *eof = response_done_ && response_.empty();
    if (copied == 0 && !*eof) {
        response_deferred_ = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    if (copied) wait_on_client();
    return static_cast<long>(copied);
}

void Http2Stream::maybe_resume_response() {
    if (!maybe_paused_ || response_.size() > kLowWater || !session_.client_writable()) return;
    maybe_paused_ = false;
    if (tunnel_) tunnel_->start_reading();
    else if (exchange_) exchange_->resume_response();
}

void Http2Stream::response_sent() {
    if (!tunnel_) session_.worker().timers().cancel(timer_);  // a tunnel keeps tunnel_idle_timeout
    // RFC 9113 §8.1: an answer before the whole request may end the
    // request's side with NO_ERROR; the client stops sending. (A tunnel's
    // client may still send after the target's FIN.)
    if (!request_complete_ && !tunnel_) reset(NGHTTP2_NO_ERROR);
}

bool Http2Stream::answered() const { return response_done_ && response_.empty(); }

void Http2Stream::target_drained(const TargetState& target) {
    if (tunnel_target_.get() == &target) reset(NGHTTP2_CANCEL);
    else if (exchange_) exchange_->target_drained(target);
}

void Http2Stream::reset(uint32_t code) {
    if (reset_sent_) return;
    reset_sent_ = true;
    nghttp2_submit_rst_stream(session_.h2(), NGHTTP2_FLAG_NONE, id_, code);
    session_.schedule_flush();
}

void Http2Stream::on_timeout() {
    if (!head_done_ || response_submitted_ || tunnel_) {
        // A head that never completes, or a client that stopped reading
        // (a window never opened): free what the stream holds.
        reset(NGHTTP2_CANCEL);
        return;
    }
    if (exchange_ && !request_complete_) exchange_->reject(408, "request body timeout", false);
}

}  // namespace lb
