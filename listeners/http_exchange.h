// HttpExchange: what happens to one HTTP request once its head is parsed
// and validated, whatever brought it in. It routes the request through the
// listener's rules; answers itself (fixed response, redirect, errors) or
// chooses a group (weights, group stickiness) and a target (stickiness,
// zones, slow start) and forwards it over a pooled or new HTTP/1.1
// connection, retrying another target while nothing was answered
// (UpstreamAttempts); relays the request body up and the response down with
// back-pressure both ways; times the target out; counts and logs.
//
// It knows nothing of how the client's bytes are framed. That is the
// client codec's (ExchangeDownstream): today HttpSession, HTTP/1.1 on one
// connection with one exchange at a time. The intended second codec is
// HTTP/2, where many exchanges share one connection: the codec makes one
// HttpExchange per stream, feeds it the stream's head (pseudo-headers
// turned into an HttpHead, :authority as the host) and DATA frames,
// implements ExchangeDownstream by writing HEADERS and DATA frames on that
// stream, and maps back-pressure to flow control: response_blocked() is
// the stream's send window (or the connection's output) being full, and
// resume_response() the window reopening; pause_request_body() withholds
// WINDOW_UPDATE for that stream only, so one slow stream never stalls the
// others. Routing, picking and the upstream side stay as they are.
//
// Phases (phase()): the response side moves
//   routing -> forwarding [-> interim] -> streaming -> complete
// or ends answered by lb (complete, local()), cut (the target failed after
// the answer began), or upgraded (a 101 handed both streams to a tunnel).
// The request body is received, complete, or discarded (an answer came
// first, or lb answered it).
//
// Lifetime: owned by its codec, which must not destroy it from inside one
// of its callbacks (destroy it from a deferred task or its own teardown).
//
// Threading: the worker's loop thread only.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lb/http/http_parser.h"
#include "lb/http/http_validation.h"
#include "lb/io/splice_pump.h"
#include "lb/io/stream.h"
#include "lb/routing/request_identity.h"
#include "lb/routing/rewrites.h"
#include "lb/worker/exchange_host.h"
#include "lb/worker/upstream_attempts.h"
#include "lb/worker/worker.h"
#include "listeners/target_stickiness.h"
#include "tls/session_info.h"

namespace lb {

// The client codec's side of an exchange.
class ExchangeDownstream {
public:
    // lb answers itself. `extra_headers` are whole "Name: value\r\n" lines.
    // `close`: after this answer the client's connection should not carry
    // another request (the request was refused for its framing or size).
    virtual void local_response(int status, std::string_view content_type, std::string_view body,
                                std::string_view extra_headers, bool close) = 0;
    // A 1xx other than 101 from the target (100 Continue among them).
    virtual void interim_response(const HttpHead& response) = 0;
    // The target's final response head. `plan` says how its body is framed
    // (plan_response); `set_cookies` are "Set-Cookie: ...\r\n" lines lb
    // adds; `target_draining`: the target is being deregistered, so the
    // client should be moved on after this answer.
    virtual void response_head(const HttpHead& response, const ResponsePlan& plan, std::string_view set_cookies,
                               bool target_draining) = 0;
    virtual void response_body(std::string_view data) = 0;
    // The client cannot take more now: the exchange stops reading the
    // target until resume_response().
    virtual bool response_blocked() const = 0;
    // The client's socket, when the rest of a Content-Length body may be
    // spliced into it as it is (plain TCP, no re-framing); else -1. While
    // it is, the codec writes nothing to the client.
    virtual int body_splice_sink() { return -1; }
    // Nothing the codec wrote to the client is still queued; if something
    // is, resume_response() follows once it is all out.
    virtual bool body_output_flushed() { return true; }
    virtual void response_complete() = 0;
    // The target failed after the answer began: end the client's view of
    // it so it cannot be taken for complete.
    virtual void response_cut(const char* why) = 0;
    // The client broke its request after the answer began (a body over
    // max_body_size): end the client's side at once (HTTP/1.1: reset the
    // connection).
    virtual void abort_client() = 0;
    // Upload back-pressure: stop, and later resume, taking request body.
    virtual void pause_request_body() = 0;
    virtual void resume_request_body() = 0;
    // The target switched protocols: `upstream` (with `upstream_rest`, bytes
    // it sent after the 101) now belongs to the codec, to become a tunnel.
    virtual void upgraded(const HttpHead& response, std::string_view set_cookies, std::unique_ptr<Stream> upstream,
                          std::string_view upstream_rest, std::shared_ptr<TargetState> target) = 0;

protected:
    ~ExchangeDownstream() = default;
};

// A validated request, as the codec hands it over.
struct ExchangeRequest {
    HttpHead head;
    CheckedRequest checked;           // status 0; host, path, query, target, authority
    SocketAddress client;             // for rules, balancing and logs
    std::string_view protocol;        // for the access log: "HTTP/1.1"
    bool tls = false;                 // arrived over TLS (X-Forwarded-Proto, redirects, cookies)
    bool via_proxy_header = false;    // a trusted proxy's PROXY header named `client`
    // The client connection's TLS, for the access log; the codec's, which
    // outlives the exchange's log line. Null without TLS.
    const tls::TlsSessionInfo* tls_info = nullptr;
};

class HttpExchange final : private StreamHandler, private SplicePump::Handler {
public:
    enum class Phase {
        routing,     // head received, not yet routed, or lb not yet decided
        forwarding,  // a target attempt is open; nothing of its answer yet
        interim,     // the target sent a 1xx; its final answer is to come
        streaming,   // the final response head went to the client
        complete,    // answered in full, by the target or by lb
        cut,         // the answer was cut short
        upgraded,    // handed to a tunnel
    };
    enum class Body { receiving, complete, discarded };

