// Http2Session: the HTTP/2 client codec. One client connection that chose
// h2 (ALPN on an https listener) or started with the HTTP/2 preface on a
// listener with `http2: prior_knowledge` (h2c); HttpSession hands it over
// before any request was read.
//
// nghttp2 does the framing, HPACK, flow-control accounting and the
// protocol's own checks (pseudo-headers, connection-specific headers,
// Content-Length against DATA, stream states); it never touches the
// socket: bytes go in through nghttp2_session_mem_recv and out through
// nghttp2_session_mem_send, so everything stays on the worker's loop.
// Each request stream is an Http2Stream, which owns an HttpExchange: rules,
// stickiness, picking, the pooled HTTP/1.1 upstream connections and the
// access log are the HTTP/1.1 path's.
//
// Flow control: windows are reopened by lb, not by nghttp2. Request DATA is
// acknowledged (WINDOW_UPDATE) as the stream's exchange takes it, and held
// back while that exchange has paused its upload (the target is slow), so
// one stream's back-pressure never holds the connection window for the
// others beyond its own stream window.
//
// Output goes out in one write per flush; a flush runs from the loop (never
// from inside an exchange's callback) after anything was submitted.
//
// Limits (conf::Http2): concurrent streams, windows, the header list
// (max_header_size: a bigger head is 431), CONTINUATION frames per head,
// streams reset by the client before their answer (rapid reset) and frames
// that carry no request: over a rate, GOAWAY ENHANCE_YOUR_CALM.
//
// Clocks: the connection's idle_timeout while no stream is open, and while
// the client does not read what lb has to send (then the connection is
// closed: nothing else can be said to it); each stream's header_timeout
// until its head is complete, then idle_timeout without progress while
// lb waits on the client (an upload that stops, answer bytes a closed
// window holds back).
//
// drain() (SIGQUIT, a listener removed by a reload) sends GOAWAY with the
// last stream id: those streams finish, new ones are refused.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "lb/worker/session.h"
#include "tls/session_info.h"
#include "lb/worker/worker.h"

struct nghttp2_session;

namespace lb {

class Http2Stream;

class Http2Session final : public Session, private StreamHandler {
public:
    // The client's HTTP/2 connection preface, as it starts every h2 connection.
    static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    Http2Session(Worker& worker, const ListenerRuntime& listener, std::unique_ptr<Stream> client,
                 ConnectionTicket ticket, bool tls);
    ~Http2Session() override;

    // `received`: client bytes already read (the preface onwards).
    void start(std::string_view received);
    void drain() override;
    void abort() override;
    void snapshot_changed() override;
    void target_draining(const TargetState& target) override;
    void target_drained(const TargetState& target) override;

    // For Http2Stream.
    Worker& worker() { return worker_; }
    const ListenerRuntime& listener() const { return *listener_; }
    const std::shared_ptr<WorkerSnapshot>& snapshot() const { return snapshot_; }
    bool tls() const { return tls_; }
    bool via_proxy_header() const { return ticket_.via_proxy_header(); }
    const tls::TlsSessionInfo* tls_info() const { return tls_ ? &tls_info_ : nullptr; }
    const Stream& client() const { return *client_; }
    nghttp2_session* h2() { return h2_; }
    // Output is waiting to be sent: flush it from the loop.
    void schedule_flush();
    // Over a client limit (HttpSession::refuse_first_request): why, once.
    // The refused request is answered 429 and the connection goes away.
    const char* take_refusal();
    void refuse_first_request(const char* why) { refusal_ = why; }
    // The client's side can take more now (no connection-level back-pressure).
    bool client_writable() const { return client_ && !client_->output_high(); }

private:
    friend struct Http2Callbacks;

    // StreamHandler (the client's connection)
    void on_stream_connected(Stream&, int) override {}
    void on_stream_data(Stream& stream, std::string_view data) override;
    void on_stream_eof(Stream& stream) override;
    void on_stream_error(Stream& stream, int error) override;
    void on_stream_drained(Stream& stream) override;

    bool setup();
    void receive(std::string_view data);
    void flush();
    void close_client(CloseMode mode);
    // GOAWAY with `code`, then close once it is out.
    void terminate(uint32_t code, const char* why);
    void update_idle_timer();
    void on_idle_timeout();
    void on_write_stalled();
    void stream_opened(int32_t id);
    void stream_closed(int32_t id, uint32_t error_code);
    Http2Stream* find(int32_t id);
    // A frame that carries no request; false once over the rate.
    bool take_control_frame();
    bool take_reset();

    // Token bucket for one connection's frame rates.
    struct Budget {
        double tokens = -1;           // < 0: not started (full)
        int64_t last_ms = 0;
        bool take(uint32_t per_second, uint32_t burst, int64_t now_ms);
    };

    const ListenerRuntime* listener_;
    std::shared_ptr<WorkerSnapshot> snapshot_;
    std::unique_ptr<Stream> client_;
    ConnectionTicket ticket_;
    bool tls_;
    tls::TlsSessionInfo tls_info_;    // the client's TLS, for the access log
    nghttp2_session* h2_ = nullptr;
    std::map<int32_t, std::unique_ptr<Http2Stream>> streams_;
    Budget control_budget_;
    Budget reset_budget_;
    bool closing_ = false;
    bool going_away_ = false;
    bool flush_scheduled_ = false;
    bool in_receive_ = false;
    bool client_eof_ = false;
    int32_t goaway_last_id_ = -1;     // drain(): streams above it are refused
    const char* refusal_ = nullptr;
    Timer idle_timer_;
    Timer write_timer_;               // the client stopped reading our output
};

}  // namespace lb
