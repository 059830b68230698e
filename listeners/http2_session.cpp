#include "listeners/http2_session.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>

#include "lb/base/log.h"
#include "listeners/http2_stream.h"

namespace lb {

namespace {

// One flush writes at most this much, so one busy connection cannot build
// an unbounded buffer; the rest goes when the client's side drains.
constexpr size_t kMaxFlush = 256 * 1024;

Http2Session& self(void* user_data) { return *static_cast<Http2Session*>(user_data); }

}  // namespace

// nghttp2's callbacks, as the session's friends.
struct Http2Callbacks {
    static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
        if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
            self(user_data).stream_opened(frame->hd.stream_id);
        return 0;
    }

    static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t name_length,
                         const uint8_t* value, size_t value_length, uint8_t, void* user_data) {
        Http2Stream* stream = self(user_data).find(frame->hd.stream_id);
        if (!stream) return 0;
        bool keep = stream->header({reinterpret_cast<const char*>(name), name_length},
                                   {reinterpret_cast<const char*>(value), value_length});
        // Far past the limit (an HPACK bomb): nghttp2 resets the stream and
        // stops handing over (and checking) the rest of the block.
        return keep ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }

    static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
        Http2Session& session = self(user_data);
        Http2Stream* stream = frame->hd.stream_id ? session.find(frame->hd.stream_id) : nullptr;
        bool end_stream = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
        switch (frame->hd.type) {
            case NGHTTP2_HEADERS:
                if (!stream) break;
                if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) stream->head_complete(end_stream);
                else if (end_stream) stream->request_end();  // trailers end the body
                break;
            case NGHTTP2_DATA:
                if (frame->hd.length == 0 && !end_stream && !session.take_control_frame())
                    return NGHTTP2_ERR_CALLBACK_FAILURE;
                if (stream && end_stream) stream->request_end();
                break;
            case NGHTTP2_RST_STREAM:
                // A stream cancelled before its answer went out: what rapid
                // reset does thousands of times a second.
                if (stream) stream->client_reset();
                if (stream && !stream->answered() && !session.take_reset()) return NGHTTP2_ERR_CALLBACK_FAILURE;
                break;
            case NGHTTP2_PING:
            case NGHTTP2_SETTINGS:
            case NGHTTP2_PRIORITY:
                if (!session.take_control_frame()) return NGHTTP2_ERR_CALLBACK_FAILURE;
                break;
            default:
                break;
        }
        return 0;
    }

    static int on_data_chunk(nghttp2_session* h2, uint8_t, int32_t stream_id, const uint8_t* data, size_t length,
                             void* user_data) {
        if (Http2Stream* stream = self(user_data).find(stream_id))
            stream->request_data({reinterpret_cast<const char*>(data), length});
        else
            nghttp2_session_consume(h2, stream_id, length);
        return 0;
    }

    static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
        bool ends_ours = (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
                         (frame->hd.flags & NGHTTP2_FLAG_END_STREAM);
        if (!ends_ours) return 0;
        if (Http2Stream* stream = self(user_data).find(frame->hd.stream_id)) stream->response_sent();
        return 0;
    }

    static int on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
        self(user_data).stream_closed(stream_id, error_code);
        return 0;
    }

    static int on_error(nghttp2_session*, int, const char* message, size_t length, void* user_data) {
        LB_LOG_DEBUG("h2 from %s: %.*s", self(user_data).client().peer().to_string().c_str(),
                     static_cast<int>(length), message);
        return 0;
    }
};

Http2Session::Http2Session(Worker& worker, const ListenerRuntime& listener, std::unique_ptr<Stream> client,
                           ConnectionTicket ticket, bool tls)
    : Session(worker),
      listener_(&listener),
      snapshot_(worker.snapshot()),
      client_(std::move(client)),
      ticket_(std::move(ticket)),
      tls_(tls),
      tls_info_(tls ? tls::describe_session(*client_) : tls::TlsSessionInfo{}),
      idle_timer_([this] { on_idle_timeout(); }),
      write_timer_([this] { on_write_stalled(); }) {}

Http2Session::~Http2Session() {
    streams_.clear();  // their destructors still give window back through h2_
    if (h2_) nghttp2_session_del(h2_);
}

