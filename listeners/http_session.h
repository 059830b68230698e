// HttpSession: one client connection on an http listener. Parses requests
// (llhttp, strict), routes each through the listener's rules, and either
// answers itself (fixed response, redirect, error) or proxies to a target
// with bodies streamed both ways under back-pressure. Requests on one
// connection are handled one at a time, so pipelined requests are answered
// in order. A 101 response hands both sockets to a TunnelSession.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lb/http/http_parser.h"
#include "lb/io/stream.h"
#include "lb/worker/session.h"
#include "lb/worker/worker.h"
#include "listeners/target_stickiness.h"

namespace lb {

class HttpSession final : public Session, private StreamHandler {
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
        if (!exchange_.active && !in_request_bytes_ && !closing_) refresh_snapshot();
    }
    void target_draining(const TargetState& target) override;
    void target_drained(const TargetState& target) override;

private:
    // Per-request state; reset between requests on a keep-alive connection.
    struct Exchange {
        bool active = false;
        int64_t start_ms = 0;
        HttpHead request;
        // Who the client is for rules, balancing and logs: the connection's
        // peer (after any PROXY header), or behind trusted proxies the
        // address X-Forwarded-For names.
        SocketAddress client;
        std::string host;             // for routing and logs, without port
        std::string authority;        // the Host the target gets
        std::string path;             // normalized, for rules and redirects
        std::string query;
        std::string upstream_target;  // the request-target the target gets
        bool head_method = false;
        bool expect_continue = false;
        bool continue_sent = false;
        bool client_keep_alive = true;
        bool client_http10 = false;
        bool request_complete = false;
        bool response_started = false;
        bool response_complete = false;
        bool informational = false;   // parsing a 1xx from the target
        bool upgraded = false;        // target answered 101
        bool local = false;           // lb answered itself
        bool close_after = false;
        bool discard_body = false;    // request body no longer wanted
        uint64_t request_body_bytes = 0;
        BodyFraming response_framing = BodyFraming::none;
        bool upstream_reusable = false;   // the target's connection may carry the next request
        const char* response_error = nullptr;  // why the target's response cannot be carried
        int status = 0;
        uint64_t bytes_out = 0;

        const TargetGroupRuntime* group = nullptr;
        StickyRequest sticky;         // the target the client's stickiness cookie names
        const TargetEntry* target_entry = nullptr;  // in group, of snapshot_
        std::shared_ptr<TargetState> target;
        SocketAddress target_address;
        std::vector<const TargetState*> tried;
        int attempts = 0;
        bool upstream_reused = false;
        bool fresh_connection = false;  // retry after a stale pooled connection
        bool upstream_got_bytes = false;
        bool outstanding_counted = false;
        std::string replay;           // request bytes a retry must resend
        bool replayable = true;       // replay holds everything sent so far
        std::string error;            // why lb answered, for the access log
        std::string set_cookies;      // Set-Cookie lines lb adds to the response
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
    class ResponseSink final : public HttpParserSink {
    public:
        explicit ResponseSink(HttpSession* s) : s_(s) {}
        int on_http_head(HttpHead& head) override { return s_->on_response_head(head); }
        int on_http_body(std::string_view data) override { return s_->on_response_body(data); }
        int on_http_message_complete() override { return s_->on_response_complete(); }

    private:
        HttpSession* s_;
    };

    // StreamHandler (client and upstream)
    void on_stream_connected(Stream& stream, int error) override;
    void on_stream_data(Stream& stream, std::string_view data) override;
    void on_stream_eof(Stream& stream) override;
    void on_stream_error(Stream& stream, int error) override;
    void on_stream_drained(Stream& stream) override;

    // client side
    void on_client_data(std::string_view data);
    void parse_client(std::string_view data);
    int on_request_head(HttpHead& head);
    int on_request_body(std::string_view data);
    int on_request_complete();
    void route();
    void forward(const conf::ForwardAction& action);
    const conf::WeightedTargetGroup* choose_group(const conf::ForwardAction& action);
    void on_client_timeout();

    // upstream side
    bool open_upstream();
    void retry_or_fail(int status, const char* why);
    void on_upstream_data(std::string_view data);
    void on_upstream_closed(bool error);
    int on_response_head(HttpHead& head);
    int on_response_body(std::string_view data);
    int on_response_complete();
    void on_upstream_timeout();
    void release_upstream(bool reusable);
    void release_target();
    void switch_to_tunnel(std::string_view upstream_rest);
    void cut_response(const char* why);

    // answers and endings
    void respond_local(int status, std::string_view content_type, std::string_view body, bool close,
                       std::string_view extra_headers = {});
    void respond_error(int status, const char* why, bool close);
    const char* client_limited(int64_t* retry_after_us);
    void finish_exchange();
    void start_next_request();
    void close_client(CloseMode mode);
    void log_exchange();
    void refresh_snapshot();

    const ListenerRuntime* listener_;
    std::shared_ptr<WorkerSnapshot> snapshot_;
    std::unique_ptr<Stream> client_;
    std::unique_ptr<Stream> upstream_;
    ConnectionTicket ticket_;
    bool tls_;
    std::string client_ip_;           // the connection's peer: appended to X-Forwarded-For
    uint16_t client_port_ = 0;

    RequestSink request_sink_{this};
    ResponseSink response_sink_{this};
    HttpParser request_parser_;
    HttpParser response_parser_;
    std::string pending_input_;       // client bytes waiting for the current exchange to end
    bool client_paused_for_upstream_ = false;
    bool client_eof_ = false;
    // The client half-closed and every request it sent has been read: the
    // current answer is the last.
    bool client_done() const { return client_eof_ && pending_input_.empty(); }
    bool closing_ = false;
    bool finish_scheduled_ = false;
    bool in_request_bytes_ = false;   // bytes of a not-yet-complete head received
    const TargetState* last_target_ = nullptr;  // compared only, never dereferenced
    const char* refusal_ = nullptr;   // refuse_first_request

    Exchange exchange_;
    Timer client_timer_;
    Timer upstream_timer_;
};

}  // namespace lb
