// Http2Stream: one HTTP/2 request stream of an Http2Session, as an
// HttpExchange's downstream. It builds the HttpHead the exchange takes from
// the stream's header block (RFC 9113 §8.3: :authority is the Host, cookie
// fields are joined with "; " for the HTTP/1.1 target, a body without
// content-length goes chunked), and turns the exchange's answer into
// HEADERS and DATA on the stream (hop-by-hop fields dropped, names in lower
// case, each Set-Cookie its own field).
//
// Back-pressure: response bytes wait in the stream's own queue until the
// client's stream and connection windows take them; over kHighWater the
// exchange stops reading the target (response_blocked) until the queue is
// below kLowWater. Request bytes go back to the connection's window at
// once, and to the stream's only while the exchange has not paused its
// upload: a paused stream holds its own window, never the connection's.
//
// WebSockets (RFC 8441): an extended CONNECT with :protocol websocket goes
// to the target as an HTTP/1.1 Upgrade (with a Sec-WebSocket-Key of lb's);
// the target's 101 becomes a 200 on the stream, which from then on is a
// tunnel to that connection: DATA both ways with the same back-pressure,
// END_STREAM and FIN for each other, tunnel_idle_timeout.
//
// Lifetime: owned by the session's stream table; destroyed when nghttp2
// closes the stream, never from inside the exchange's callbacks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "lb/base/byte_queue.h"
#include "lb/http/http_head.h"
#include "listeners/http_exchange.h"

namespace lb {

class Http2Session;

class Http2Stream final : private ExchangeDownstream, private StreamHandler {
public:
    static constexpr size_t kHighWater = 64 * 1024;
    static constexpr size_t kLowWater = 16 * 1024;

    Http2Stream(Http2Session& session, int32_t id);
    ~Http2Stream();
    Http2Stream(const Http2Stream&) = delete;
    Http2Stream& operator=(const Http2Stream&) = delete;

    int32_t id() const { return id_; }

    // The header block, field by field (names lower case, checked by
    // nghttp2). False: far past max_header_size, stop decoding it for us.
    bool header(std::string_view name, std::string_view value);
    // The block is complete; `end_stream`: no body follows.
    void head_complete(bool end_stream);
    void request_data(std::string_view data);
    void request_end();
    // The whole answer went out (a reset before this is a cancel).
    bool answered() const;
    bool reset_by_lb() const { return reset_sent_; }
    bool reset_by_client() const { return client_reset_; }
    void client_reset() { client_reset_ = true; }
    bool request_complete() const { return request_complete_; }
    const TargetState* target() const { return exchange_ ? exchange_->target() : nullptr; }
    void target_drained(const TargetState& target);

    // nghttp2's data source: up to `length` response bytes into `out`.
    // Returns the count, or NGHTTP2_ERR_DEFERRED; sets *eof at the end.
    long read_response(uint8_t* out, size_t length, bool* eof);
    // The session sent bytes, or the client's side drained: let a paused
    // exchange read its target again.
    void maybe_resume_response();
    // A frame that ends our side went out while the request was still
    // coming: the client is told to stop sending (RST_STREAM NO_ERROR).
    void response_sent();

private:
    // ExchangeDownstream
    void local_response(int status, std::string_view content_type, std::string_view body,
                        std::string_view extra_headers, bool close) override;
    void interim_response(const HttpHead& response) override;
    void response_head(const HttpHead& response, const ResponsePlan& plan, std::string_view set_cookies,
                       bool target_draining) override;
    void response_body(std::string_view data) override;
    bool response_blocked() const override;
    void response_complete() override;
    void response_cut(const char* why) override;
    void abort_client() override;
    void pause_request_body() override;
    void resume_request_body() override;
    void upgraded(const HttpHead& response, std::string_view set_cookies, std::unique_ptr<Stream> upstream,
                  std::string_view upstream_rest, std::shared_ptr<TargetState> target) override;

    // StreamHandler: the target's connection once it is a tunnel
    void on_stream_connected(Stream&, int) override {}
    void on_stream_data(Stream& stream, std::string_view data) override;
    void on_stream_eof(Stream& stream) override;
    void on_stream_error(Stream& stream, int error) override;
    void on_stream_drained(Stream& stream) override;

    void submit_head(int status, const HttpHead* response, std::string_view extra_lines, bool has_body,
                     std::optional<uint64_t> content_length);
    void arm_timer();
    void reset(uint32_t code);
    void on_timeout();
    // Request bytes taken but not yet acknowledged to the client (their
    // stream window).
    void acknowledge();
    // The stream's clock runs while lb waits on the client.
    void wait_on_client();

    Http2Session& session_;
    int32_t id_;
    int64_t start_us_;
    HttpHead head_;
    std::string authority_;
    std::string protocol_;            // :protocol (extended CONNECT)
    bool websocket_ = false;
    std::string cookies_;             // the cookie fields, joined
    size_t header_bytes_ = 0;
    bool header_too_large_ = false;
    bool head_done_ = false;
    bool head_request_ = false;       // HEAD: no body in the answer
    bool request_complete_ = false;
    bool upload_paused_ = false;
    size_t unacknowledged_ = 0;       // request bytes held back from WINDOW_UPDATE
    std::optional<HttpExchange> exchange_;

    ByteQueue response_;              // DATA not yet sent
    bool response_submitted_ = false;
    bool response_done_ = false;      // the exchange's answer is all in response_
    bool response_deferred_ = false;  // nghttp2 waits for more DATA
    mutable bool maybe_paused_ = false;  // the exchange may have stopped reading its target
    bool reset_sent_ = false;
    bool client_reset_ = false;
    std::string early_;               // a WebSocket's DATA before its 200 (the window bounds it)
    std::unique_ptr<Stream> tunnel_;  // the target's connection after its 101
    std::shared_ptr<TargetState> tunnel_target_;
    Timer timer_;
};

}  // namespace lb