bool Http2Session::setup() {
    const conf::Http2& config = listener_->config.http2;
    nghttp2_session_callbacks* callbacks = nullptr;
    if (nghttp2_session_callbacks_new(&callbacks) != 0) return false;
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, Http2Callbacks::on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, Http2Callbacks::on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, Http2Callbacks::on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, Http2Callbacks::on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, Http2Callbacks::on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, Http2Callbacks::on_stream_close);
    nghttp2_session_callbacks_set_error_callback2(callbacks, Http2Callbacks::on_error);

    nghttp2_option* option = nullptr;
    if (nghttp2_option_new(&option) != 0) {
        nghttp2_session_callbacks_del(callbacks);
        return false;
    }
    // lb reopens windows as exchanges take the bytes (see the header).
    nghttp2_option_set_no_auto_window_update(option, 1);
    // The reset rate is lb's (reset_rate); nghttp2's own limit stays above it.
    nghttp2_option_set_stream_reset_rate_limit(option, uint64_t{config.reset_rate.burst} * 4,
                                               uint64_t{config.reset_rate.per_second} * 4);
    // A head split over more CONTINUATION frames than any client needs is a flood.
    nghttp2_option_set_max_continuations(option, 16);
    int rv = nghttp2_session_server_new2(&h2_, callbacks, this, option);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(callbacks);
    if (rv != 0) return false;

    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, config.max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, config.stream_window},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(listener_->config.max_header_size)},
        {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},  // WebSockets (RFC 8441)
    };
    if (nghttp2_submit_settings(h2_, NGHTTP2_FLAG_NONE, settings, std::size(settings)) != 0) return false;
    if (config.connection_window > NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE &&
        nghttp2_session_set_local_window_size(h2_, NGHTTP2_FLAG_NONE, 0,
                                              static_cast<int32_t>(config.connection_window)) != 0)
        return false;
    return true;
}

void Http2Session::start(std::string_view received) {
    client_->set_handler(this);
    if (!setup()) {
        LB_LOG_ERROR("h2: cannot set up a session (out of memory)");
        close_client(CloseMode::abort);
        return;
    }
    worker_.timers().schedule(idle_timer_, listener_->config.idle_timeout.count());
    client_->start_reading();
    if (!received.empty()) receive(received);
    else schedule_flush();  // our SETTINGS
}

// ---------------------------------------------------------------- client stream events

void Http2Session::on_stream_data(Stream&, std::string_view data) {
    if (!closing_) receive(data);
}

void Http2Session::receive(std::string_view data) {
    in_receive_ = true;
    ssize_t rv = nghttp2_session_mem_recv(h2_, reinterpret_cast<const uint8_t*>(data.data()), data.size());
    in_receive_ = false;
    if (rv < 0) {
        LB_LOG_DEBUG("h2 from %s: %s", client_->peer().to_string().c_str(), nghttp2_strerror(static_cast<int>(rv)));
        if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC || rv == NGHTTP2_ERR_FLOODED) {
            // Not HTTP/2 at all, or a client that does not read what it
            // asks for (PING and SETTINGS acknowledgements pile up).
            close_client(CloseMode::abort);
            return;
        }
        // A protocol error: nghttp2 queued a GOAWAY with its code (or lb
        // did, over a limit); send it, then close.
        if (!going_away_) nghttp2_session_terminate_session(h2_, NGHTTP2_PROTOCOL_ERROR);
        going_away_ = true;
    }
    flush();
}

void Http2Session::on_stream_eof(Stream&) {
    // No request can complete now; answers in flight may still be read.
    client_eof_ = true;
    client_->stop_reading();
    std::vector<Http2Stream*> incomplete;
    for (auto& [id, stream] : streams_)
        if (!stream->request_complete()) incomplete.push_back(stream.get());
    for (Http2Stream* stream : incomplete) nghttp2_submit_rst_stream(h2_, NGHTTP2_FLAG_NONE, stream->id(), NGHTTP2_CANCEL);
    flush();
}

void Http2Session::on_stream_error(Stream&, int) { close_client(CloseMode::abort); }

void Http2Session::on_stream_drained(Stream&) {
    worker_.timers().cancel(write_timer_);
    if (!closing_) flush();
}

void Http2Session::on_write_stalled() {
    LB_LOG_DEBUG("h2 to %s: not read for idle_timeout; closing", client_->peer().to_string().c_str());
    close_client(CloseMode::abort);
}

// ---------------------------------------------------------------- output

void Http2Session::schedule_flush() {
    if (flush_scheduled_ || closing_ || in_receive_) return;  // receive() flushes when it returns
    flush_scheduled_ = true;
    worker_.loop().defer([this] {
        flush_scheduled_ = false;
        flush();
    });
}

void Http2Session::flush() {
    if (closing_) return;
    // Local: a connection between flushes keeps no buffer.
    std::string output;
    bool more = false;
    while (!client_->output_high()) {
        const uint8_t* data = nullptr;
        ssize_t n = nghttp2_session_mem_send(h2_, &data);
        if (n < 0) {
            LB_LOG_DEBUG("h2 to %s: %s", client_->peer().to_string().c_str(), nghttp2_strerror(static_cast<int>(n)));
            close_client(CloseMode::abort);
            return;
        }
        if (n == 0) break;
        output.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
        if (output.size() >= kMaxFlush) {
            more = true;
            break;
        }
    }
    if (!output.empty()) client_->write(output);
    if (closing_) return;
    if (client_->output_high()) worker_.timers().schedule(write_timer_, listener_->config.idle_timeout.count());
    for (auto& [id, stream] : streams_) stream->maybe_resume_response();
    if (!nghttp2_session_want_read(h2_) && !nghttp2_session_want_write(h2_)) {
        // After a GOAWAY the client may still be sending: linger, so its
        // unread bytes do not turn our close into a reset that takes the
        // GOAWAY with it.
        close_client(going_away_ ? CloseMode::linger : CloseMode::graceful);
        return;
    }
    if (client_eof_ && streams_.empty()) {
        close_client(CloseMode::graceful);
        return;
    }
    if (more && !client_->output_high()) schedule_flush();
}

