// HttpExchange's spliced response bodies: once a Content-Length body has
// at least kSpliceBodyMin bytes still to come, and the target's and the
// client's connections are plain TCP with the codec passing the body on as
// it is (HTTP/1.1), the rest goes socket to socket with splice(2)
// (lb/io/splice_pump.h) instead of through the parser and two copies.
//
// The switch: the target's stream stops reading (pause_for_splice); once
// no receive is in flight, what it received meanwhile goes through the
// parser as before, and a pump limited to the body's remaining length
// takes over, holding its output until what the codec wrote (the head, the
// body's first bytes) is out. When the pump has moved the last byte the
// response is complete, as if the parser had said so; the target's
// connection goes back to the pool (bytes after the body, which the pump
// leaves in the socket, make the pool drop it, as before).
#include "listeners/http_exchange.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "lb/base/log.h"

namespace lb {

void HttpExchange::maybe_splice_body() {
    if (body_pump_ || body_pausing_ || phase_ != Phase::streaming || response_framing_ != BodyFraming::content_length ||
        body_left_ < kSpliceBodyMin || !upstream_ || !host_.splice_loop() || downstream_.body_splice_sink() < 0)
        return;
    if (upstream_->pause_for_splice()) body_pausing_ = true;
}

void HttpExchange::on_stream_paused(Stream& stream) {
    if (&stream != upstream_.get() || !body_pausing_) return;
    // Still "pausing" while the held bytes are parsed: no second pause.
    for (const std::string& piece : upstream_->take_held_input()) {
        on_stream_data(stream, piece);
        if (!upstream_) return;  // that was the end of it
    }
    body_pausing_ = false;
    if (!upstream_ || phase_ != Phase::streaming) return;  // that was the end of it
    start_body_pump();
}

void HttpExchange::start_body_pump() {
    int source = upstream_->splice_source_fd();
    int sink = downstream_.body_splice_sink();
    if (source < 0 || sink < 0 || body_left_ == 0) {
        // The target closed meanwhile, or the body ended: the ordinary way.
        // (A client that filled up in the meantime stops it again on the
        // next bytes; its drain may have come and gone while pausing.)
        upstream_->start_reading();
        return;
    }
    LB_LOG_DEBUG("response body from %s: the last %llu bytes spliced", attempts_->target()->key.c_str(),
                 static_cast<unsigned long long>(body_left_));
    body_pump_ = SplicePump::start(*host_.splice_loop(), source, sink, this, body_left_);
    if (!downstream_.body_output_flushed()) body_pump_->hold_output(true);
    schedule_upstream_timeout();
}

void HttpExchange::stop_body_pump() {
    body_pausing_ = false;
    SplicePump::stop(std::move(body_pump_), false);
}

void HttpExchange::on_pump_moved(SplicePump& pump, size_t bytes) {
    bytes_out_ += bytes;
    body_left_ -= std::min<uint64_t>(bytes, body_left_);
    // The clock of whoever is awaited, as on the copying path: the
    // client's (idle_timeout) while bytes wait for it, else the target's.
    if (pump.in_flight() > 0) host_.timers().schedule(upstream_timer_, listener_->config.idle_timeout.count());
    else schedule_upstream_timeout();
}

void HttpExchange::on_pump_eof(SplicePump&) {
    stop_body_pump();
    if (body_left_ > 0) {
        on_upstream_closed(false);  // the target closed before the body's end
        return;
    }
    // The parser would have seen bytes after the body in the same read; the
    // pump left them in the socket: look (a FIN there ends reuse too).
    bool nothing_after = false;
    if (int fd = upstream_->splice_source_fd(); fd >= 0) {
        char byte;
        nothing_after = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN;
    }
    on_response_complete();
    if (upstream_) release_upstream(upstream_reusable_ && nothing_after);
}

void HttpExchange::on_pump_error(SplicePump& pump, int) {
    bool client = pump.sink_failed();
    stop_body_pump();
    if (client) cut("client closed the connection mid-response");
    else on_upstream_closed(true);
}

void HttpExchange::on_pump_unavailable(SplicePump&) {
    // No pipe (descriptors ran out) before the first byte (a body's pump
    // keeps its pipe): the parser is in step, the rest goes the ordinary way.
    stop_body_pump();
    upstream_->start_reading();
}

}  // namespace lb
