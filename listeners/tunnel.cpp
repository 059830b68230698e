#include "listeners/tunnel.h"

#include "lb/base/log.h"

namespace lb {

TunnelSession::TunnelSession(Worker& worker, std::string listener_name, std::unique_ptr<Stream> client,
                             std::unique_ptr<Stream> upstream, ConnectionTicket ticket,
                             std::shared_ptr<TargetState> target, int64_t idle_timeout_ms)
    : Session(worker),
      listener_name_(std::move(listener_name)),
      ticket_(std::move(ticket)),
      target_(std::move(target)),
      idle_timeout_ms_(idle_timeout_ms),
      start_ms_(worker.loop().now_ms()),
      idle_timer_([this] { close(CloseMode::abort); }) {
    client_.stream = std::move(client);
    upstream_.stream = std::move(upstream);
    client_ip_ = client_.stream->peer().ip_string();
    client_port_ = client_.stream->peer().port();
    if (target_) target_->active_connections.fetch_add(1, std::memory_order_relaxed);
}

TunnelSession::~TunnelSession() {
    if (target_) target_->active_connections.fetch_sub(1, std::memory_order_relaxed);
}

void TunnelSession::start() {
    client_.stream->set_handler(this);
    upstream_.stream->set_handler(this);
    start_direction(client_, upstream_);
    start_direction(upstream_, client_);
    touch();
}

void TunnelSession::start_direction(Side& from, Side& to) {
    int source = from.stream->splice_source_fd();
    int sink = to.stream->splice_sink_fd();
    bool splice = source >= 0 && sink >= 0;
    LB_LOG_DEBUG("%s tunnel %s -> %s: %s", listener_name_.c_str(), from.stream->peer().to_string().c_str(),
                 to.stream->peer().to_string().c_str(), splice ? "spliced" : "copied");
    if (!splice) {
        from.stream->start_reading();
        return;
    }
    from.pump = SplicePump::start(worker_.loop(), source, sink, this);
    if (to.stream->pending_output() > 0) {
        // A PROXY header or replayed bytes go out first.
        from.pump->hold_output(true);
        to.stream->notify_when_flushed();
    }
}

void TunnelSession::touch() { worker_.loop().timers().schedule(idle_timer_, idle_timeout_ms_); }

void TunnelSession::on_stream_data(Stream& stream, std::string_view data) {
    if (closing_) return;
    Side& from = side_of(stream);
    Side& to = other_of(stream);
    from.bytes += data.size();
    to.stream->write(data);
    if (to.stream->output_high()) {
        from.paused = true;
        from.stream->stop_reading();
    }
    touch();
}

void TunnelSession::on_stream_eof(Stream& stream) {
    if (closing_) return;
    source_finished(side_of(stream), other_of(stream));
}

void TunnelSession::source_finished(Side& from, Side& to) {
    from.eof = true;
    to.stream->shutdown_write();  // FIN after what is queued
    if (client_.eof && upstream_.eof) close(CloseMode::graceful);
}

void TunnelSession::on_stream_error(Stream& stream, int) {
    // A reset on one side is passed on as a reset on the other.
    (void)stream;
    close(CloseMode::reset);
}

void TunnelSession::on_stream_drained(Stream& stream) {
    if (closing_) return;
    Side& from = other_of(stream);  // the side we paused because `stream` was full
    if (from.pump) {
        // What was queued before splicing must be out, not just below the
        // low-water mark, before spliced bytes follow it.
        if (stream.pending_output() == 0) from.pump->hold_output(false);
        else stream.notify_when_flushed();
    } else if (from.paused) {
        from.paused = false;
        from.stream->start_reading();
    }
}

void TunnelSession::on_pump_moved(SplicePump& pump, size_t bytes) {
    source_of(pump).bytes += bytes;
    touch();
}

void TunnelSession::on_pump_eof(SplicePump& pump) {
    Side& from = source_of(pump);
    SplicePump::stop(std::move(from.pump), false);
    source_finished(from, &from == &client_ ? upstream_ : client_);
}

void TunnelSession::on_pump_error(SplicePump&, int) { close(CloseMode::reset); }

void TunnelSession::on_pump_unavailable(SplicePump& pump) {
    // No pipe (descriptors ran out): this direction goes through the streams.
    Side& from = source_of(pump);
    SplicePump::stop(std::move(from.pump), false);
    from.stream->start_reading();
}

void TunnelSession::close(CloseMode mode) {
    if (closing_) return;
    closing_ = true;
    worker_.loop().timers().cancel(idle_timer_);
    AccessLogEntry entry;
    entry.listener = listener_name_;
    entry.client = client_ip_;
    entry.client_port = client_port_;
    entry.protocol = "tunnel";
    entry.host = log_host_;
    entry.bytes_in = client_.bytes;
    entry.bytes_out = upstream_.bytes;
    entry.duration_us = (worker_.loop().now_ms() - start_ms_) * 1000;
    std::string target = target_ ? target_->key : std::string();
    entry.target = target;
    entry.target_group = target_ ? std::string_view(target_->group) : std::string_view();
    entry.connect_us = connect_us_;
    entry.retries = retries_;
    worker_.access_log().record(entry);
    // A graceful close passes on what a pump has read, as far as the socket takes it.
    bool flush = mode == CloseMode::graceful;
    SplicePump::stop(std::move(client_.pump), flush);
    SplicePump::stop(std::move(upstream_.pump), flush);
    Stream::close(std::move(client_.stream), mode);
    Stream::close(std::move(upstream_.stream), mode);
    retire();
}

}  // namespace lb