    // `peer`: the client connection's peer (appended to X-Forwarded-For,
    // logged when no head parsed); `start_us`: when the request's first
    // byte arrived (the loop's clock, ExchangeHost::now_us).
    HttpExchange(ExchangeHost& host, ExchangeDownstream& downstream, const ListenerRuntime& listener,
                 std::shared_ptr<WorkerSnapshot> snapshot, const SocketAddress& peer, int64_t start_us);
    ~HttpExchange();
    HttpExchange(const HttpExchange&) = delete;
    HttpExchange& operator=(const HttpExchange&) = delete;

    // Routes and answers or forwards the request.
    void start(ExchangeRequest request);
    // The request is refused before routing (over a limit, a method lb
    // does not carry, a head that fails check_request): lb answers
    // `status`, and the access log still shows the request.
    void refuse(ExchangeRequest request, int status, const char* why, bool close, std::string_view extra_headers = {});
    // The request cannot be carried (bad framing, timeout, over a limit):
    // lb answers `status` without routing it. The request head may be
    // missing (a head that never parsed).
    void reject(int status, const char* why, bool close, std::string_view extra_headers = {});
    // What the log can know of a request whose head was never read (a head
    // too large, bytes that are not HTTP): its connection's protocol and
    // TLS. Ignored once the request is known.
    void unread_request(std::string_view protocol, const tls::TlsSessionInfo* tls_info);

    // Request body, as the codec decoded it; then its end.
    void request_body(std::string_view data);
    void request_complete();
    // The client's output drained after response_blocked().
    void resume_response();
    // The target's deregistration delay ran out.
    void target_drained(const TargetState& target);
    // The client is gone or the connection ends: drop the target's side.
    void abort();
    // One access log line, the response counters and histograms; once.
    void log();

    Phase phase() const { return phase_; }
    bool answered() const { return phase_ == Phase::complete; }
    bool response_started() const { return phase_ >= Phase::streaming; }
    // The request body no longer goes anywhere.
    bool discarding() const { return body_ == Body::discarded; }
    bool local() const { return local_; }
    int status() const { return status_; }
    uint64_t request_body_bytes() const { return request_body_bytes_; }
    const TargetState* target() const { return attempts_ ? attempts_->target().get() : nullptr; }
    // The error lb answered or cut the response with, for the access log.
    const std::string& error() const { return error_; }
    // This request's id: in the id header both ways, #{request_id} and the log.
    const std::string& request_id();

private:
    class ResponseSink final : public HttpParserSink {
    public:
        explicit ResponseSink(HttpExchange* e) : e_(e) {}
        int on_http_head(HttpHead& head) override { return e_->on_response_head(head); }
        int on_http_body(std::string_view data) override { return e_->on_response_body(data); }
        int on_http_message_complete() override { return e_->on_response_complete(); }

    private:
        HttpExchange* e_;
    };

    // StreamHandler (the target's connection)
    void on_stream_connected(Stream& stream, int error) override;
    void on_stream_data(Stream& stream, std::string_view data) override;
    void on_stream_eof(Stream& stream) override;
    void on_stream_error(Stream& stream, int error) override;
    void on_stream_drained(Stream& stream) override;
    void on_stream_paused(Stream& stream) override;