// ---------------------------------------------------------------- streams

void Http2Session::stream_opened(int32_t id) {
    if (goaway_last_id_ >= 0 && id > goaway_last_id_) {
        // Arrived after drain() queued its GOAWAY but before it went out
        // (nghttp2 refuses only after sending): refused, so the client
        // may safely retry it elsewhere.
        nghttp2_submit_rst_stream(h2_, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
        return;
    }
    streams_.emplace(id, std::make_unique<Http2Stream>(*this, id));
    worker_.timers().cancel(idle_timer_);
}

void Http2Session::stream_closed(int32_t id, uint32_t error_code) {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    // nghttp2 reset it for the client's error (a zero WINDOW_UPDATE, DATA
    // past content-length: "MadeYouReset") before its answer: as costly
    // to lb as a reset the client sent, and counted the same way.
    if (error_code != NGHTTP2_NO_ERROR && !it->second->answered() && !it->second->reset_by_lb() &&
        !it->second->reset_by_client())
        take_reset();
    streams_.erase(it);
    if (streams_.empty() && !closing_) worker_.timers().schedule(idle_timer_, listener_->config.idle_timeout.count());
}

Http2Stream* Http2Session::find(int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
}

bool Http2Session::Budget::take(uint32_t per_second, uint32_t burst, int64_t now_ms) {
    if (tokens < 0) tokens = burst;
    tokens = std::min<double>(burst, tokens + (now_ms - last_ms) * per_second / 1000.0);
    last_ms = now_ms;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
}

bool Http2Session::take_control_frame() {
    const conf::ClientRate& rate = listener_->config.http2.control_frame_rate;
    if (control_budget_.take(rate.per_second, rate.burst, worker_.now_ms())) return true;
    terminate(NGHTTP2_ENHANCE_YOUR_CALM, "control frame flood");
    return false;
}

bool Http2Session::take_reset() {
    const conf::ClientRate& rate = listener_->config.http2.reset_rate;
    if (reset_budget_.take(rate.per_second, rate.burst, worker_.now_ms())) return true;
    terminate(NGHTTP2_ENHANCE_YOUR_CALM, "streams reset faster than the reset_rate (rapid reset)");
    return false;
}

const char* Http2Session::take_refusal() {
    const char* why = std::exchange(refusal_, nullptr);
    if (why) drain();  // that first request is answered 429, and the connection ends
    return why;
}

// ---------------------------------------------------------------- endings

void Http2Session::terminate(uint32_t code, const char* why) {
    if (going_away_ && code == NGHTTP2_NO_ERROR) return;
    LB_LOG_DEBUG("h2 from %s: GOAWAY %s: %s", client_->peer().to_string().c_str(), nghttp2_http2_strerror(code), why);
    going_away_ = true;
    nghttp2_session_terminate_session(h2_, code);
    schedule_flush();
}

void Http2Session::on_idle_timeout() {
    if (closing_) return;
    terminate(NGHTTP2_NO_ERROR, "idle");
    flush();
}

void Http2Session::drain() {
    if (closing_ || going_away_) return;
    going_away_ = true;
    // The streams the client has opened finish; newer ones are refused.
    goaway_last_id_ = nghttp2_session_get_last_proc_stream_id(h2_);
    nghttp2_submit_goaway(h2_, NGHTTP2_FLAG_NONE, goaway_last_id_, NGHTTP2_NO_ERROR, nullptr, 0);
    schedule_flush();
}

void Http2Session::abort() { close_client(CloseMode::abort); }

void Http2Session::close_client(CloseMode mode) {
    if (closing_) return;
    closing_ = true;
    worker_.timers().cancel(idle_timer_);
    worker_.timers().cancel(write_timer_);
    streams_.clear();
    Stream::close(std::move(client_), mode);
    retire();
}

void Http2Session::snapshot_changed() {
    const auto& current = worker_.snapshot();
    if (closing_ || current == snapshot_) return;
    // New streams follow the newest config if the listener is still there;
    // streams in flight keep theirs. A listener the reload removed takes no
    // new streams: GOAWAY, as on SIGQUIT.
    if (const ListenerRuntime* listener = worker_.current_listener(*listener_)) {
        snapshot_ = current;
        listener_ = listener;
    } else {
        drain();
    }
}

void Http2Session::target_draining(const TargetState&) {
    // One connection carries streams to many targets: nothing to end here.
}

void Http2Session::target_drained(const TargetState& target) {
    for (auto& [id, stream] : streams_) stream->target_drained(target);
}

}  // namespace lb
