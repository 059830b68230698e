// HttpSession: the HTTP/1.1 client codec. One client connection on an http
// or https listener: it reads requests (llhttp, strict), validates each
// head, and hands it to an HttpExchange (listeners/http_exchange.h), which
// routes, forwards and relays; the session writes the answers in HTTP/1.1
// framing and decides when the connection ends. Requests on one connection
// are handled one at a time, so pipelined requests are answered in order.
// A 101 response hands both sockets to a TunnelSession.
//
// The client's clocks are the session's: header_timeout until a head is
// complete, idle_timeout while the client is expected to send or read. The
// target's clock (response_timeout) is the exchange's.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "lb/http/http_parser.h"
#include "lb/io/stream.h"
#include "lb/worker/session.h"
#include "lb/worker/worker.h"
#include "listeners/http_exchange.h"

namespace lb {

class HttpSession final : public Session, private StreamHandler, private ExchangeDownstream {
public:
    HttpSession(Worker& worker, const ListenerRuntime& listener, std::unique_ptr<Stream> client,
                ConnectionTicket ticket, bool tls = false);
    ~HttpSession() override;

    void start();
    // The connection is over a client limit: its first request is answered
    // 429 and the connection closed.
    void refuse_first_request(const char* why) { refusal_ = why; }
    void drain() override;
    void abort() override;
    void snapshot_changed() override {
        if (!exchange_ && !in_request_bytes_ && !closing_) refresh_snapshot();
    }
    void target_draining(const TargetState& target) override;
    void target_drained(const TargetState& target) override;

private:
    // What the HTTP/1.1 framing of the current request decides; reset
    // between requests on a keep-alive connection.
    struct Framing {
        int64_t start_us = 0;         // the request's first byte (the loop's clock)
        bool head_method = false;
        bool keep_alive = true;
        bool http10 = false;
        bool upgrade = false;         // the client asked to switch protocols
        bool expect_continue = false;
        bool continue_sent = false;
        bool request_complete = false;
        bool close_after = false;     // the connection ends with this answer
        bool kept_open = true;        // the answer's head did not say Connection: close
        BodyFraming response = BodyFraming::none;
    };

    class RequestSink final : public HttpParserSink {
    public:
        explicit RequestSink(HttpSession* s) : s_(s) {}
        int on_http_head(HttpHead& head) override { return s_->on_request_head(head); }
        int on_http_body(std::string_view data) override { return s_->on_request_body(data); }
        int on_http_message_complete() override { return s_->on_request_complete(); }

    private:
        HttpSession* s_;
    };

    // StreamHandler (the client's connection)
    void on_stream_connected(Stream&, int) override {}
    void on_stream_data(Stream& stream, std::string_view data) override;
    void on_stream_eof(Stream& stream) override;
    void on_stream_error(Stream& stream, int error) override;
    void on_stream_drained(Stream& stream) override;

    // ExchangeDownstream
    void local_response(int status, std::string_view content_type, std::string_view body,
                        std::string_view extra_headers, bool close) override;
    void interim_response(const HttpHead& response) override;
    void response_head(const HttpHead& response, const ResponsePlan& plan, std::string_view set_cookies,
                       bool target_draining) override;
    void response_body(std::string_view data) override;
    bool response_blocked() const override { return client_->output_high(); }
    int body_splice_sink() override;
    bool body_output_flushed() override;
    void response_complete() override;
    void response_cut(const char* why) override;
    void abort_client() override { close_client(CloseMode::abort); }
    void pause_request_body() override;
    void resume_request_body() override;
    void upgraded(const HttpHead& response, std::string_view set_cookies, std::unique_ptr<Stream> upstream,
                  std::string_view upstream_rest, std::shared_ptr<TargetState> target) override;

    // The connection's first bytes decide HTTP/2 (ALPN h2, or the preface
    // on a prior_knowledge listener): true once it went to an Http2Session
    // or waits for more of a preface.
    bool choose_http2(std::string_view data);
    void parse_client(std::string_view data);
    int on_request_head(HttpHead& head);
    int on_request_body(std::string_view data);
    int on_request_complete();
    void on_client_timeout();
    HttpExchange& begin_exchange();
    // Answers without an exchange's routing: a head that did not parse, a
    // timeout, a refused request.
    void reject(int status, const char* why, bool close, std::string_view extra_headers = {});
    void schedule_finish();
    void finish_exchange();
    void start_next_request();
    void close_client(CloseMode mode);
    void refresh_snapshot();
    // The client half-closed and every request it sent has been read: the
    // current answer is the last.
    bool client_done() const { return client_eof_ && pending_input_.empty(); }

    const ListenerRuntime* listener_;
    std::shared_ptr<WorkerSnapshot> snapshot_;
    std::unique_ptr<Stream> client_;
    ConnectionTicket ticket_;
    bool tls_;
    std::optional<tls::TlsSessionInfo> tls_info_;  // read at the first request

    RequestSink request_sink_{this};
    // From a request's first byte to the start of the next one: an idle
    // keep-alive connection holds no parser.
    std::unique_ptr<HttpParser> request_parser_;
    std::string pending_input_;       // client bytes waiting for the current exchange to end
    bool client_paused_for_upstream_ = false;
    bool client_eof_ = false;
    bool closing_ = false;
    bool finish_scheduled_ = false;
    bool in_request_bytes_ = false;   // bytes of a not-yet-complete head received
    const TargetState* last_target_ = nullptr;  // compared only, never dereferenced
    const char* refusal_ = nullptr;   // refuse_first_request
    bool protocol_chosen_ = false;    // HTTP/1.1 or HTTP/2 decided
    std::string preface_seen_;        // h2c: the first bytes, while they may be the preface

    Framing framing_;
    // The current request's exchange, from its head (or its refusal) until
    // the next request starts. On the heap: an idle keep-alive connection
    // should not carry the 1.6 KB of an exchange it is not having.
    std::unique_ptr<HttpExchange> exchange_;
    Timer client_timer_;
};

}  // namespace lb
