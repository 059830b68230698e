#include "listeners/tunnel_connect_session.h"

#include <cstring>

#include "lb/base/log.h"
#include "lb/worker/request_hash.h"
#include "listeners/proxy_protocol.h"
#include "listeners/tunnel.h"

namespace lb {

TunnelConnectSession::TunnelConnectSession(Worker& worker, const ListenerRuntime& listener,
                                           std::unique_ptr<Stream> client, ConnectionTicket ticket)
    : Session(worker),
      snapshot_(worker.snapshot()),
      listener_(&listener),
      client_(std::move(client)),
      ticket_(std::move(ticket)) {}

void TunnelConnectSession::connect(const TargetGroupRuntime& group) {
    attempts_.emplace(worker_.upstreams(), *snapshot_, group, request_hash(group.config, client_->peer(), nullptr, {}));
    connect_next();
}

void TunnelConnectSession::connect_next() {
    // A tunnel's first bytes are the client's, never a pooled request's.
    connect_start_us_ = worker_.loop().now_us();
    upstream_ = attempts_->next(this, UpstreamAttempts::Reuse::new_only);
    // No target (or all tried): like an NLB, the client sees a reset.
    if (!upstream_) close(CloseMode::reset);
}

void TunnelConnectSession::on_stream_connected(Stream& stream, int error) {
    if (closing_ || &stream != upstream_.get()) return;
    if (error != 0) {
        LB_LOG_DEBUG("%s connect to %s failed: %s", conf::to_string(listener_->config.protocol),
                     attempts_->target()->key.c_str(), strerror(-error));
        Stream::close(std::move(upstream_), CloseMode::abort);
        attempts_->failed(error);
        if (attempts_->retries_connects()) connect_next();
        else close(CloseMode::reset);
        return;
    }
    // The target learns who the client is before the client's first byte.
    upstream_->write(proxy_protocol::encode(listener_->config.proxy_protocol, client_->peer(), client_->local()));
    upstream_->write(replay());
    closing_ = true;
    auto* tunnel = new TunnelSession(worker_, listener_->config.name, std::move(client_), std::move(upstream_),
                                     std::move(ticket_), attempts_->target(), listener_->config.idle_timeout.count());
    tunnel->set_log_host(std::string(log_host()));
    tunnel->set_log_connect(worker_.loop().now_us() - connect_start_us_, attempts_->attempts() - 1);
    tunnel->start();
    retire();
}

void TunnelConnectSession::on_stream_eof(Stream& stream) {
    if (&stream == client_.get()) close(CloseMode::abort);
}

void TunnelConnectSession::on_stream_error(Stream& stream, int) {
    if (&stream == client_.get()) close(CloseMode::abort);
}

void TunnelConnectSession::close(CloseMode mode) {
    if (closing_) return;
    closing_ = true;
    Stream::close(std::move(upstream_), CloseMode::abort);
    Stream::close(std::move(client_), mode);
    retire();
}

}  // namespace lb