    // A response body's bytes spliced from the target to the client
    // (http_exchange_splice.cpp).
    static constexpr uint64_t kSpliceBodyMin = 128 * 1024;
    void maybe_splice_body();
    void start_body_pump();
    void stop_body_pump();
    void on_pump_moved(SplicePump& pump, size_t bytes) override;
    void on_pump_eof(SplicePump& pump) override;
    void on_pump_error(SplicePump& pump, int error) override;
    void on_pump_unavailable(SplicePump& pump) override;

    // routing (http_exchange.cpp)
    void route();
    void forward(const conf::ForwardAction& action);
    const conf::WeightedTargetGroup* choose_group(const conf::ForwardAction& action);
    void respond_local(int status, std::string_view content_type, std::string_view body, bool close,
                       std::string_view extra_headers = {});
    // The #{...} variables of this request (lb/routing/rewrites.h).
    HeaderVariables header_variables();
    // lb's answer for the matched action, with the listener's and the
    // action's response edits (set and add).
    void respond_action(int status, std::string_view content_type, std::string_view body, std::string extra_headers,
                        const conf::HeaderEdits& action_edits);
    void respond_error(int status, const char* why, bool close);
    void cut(const char* why);
    // The listener's, group's and target's histograms (log()).
    void observe();
    // µs from the request's first byte to the answering target's first
    // response byte; -1 when no target answered.
    int64_t first_byte_after_us() const;
    // The request id and trace context read from the head and rewritten
    // in it (lb/routing/request_identity.h).
    void identify();
    // "Name: id\r\n" for lb's own answers, empty when the listener sends none.
    std::string request_id_line();

    // the target's side (http_exchange_upstream.cpp)
    enum class Failure { connect, closed, timeout, status };
    bool open_upstream();
    // The request head as this try sends it: path rewrite, header edits.
    std::string upstream_head();
    bool may_retry(Failure failure, int status = 0) const;
    bool retry(Failure failure, int connect_error);
    void retry_or_fail(Failure failure, int connect_error, int status, const char* why);
    void on_upstream_closed(bool error);
    void on_upstream_timeout();
    int on_response_head(HttpHead& response);
    int on_response_body(std::string_view data);
    int on_response_complete();
    void release_target();
    void release_upstream(bool reusable);
    void switch_to_tunnel(std::string_view upstream_rest);
    void schedule_upstream_timeout();

    ExchangeHost& host_;
    ExchangeDownstream& downstream_;
    const ListenerRuntime* listener_;
    std::shared_ptr<WorkerSnapshot> snapshot_;
    SocketAddress peer_;
    int64_t start_us_;
    int64_t first_byte_us_ = 0;       // this try's first response byte
    ExchangeRequest request_;
    Phase phase_ = Phase::routing;
    Body body_ = Body::receiving;
    bool local_ = false;
    bool logged_ = false;
    int status_ = 0;
    uint64_t request_body_bytes_ = 0;
    uint64_t bytes_out_ = 0;
    std::string error_;

    const TargetGroupRuntime* group_ = nullptr;
    const conf::Action* action_ = nullptr;  // the matched action
    RequestIdentity identity_;        // the id (made at the latest when first needed) and trace
    int64_t try_start_us_ = 0;        // this try began (connect or pooled send)
    int64_t connect_us_ = -1;         // this try's connect took; 0: pooled; -1: none yet
    int retry_status_ = 0;            // a response head of this status to be dropped for a retry
    size_t replay_head_size_ = 0;     // replay_ starts with this try's head
    StickyRequest sticky_;            // the target the client's stickiness cookie names
    std::string set_cookies_;         // Set-Cookie lines lb adds to the response
    std::unique_ptr<UpstreamAttempts> attempts_;
    std::unique_ptr<Stream> upstream_;
    bool outstanding_counted_ = false;
    bool upstream_got_bytes_ = false;
    std::string replay_;              // request bytes a retry must resend
    bool replayable_ = true;          // replay_ holds everything sent so far
    bool upstream_paused_ = false;    // upload back-pressure asked the codec to pause
    BodyFraming response_framing_ = BodyFraming::none;
    bool upstream_reusable_ = false;  // the target's connection may carry the next request
    const char* response_error_ = nullptr;  // why the target's response cannot be carried
    HttpHead upgrade_response_;       // a 101, kept until llhttp reports the switch
    uint64_t body_left_ = 0;          // of a Content-Length response body, not yet read
    bool body_pausing_ = false;       // the target's stream is pausing to be spliced from
    std::unique_ptr<SplicePump> body_pump_;

    ResponseSink response_sink_{this};
    HttpParser response_parser_;
    Timer upstream_timer_;
};

}  // namespace lb
